# %% [markdown]
# # 04 · Ablations: metric, sampling, evolution — eva vs baselines over seeds
#
# The paper's ablations ask which parts of eva matter: the informativeness **metric** (A\*_min vs mean
# reward, variance, …), the **sampling** of the informative subset (weighted vs greedy vs uniform), and
# **evolution** itself, against the paper's controls (`evalab.ablation.PROTOCOL_ARMS`):
#
# | arm | what it trains on each iteration | the paper's name |
# | --- | --- | --- |
# | `eva` | X_{t+1}: 80% creator variants of the informative subset + 20% buffer | eva |
# | `static` | X_t again (same prompts, same budget) | (a static baseline) |
# | `fresh` | unseen prompts of `pool_set`, same source and count, no evolution | + new human prompts |
# | `no_evolve-greedy` | the informative subset of X_t (top weights), not evolved | [no evolve] greedy |
# | `no_evolve-sampled` | the informative subset of X_t (weighted sampling), not evolved | [no evolve] sampled |
#
# The paper runs every arm after one warm-start DPO round on X_0 (θ0 → θ1): `warmup_round=True`, on in the
# paper profile and off in ci/demo; it is each run's iteration 0 (the `round` column of `summarize` says
# `warmup`), so eva's iterations are 1..k there; arms that share a seed share that round (it trains once per
# seed, event `warm_start_shared`). Each arm × seed is an ordinary run directory, run through the
# same loop, so the comparison is one-to-one and an interrupted ablation resumes where it stopped.
#
# Scores are the held-out fully-satisfied rate with 95% bootstrap confidence intervals over seeds and
# held-out prompts, plus the paired gain over each run's own iteration-0 solver (θ0; with a warm-start round
# the gain includes that round, the same in every arm).
#
# Headless: `papermill notebooks/04_ablations.ipynb out.ipynb -p profile ci -p run_dir runs/nb04`

# %% tags=["parameters"]
profile = "demo"            # "ci" | "demo" | "paper"
run_dir = "../runs/04_ablations"
seeds = []                  # empty: the profile default (ci 1 2, demo 1, paper 42 43 44)
arms = {}                   # empty: the profile default arms (below); else name to EvaConfig overrides,
                            # or a list of PROTOCOL_ARMS names, e.g. ["eva", "fresh", "no_evolve-greedy"]
iterations = 1
overrides = None            # EvaConfig fields for every arm; None: the profile default (demo: 24 training prompts,
                            # so the default grid fits README's first command; {} keeps the profile's 48)
reproduction_json = ""      # a stored reproduction (python -m evalab reproduce); "" = ../data/reproduction.json
                            # if present, else the runs above; "runs" = the runs above (read from their stores)
metrics_json = ""           # the stored metric ablation (configs/reproduction_metrics.yaml); "" =
                            # ../data/reproduction_metrics.json if present (else the section says how to make it)
regimes_root = ".."         # the regimes section reads evalab.reproduction.REGIMES' results files under this folder

# %%
import pandas as pd
import plotly.express as px

from evalab.ablation import PROTOCOL_ARMS, compare_arms, compare_to_baseline, per_seed_scores, resolve_arms, run_ablation
from evalab.config import check_profile, profile_config

check_profile(profile)  # an unknown profile: a ValueError naming it (not a KeyError below)

DEFAULT_ARMS = {
    "ci": {"eva": {}, "static": {"mode": "static"}},
    # demo: the smallest comparison (README's first command runs it in minutes); the protocol arms over 3 seeds
    # and 3 iterations are `python -m evalab reproduce --config configs/reproduction.yaml` (hours)
    "demo": {"eva": {}, "static": {"mode": "static"}},
    "paper": {**PROTOCOL_ARMS, "sampling=uniform": {"sampling": "uniform"}, "sampling=greedy": {"sampling": "greedy"},
              "metric=a_avg": {"metric": "a_avg"}, "metric=var": {"metric": "var"}, "metric=avg": {"metric": "avg"},
              "metric=inv_a_min": {"metric": "inv_a_min"}},
}
arms = resolve_arms(arms or DEFAULT_ARMS[profile])
seeds = seeds or {"ci": [1, 2], "demo": [1], "paper": [42, 43, 44]}[profile]
overrides = {"ci": {}, "demo": {"n_prompts": 24}, "paper": {}}[profile] if overrides is None else dict(overrides)
base = profile_config(profile, iterations=iterations, **overrides)
print(f"{len(arms)} arms × {len(seeds)} seeds × {iterations} iteration(s), warm-start round: {base.warmup_round}:",
      list(arms))

# %% [markdown]
# ## What the stored results say, in one table
# Before this notebook runs anything: every comparison the shipped results files report (`data/*.json`, listed in
# `evalab.findings.FINDINGS`), each design's arm minus its control at its last evaluated iteration, paired by seed
# and prompt with a 95% bootstrap CI. The sections below render each design in full. A single CI that excludes 0
# among this many comparisons is what chance gives about once in twenty: read it as a lead to re-test.

# %%
from IPython.display import Markdown, display

from evalab.findings import findings_counts, findings_markdown_table, findings_table
from evalab.plots import fig_findings

findings = findings_table(regimes_root)
print("comparisons, and how many of them are ahead, behind, or include 0:", findings_counts(findings))
display(Markdown(findings_markdown_table(findings)))
fig_findings(findings)

# %%
stores = run_ablation(base, arms, seeds, run_dir)
assert all(len(v) == len(seeds) for v in stores.values())

# %% [markdown]
# ## Held-out score per arm
# `full` = fraction of held-out prompts with every constraint satisfied; `gain` = paired change against the
# same run's iteration-0 solver (identical across arms, since all arms start from the same θ₀).

# %%
table = compare_arms(stores, metric="full")
table

# %%
fig = px.bar(table, x="arm", y="gain", error_y=table.gain_ci_high - table.gain,
             error_y_minus=table.gain - table.gain_ci_low,
             title="Gain in held-out fully-satisfied rate over θ₀ (95% bootstrap CI)",
             labels={"gain": "Δ fully-satisfied rate (fraction of prompts)", "arm": "arm"})
fig

# %%
frac = compare_arms(stores, metric="frac")
px.bar(frac, x="arm", y="frac", error_y=frac.ci_high - frac.frac, error_y_minus=frac.frac - frac.ci_low,
       title="Held-out fraction of constraints satisfied after training (95% CI)",
       labels={"frac": "constraints satisfied (fraction)", "arm": "arm"})

# %% [markdown]
# ## Each arm against the static baseline, paired
# The same seed and the same held-out prompt in two arms make a pair; the interval is the bootstrap over
# seeds and prompts of the paired difference, and `p_better` the share of resamples in which the arm wins.
# θ₀'s held-out report is computed once per ablation and shared by every run (`shared_from` in its eval).

# %%
vs_static = compare_to_baseline(stores, baseline="static") if "static" in stores else pd.DataFrame()
vs_static

# %% [markdown]
# The paper's headline control is `fresh`: does eva beat training on as many *new* prompts of the same source?

# %%
vs_fresh = compare_to_baseline(stores, baseline="fresh") if "fresh" in stores else pd.DataFrame()
vs_fresh

# %% [markdown]
# ## Per seed
# Every (arm, seed) cell, so a single lucky seed cannot hide in the mean.

# %%
per_seed = per_seed_scores(stores, "full")
assert per_seed.groupby("arm").seed.nunique().eq(len(seeds)).all()
px.strip(per_seed[per_seed.iteration == per_seed.iteration.max()], x="arm", y="full", color="seed",
         title="Final held-out fully-satisfied rate, one dot per seed",
         labels={"full": "fully-satisfied rate (fraction)"})

# %% [markdown]
# ## What the creator did in each arm
# Informativeness of the training prompts (mean A\*_min of X_{t+1} under θ_t) and the creator's acceptance
# rate. eva's claim is that evolved prompts stay informative; the static baseline's informativeness can
# only fall as the solver learns its fixed prompts. (The warm-start round, shared by every arm, is left out.)

# %%
from evalab.loop import summarize

summ = pd.concat([summarize(st).assign(arm=arm, seed=s) for arm, runs in stores.items()
                  for s, st in zip(seeds, runs)], ignore_index=True)
cols = [c for c in ("weight_mean", "frac_informative", "acceptance", "n_pairs") if c in summ]
summ[~summ["round"].isin(["warmup", "final"])].groupby("arm")[cols].mean()

# %% [markdown]
# ## The multi-iteration reproduction: curves per iteration under one budget
# Issue 11's question: as the solver learns a fixed set, its prompts turn all-pass or all-fail, the informative
# share and the pairs shrink and learning stalls; does the creator keep that share up, and does it show on held-out
# prompts? `python -m evalab reproduce --config configs/reproduction.yaml --root runs/reproduction --out
# data/reproduction.json` runs the grid (arms × seeds × iterations; `evalab.reproduction`) and stores every
# table below; this section renders that file, or, without one, the arms this notebook just ran, read back from
# their run stores. Every band is a 95% bootstrap CI over seeds and, within a seed, prompts.

# %%
from pathlib import Path

from evalab import plots
from evalab.reproduction import load_results, reproduction_results, results_status, write_results

source = Path(reproduction_json or "../data/reproduction.json")
if reproduction_json == "runs" or not source.is_file():
    if reproduction_json not in ("", "runs"):
        raise FileNotFoundError(f"reproduction_json={reproduction_json!r}: no such file")
    source = write_results(Path(run_dir) / "reproduction.json",
                           reproduction_results(stores, base=base, arms=arms, n_boot=200 if profile == "ci" else 2000))
rep = load_results(source)
curves, paired, normalised = rep["curves"], rep["paired"], rep["normalised"]
print(results_status(rep, source))
print(f"budget (pairs_per_iteration={rep['pairs_per_iteration']}):", rep["budget_rule"])

# %%
plots.fig_iteration_curves(curves, ["heldout_full", "heldout_frac", "informative_share", "n_pairs", "train_reward",
                                    "gen_tokens"])

# %% [markdown]
# What the fixed set does to the signal: the all-fail / all-pass / mixed shares of each iteration's prompt set
# under the solver entering it, and how the prompts drift (length, constraints per prompt).

# %%
plots.fig_iteration_curves(curves, ["all_fail", "all_pass", "mixed", "prompt_chars", "n_constraints"])

# %% [markdown]
# ## eva minus each control, per iteration (paired by seed and held-out prompt)
# Iteration 0 is θ0 in every arm (difference 0 by construction); a CI that straddles 0 is no difference.

# %%
pf = paired[(paired.metric == "full") & (paired.arm == "eva")]
px.line(pf, x="iteration", y="delta", color="vs", markers=True, error_y=pf.ci_high - pf.delta,
        error_y_minus=pf.delta - pf.ci_low,
        title="eva − control: held-out fully-satisfied rate (95% bootstrap CI)",
        labels={"delta": "Δ fully-satisfied rate", "vs": "control"})

# %%
paired[paired.arm == "eva"]

# %% [markdown]
# The same as the README's tables: each arm's held-out fully-satisfied rate per iteration, then eva minus each
# control, with the paper's ordering as the last row for reference (orderings, not its numbers; "—" where the paper
# reports no such comparison).

# %%
from IPython.display import Markdown, display

from evalab.reproduction import PAPER_ORDERING, markdown_tables

display(Markdown(markdown_tables(rep, reference=PAPER_ORDERING)))

# %% [markdown]
# ## Compute-normalised gains
# Held-out gain over θ0 per million solver tokens generated and per training pair, spent in iterations 0..t-1
# (the budget rule above fixes the pairs per iteration; tokens differ by arm and are what was actually generated).

# %%
normalised

# %% [markdown]
# ## The metric ablation: which informativeness signal should pick the prompts to evolve?
# eva's A\*_min (max − min reward) against A\*_avg (max − mean), the reward variance, the mean reward (favours
# prompts the solver already does well on), its inverse (favours hard prompts), 1/A\*_min (favours the *least*
# informative prompts) and uniform weights, on the same grid and budget as above (`python -m evalab reproduce
# --config configs/reproduction_metrics.yaml`, its own file `data/reproduction_metrics.json`). The paper reports
# A\*_min ahead of the others; the table is eva minus each metric arm, paired by seed and held-out prompt.

# %%
from IPython.display import Markdown, display

from evalab.reproduction import markdown_tables

metrics_source = Path(metrics_json or "../data/reproduction_metrics.json")
if metrics_source.is_file():
    met = load_results(metrics_source)
    print(results_status(met, metrics_source))
    display(Markdown(markdown_tables(met)))
    display(plots.fig_iteration_curves(met["curves"], ["heldout_full", "heldout_frac", "informative_share", "all_fail",
                                                       "n_pairs", "n_constraints"],
                                       title="The metric ablation: per-iteration curves (mean over seeds, 95% CI)"))
elif metrics_json:
    raise FileNotFoundError(f"metrics_json={metrics_json!r}: no such file")
else:
    print(f"No metric ablation stored at {metrics_source}: `python -m evalab reproduce --config "
          "configs/reproduction_metrics.yaml` runs it (resumable; a metric arm is 3 runs of 23-37 min on 2 cores, "
          "about 1 h in two lanes).")

# %% [markdown]
# ### A\*_avg's lead, re-tested and then confirmed or not on seeds 4–9
# The metric ablation's one lead at t = 3, A\*_avg ahead of A\*_min, was re-tested on seeds 4–5
# (`configs/replication_a_avg.yaml`) and then given a stated confirmation (`configs/replication_a_avg_confirm.yaml`,
# `data/replication_a_avg_confirm.json`): primary, metric=a_avg − eva at t = 3 on seeds 4–9, the seeds the lead was
# not found on. Below: that file's tables, metric=a_avg − eva by seed group (digests pooled with `runs_results`), and
# each of the nine seeds at t = 3.

# %%
from evalab.plots import fig_seed_deltas
from evalab.reproduction import merged_digests, paired_delta, runs_results, seed_deltas, seed_split_markdown_table

a_avg_file = Path(regimes_root) / "data" / "replication_a_avg_confirm.json"
a_avg_dirs = [Path(regimes_root) / "data" / "digests" / d for d in
              ("reproduction", "replication_a_avg", "reproduction_seeds", "replication_a_avg_confirm")]
if a_avg_file.is_file() and all(d.is_dir() for d in a_avg_dirs):
    a_avg = load_results(a_avg_file)
    print(results_status(a_avg, a_avg_file))
    display(Markdown(markdown_tables(a_avg, arms=["eva", "metric=a_avg"])))
    nine_metric = merged_digests(a_avg_dirs, ["eva", "metric=a_avg"])

    def seeds_of(seeds):
        return {a: [r for r in rs if int(r.config.seed) in seeds] for a, rs in nine_metric.items()}

    parts = {"1–3 (the lead found)": runs_results(seeds_of({1, 2, 3})),
             "4–5 (the re-test)": runs_results(seeds_of({4, 5})), "6–9 (new)": runs_results(seeds_of({6, 7, 8, 9})),
             "4–9 (primary)": a_avg, "1–9 (pooled)": runs_results(nine_metric)}
    display(Markdown(seed_split_markdown_table(parts, arm="metric=a_avg", vs="eva")))
    display(fig_seed_deltas(seed_deltas(nine_metric, arm="metric=a_avg", vs="eva", t=3),
                            label="metric=a_avg − eva at t = 3",
                            overall=paired_delta(a_avg["paired"], "metric=a_avg", "eva", "full", 3)))
else:
    print(f"A*_avg confirmation: {a_avg_file} or its digests are not there; `python -m evalab reproduce --config "
          "configs/replication_a_avg_confirm.yaml` makes them")

# %% [markdown]
# ## Regimes: eva against static under one lever each
# Where would the paper's effect show? Each regime is its own grid of eva and static (3 seeds × 3 iterations; 6 for
# the small set, 5 for lr ×5 with 3 epochs; the same 120 held-out prompts), changing one lever of the standard grid above
# (`evalab.reproduction.REGIMES`): the **easy seed set** (`configs/regime_easy.yaml`: X₀ of one easy constraint
# each, where a fixed set could saturate), **all pairs** (`configs/regime_all_pairs.yaml`: `pairs_per_iteration=0`,
# each arm trains on every pair it builds, so eva's extra pairs count), the **small set**
# (`configs/regime_small_set.yaml`: 16 prompts over 6 iterations, so a fixed set is trained on again and again) and
# **lr ×5** (`configs/regime_high_lr.yaml`: DPO at lr 1e-4, picked on the training set by the recipe pilot below) and
# **lr ×5, 3 epochs** (`configs/regime_high_lr_ep3.yaml`: the pilot's strongest recipe, three times the DPO steps)
# and the **large set** (`configs/regime_large_set.yaml`: 96 prompts with ≤ 48 pairs per iteration, twice the
# standard grid's set and budget).
# The table is eva − static paired by seed and prompt, with what each arm trained on in the iteration before; a
# regime whose file is not there yet is left out, and one whose file lists runs still `missing` is paired over the
# seeds both arms finished.

# %%
from evalab.reproduction import REGIMES, load_regimes, regime_curves, regime_markdown_table

regimes = load_regimes(regimes_root)
print("regimes stored:", list(regimes), "| not yet run:", [r for r in REGIMES if r not in regimes])
if regimes:
    display(Markdown(regime_markdown_table(regimes)))
    display(plots.fig_iteration_curves(regime_curves(regimes), ["heldout_full", "informative_share", "all_fail",
                                                                "n_pairs", "train_reward", "n_constraints"],
                                       title="Regimes: eva and static per iteration (mean over seeds, 95% CI)"))

# %% [markdown]
# All the designs together: eva − static at each regime's last iteration and the equal-weight mean over the regimes
# with digests (`pooled_regime_delta`; a summary after the fact, not a pre-stated test). The bootstrap resamples the
# shared held-out prompts once for every regime and seed, and each regime's seeds on their own.

# %%
from evalab.reproduction import REGIME_DIGESTS, pooled_markdown_table, pooled_regime_delta

all_regime_digests = all((Path(regimes_root) / d).is_dir() for d in REGIME_DIGESTS.values())  # also for seed_power
if all_regime_digests:
    display(Markdown(pooled_markdown_table(pooled_regime_delta(regimes_root))))
else:
    print(f"pooled: the regimes' digests are not all under {regimes_root!r}")

# %% [markdown]
# How many seeds would one design need? The seed-to-seed spread of eva − static in those regimes, pooled
# (`seed_power`): the projected 95% CI half-width with k seeds per arm, and the smallest true difference such a CI
# would exclude 0 for 80% of the time. At k = 3 it should be about what the regimes measured (printed below it).

# %%
from evalab.reproduction import seed_power, seed_power_markdown_table

if all_regime_digests:
    power = seed_power(regimes_root)
    display(Markdown(seed_power_markdown_table(power)))
    print(f"measured at 3 seeds (mean over the regimes): ±{power.attrs['observed_half_width']:.3f}")

# %% [markdown]
# ## Nine seeds for the standard design
# The standard grid's eva − static again, on 9 seeds per arm instead of 3 (`python -m evalab reproduce --config
# configs/reproduction_seeds.yaml`, `data/reproduction_seeds.json`: the same design, seeds 1–3 and eva's seeds 4–5
# reused from their digests, `evalab.reproduction.STANDARD_ALL_SEEDS`). The analysis was stated before the new
# runs: eva − static at t = 3. Below: the file's tables, the seeds first run beside the seeds added, and each seed's
# own difference (`seed_deltas`) against the estimate over all of them.

# %%
from evalab.plots import fig_seed_deltas
from evalab.reproduction import (STANDARD_ALL_SEEDS, merged_digests, paired_delta, runs_results, seed_deltas,
                                 seed_split_markdown_table)

seeds_file = Path(regimes_root) / "data" / "reproduction_seeds.json"
if seeds_file.is_file() and all((Path(regimes_root) / d).is_dir() for d in STANDARD_ALL_SEEDS):
    nine = load_results(seeds_file)
    print(results_status(nine, seeds_file))
    display(Markdown(markdown_tables(nine, arms=["eva", "static"])))
    first = load_results(Path(regimes_root) / "data" / "reproduction.json")
    nine_runs = merged_digests([Path(regimes_root) / d for d in STANDARD_ALL_SEEDS], ["eva", "static"])
    first_seeds = {int(s) for s in first["per_seed"].seed}  # the added seeds: the rest, read once with the others
    added = runs_results({a: [r for r in rs if int(r.config.seed) not in first_seeds] for a, rs in nine_runs.items()})

    def seed_range(res):
        s = sorted(set(res["per_seed"].seed))
        return f"{s[0]}–{s[-1]}"

    display(Markdown(seed_split_markdown_table({f"{seed_range(r)}{tag}": r for r, tag in
                                                ((first, " (first run)"), (added, " (added)"), (nine, " (all)"))})))
    display(fig_seed_deltas(seed_deltas(nine_runs), overall=paired_delta(nine["paired"], "eva", "static", "full",
                                                                          int(nine["paired"].iteration.max()))))
else:
    print(f"nine seeds: {seeds_file} or the digests it reuses are not there; `python -m evalab reproduce "
          "--config configs/reproduction_seeds.yaml` makes them")

# %% [markdown]
# ## Eight iterations at 48 prompts
# The standard design run on to t = 8: eva and static on seeds 6–8 (`python -m evalab reproduce --config
# configs/reproduction_long.yaml`, `data/reproduction_long.json`; t = 0–3 are the nine-seed grid's runs, extended).
# Stated before iteration 4 ran: eva − static at t = 8; each arm's change since t = 3 (`change_table`), and whether
# static's fixed set saturates: its all-pass share up, its informative share and the pairs it builds down toward the
# budget of 24 (`n_pairs_built` in the per-seed rows).

# %%
from evalab.digest import load_digests
from evalab.reproduction import change_markdown_table, change_table, per_seed_range_table

long_file = Path(regimes_root) / "data" / "reproduction_long.json"
long_digests = Path(regimes_root) / "data" / "digests" / "reproduction_long"
if long_file.is_file() and long_digests.is_dir():
    long = load_results(long_file)
    print(results_status(long, long_file))
    display(Markdown(markdown_tables(long, arms=["eva", "static"])))
    display(Markdown(change_markdown_table(change_table(load_digests(long_digests, arms=["eva", "static"]),
                                                        since=3))))
    display(plots.fig_iteration_curves(long["curves"], ["heldout_full", "informative_share", "all_pass", "all_fail",
                                                        "n_pairs", "n_constraints"],
                                       title="Eight iterations at 48 prompts: eva and static (mean, 95% CI)"))
    display(Markdown(per_seed_range_table(long, "n_pairs_built", ["eva", "static"])))
else:
    print(f"eight iterations: {long_file} or {long_digests} is not there; `python -m evalab reproduce --config "
          "configs/reproduction_long.yaml` makes them")

# %% [markdown]
# ### The confirmation on seeds 4, 5, 9
# The same eight-iteration design on three other seeds (`python -m evalab reproduce --config
# configs/reproduction_long_confirm.yaml`, `data/reproduction_long_confirm.json`), its analysis stated before it
# ran: primary, eva − static at t = 8 on those seeds alone (it confirms the lead if its CI excludes 0 in eva's
# favour); secondary, the six seeds pooled. Below: its tables, the lead's seeds beside the confirmation's and all six
# (`seed_split_markdown_table`), the six seeds' change since t = 3, and each seed's difference at t = 8.

# %%
confirm_file = Path(regimes_root) / "data" / "reproduction_long_confirm.json"
confirm_digests = Path(regimes_root) / "data" / "digests" / "reproduction_long_confirm"
if confirm_file.is_file() and confirm_digests.is_dir() and long_file.is_file() and long_digests.is_dir():
    confirm = load_results(confirm_file)
    print(results_status(confirm, confirm_file))
    display(Markdown(markdown_tables(confirm, arms=["eva", "static"])))
    six_runs = merged_digests([long_digests, confirm_digests], ["eva", "static"])
    six = runs_results(six_runs)
    display(Markdown(seed_split_markdown_table({"6–8 (the lead)": long, "4, 5, 9 (the confirmation)": confirm,
                                                "4–9 (pooled)": six})))
    display(Markdown(change_markdown_table(change_table(six_runs, since=3))))
    display(fig_seed_deltas(seed_deltas(six_runs, t=8), label="eva − static at t = 8",
                            overall=paired_delta(six["paired"], "eva", "static", "full", 8)))
else:
    print(f"confirmation: {confirm_file} or the digests are not there; `python -m evalab reproduce --config "
          "configs/reproduction_long_confirm.yaml` makes them")

# %% [markdown]
# What a lever does to each arm on its own: the arm's held-out score under the lever minus the same arm's in the
# standard grid, paired by seed and held-out prompt from the two grids' digests in `data/digests/`
# (`evalab.reproduction.lever_table`; only regimes whose runs left digests, `REGIME_DIGESTS`).

# %%
from evalab.reproduction import REGIME_DIGESTS, lever_markdown_table, lever_table

for lever in [r for r in REGIME_DIGESTS if r != "standard"]:
    if all((Path(regimes_root) / REGIME_DIGESTS[r]).is_dir() for r in (lever, "standard")):
        display(Markdown(f"**{lever}** (share of resamples ahead in parentheses)\n\n"
                         + lever_markdown_table(lever_table(regimes_root, lever))))
    else:
        print(f"lever {lever!r}: its digests or the standard grid's are not under {regimes_root!r}")

# %% [markdown]
# Does one arm hold its level while the other falls? The paper's mechanism predicts that a fixed set, once learned,
# stops teaching, so static's held-out score should stall or fall after the first rounds while eva's keeps its level.
# Per regime with digests: each arm's score at t minus its own at t = 1, paired by seed and prompt, and eva's change
# minus static's (a difference in differences: (eva − static) at t minus at t = 1;
# `evalab.reproduction.change_table`).

# %%
from evalab.digest import load_digests
from evalab.reproduction import change_markdown_table, change_table

for regime, d in REGIME_DIGESTS.items():
    if (Path(regimes_root) / d).is_dir():
        display(Markdown(f"**{regime}** (share of resamples above 0 in parentheses)\n\n"
                         + change_markdown_table(change_table(load_digests(Path(regimes_root) / d,
                                                                          arms=["eva", "static"])))))
    else:
        print(f"regime {regime!r}: its digests are not under {regimes_root!r}")

# %% [markdown]
# The creator's side of seed difficulty: in the 3-epoch regime eva's creator, which only adds or tightens
# constraints, made the set harder than the 135M solver's frontier. Arm `aim=frontier` (`configs/aim_frontier.yaml`)
# is eva with `creator_aim="frontier"`: a selected prompt whose step-1 pass rate is below 0.5 gets `relax` (a
# constraint dropped, or the only one loosened) wherever its chain drew a constraint operator; the others are
# evolved the paper's way. eva and static are that regime's runs (5 iterations, not rerun). Held-out
# scores and differences (paired by seed and prompt), the per-arm summary at t = 3, then the training sets.

# %%
from evalab.reproduction import (curricula_markdown_table, markdown_tables, paired_markdown_table,
                                 quantity_markdown_table)

aim_file = Path(regimes_root) / "data" / "aim_frontier.json"
if aim_file.exists():
    aim = load_results(aim_file)
    aim_arms = ["eva", "aim=frontier", "static"]
    display(Markdown(markdown_tables(aim, arms=aim_arms)))
    display(Markdown(paired_markdown_table(aim, "aim=frontier")))
    display(Markdown(curricula_markdown_table(aim)))
    display(Markdown(quantity_markdown_table(aim, ["informative_share", "mixed", "all_fail", "all_pass",
                                                   "n_constraints", "prompt_chars"], aim_arms)))
    display(plots.fig_iteration_curves(aim["curves"], ["heldout_full", "informative_share", "all_fail",
                                                       "n_constraints"], cols=2,
                                       title="Creator aimed at the frontier: per-iteration curves (mean over seeds, "
                                             "95% CI)"))
else:
    print(f"aim=frontier: {aim_file} is not there (python -m evalab reproduce --config configs/aim_frontier.yaml)")

# %% [markdown]
# Where did the aim's overshoot come from? Follow each evolved prompt of X_{t+1} back to the selected prompt its
# chain started from (its root) and ask how the child fared at t + 1 (`offspring_outcomes`, from the digests; a
# bootstrap over roots). A second arm, `aim=frontier@0.25` (`configs/aim_frontier_gentle.yaml`), eases only
# all-fail roots (0 passes of 4): the first aim also eased roots at 1 pass of 4, whose children went all-pass.

# %%
from evalab.reproduction import offspring_markdown_table, offspring_outcomes, paired_differences

ep3_digests = Path(regimes_root) / "data" / "digests" / "regime_high_lr_ep3"
if ep3_digests.is_dir():
    offspring = offspring_outcomes(load_digests(ep3_digests, arms=["eva", "aim=frontier", "aim=frontier@0.25"]))
    display(Markdown(offspring_markdown_table(offspring)))
    display(plots.fig_offspring(offspring))
else:
    print(f"offspring: the 3-epoch digests are not under {regimes_root!r}")

gentle_file = Path(regimes_root) / "data" / "aim_frontier_gentle.json"
if gentle_file.exists():
    gentle = load_results(gentle_file)
    gentle_arms = ["eva", "aim=frontier@0.25", "aim=frontier", "static"]
    display(Markdown(markdown_tables(gentle, arms=gentle_arms)))
    display(Markdown(paired_markdown_table(gentle, "aim=frontier@0.25")))
    if ep3_digests.is_dir():  # the two aims against each other, paired by seed and prompt from their digests
        two_aims = load_digests(ep3_digests, arms=["aim=frontier@0.25", "aim=frontier"])
        display(paired_differences(two_aims, arm="aim=frontier@0.25", baselines=["aim=frontier"], n_boot=2000)
                .query("iteration > 0").round(3))
    display(Markdown(quantity_markdown_table(gentle, ["informative_share", "mixed", "all_fail", "all_pass",
                                                      "n_constraints"], gentle_arms)))
    display(plots.fig_iteration_curves(gentle["curves"], ["heldout_full", "mixed", "all_pass", "n_constraints"],
                                       cols=2, title="A gentler aim: per-iteration curves (mean over seeds, 95% CI)"))
else:
    print(f"aim=frontier@0.25: {gentle_file} is not there "
          "(python -m evalab reproduce --config configs/aim_frontier_gentle.yaml)")

# %% [markdown]
# How the learning-rate lever was picked: on the training set, never on the held-out prompts. Static on the first 16
# seed prompts for 3 iterations under four recipes, 3 seeds each (`evalab.reproduction.RECIPE_PILOTS`, digests in
# `data/digests/recipe_pilot/`): does any recipe make the solver learn its own fixed set, the precondition for that
# set to saturate? The pass rate is the share of a prompt's N samples that satisfy every constraint, measured on
# θ_t's samples before round t; t = 0 is θ₀ for every recipe.

# %%
from evalab.reproduction import RECIPE_PILOTS, recipe_pilot_markdown_table, recipe_pilot_table

if all((Path(regimes_root) / d).is_dir() for d in RECIPE_PILOTS.values()):
    pilot = recipe_pilot_table(regimes_root)
    display(Markdown(recipe_pilot_markdown_table(pilot, "pass_rate")))
    display(plots.fig_iteration_curves(pilot.rename(columns={"recipe": "arm"}), ["pass_rate", "train_reward",
                                                                                   "all_fail", "all_pass"], cols=2,
                                       title="Recipe pilot: static's own training set per recipe (mean over seeds, "
                                             "95% CI)"))
else:
    print(f"recipe pilot: its digests are not under {regimes_root!r}")
