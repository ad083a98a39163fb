# %% [markdown]
# # 06 · Beyond eva: the 2025 frontier curricula side by side, on one budget
#
# eva's creator is a fixed prompted model and its selection weighs prompts *after* sampling them. Since eva, three
# directions have appeared; evalab implements each as one named `EvaConfig` field (formulas and papers in
# `evalab/curricula.py`, `evalab/creator_training.py`, `evalab/dynamic_sampling.py`), and each is an arm of the
# same runner as notebook 04's reproduction (`evalab.reproduction.CURRICULA_ARMS`):
#
# | arm | what changes | from |
# | --- | --- | --- |
# | `eva` | nothing: A\*_min weights, weighted subset, a fixed creator | eva (arXiv 2411.00062) |
# | `eva+frontier` | evolved prompts whose step-6 pass rate is outside [0.2, 0.8] give no pair; variants with ROUGE-L > 0.7 against the pool are rejected | SeRL (arXiv 2505.20347) |
# | `thompson` | each prompt's pass rate has a discounted Beta posterior; a Thompson draw picks the prompts nearest p\* = 0.5 *before* sampling, the rest are not generated for | MoPPS (arXiv 2507.04632) |
# | `greso` | prompts with a run of zero-variance observations are skipped before sampling, with probability 1 − p_e^z | GRESO (arXiv 2506.02177) |
# | `band` | parents drawn uniformly among prompts whose mean reward is in [0.2, 0.8] | verl #2791 |
# | `creator=r_zero` | the creator takes GRPO steps before each evolution, rewarded 1 − 2\|p̂ − ½\| by the solver's pass rate | R-Zero (arXiv 2508.05004) |
# | `creator=informativeness` | the same, rewarded by eva's own A\*_min of the solver's N responses | eva's regret, made trainable |
# | `static` | X_t again, no creator | the fixed-set control |
#
# Online, `dynamic_sampling=True` (DAPO, arXiv 2503.14476) drops zero-spread groups inside TRL's GRPO/RLOO and
# refills the batch (`evalab.reproduction.run_online_arms(..., arms=("online-eva", "online-eva+dynamic"))`;
# notebook 05 runs online eva).
#
# **One budget** (`evalab.reproduction.BUDGET_RULE`): the same prompts × N × token cap per generation stage and at
# most `pairs_per_iteration` pairs per iteration. What differs is *counted*: rollouts generated, rollouts that
# prediction saved, the solver rollouts and seconds the trained creator spent, and rollouts per pair built.
#
# The full comparison is one resumable command (demo profile, 24 runs: 40,276 stage seconds measured at stop 27, i.e.
# 11.2 h in one lane or about 6 h in two lanes on 2 cores; see README "Beyond eva"):
#
#     python -m evalab reproduce --config configs/curricula.yaml --root runs/reproduction --out data/curricula.json
#
# This notebook renders `data/curricula.json` when it exists; otherwise it runs a small comparison of its own (the
# `arms` below, 1 seed) so every figure has data — at that size the differences are noise, and the printout says so.
#
# Headless: `papermill notebooks/06_curricula.ipynb out.ipynb -p profile ci -p run_dir runs/nb06`

# %% tags=["parameters"]
profile = "demo"            # "ci" | "demo" | "paper"
run_dir = "../runs/06_curricula"
curricula_json = ""         # a stored comparison; empty: ../data/curricula.json if present, else the runs below;
                            # runs: always the runs below (read back from their stores)
arms = []                   # arms of evalab.reproduction.REPRODUCTION_ARMS or groups; empty: the profile default
seeds = []                  # empty: the profile default
iterations = 0              # 0: the profile default (ci 2, demo 1; thompson's posterior needs a first iteration of
                            # observations, so at 1 iteration its choice is a draw from the prior)
overrides = None            # EvaConfig fields for every arm; None: the profile default below

# %%
from pathlib import Path

from IPython.display import display

from evalab import plots
from evalab.config import check_profile, profile_config
from evalab.reproduction import (grid_seeds, load_results, reproduction_arms, reproduction_results, run_reproduction,
                                 summary_table, summary_view, write_results)

check_profile(profile)
DEFAULTS = {  # the notebook's own small comparison; the full one is configs/curricula.yaml
    "ci": dict(arms=["eva", "thompson", "static"], seeds=[1], iterations=2, overrides={"n_eval": 8}),
    "demo": dict(arms=["eva", "thompson", "static"], seeds=[1], iterations=1,   # 1: README's first command stays short
                 overrides={"n_prompts": 12, "n_eval": 16}),
    "paper": dict(arms=["curricula"], seeds=[42, 43, 44], iterations=3, overrides={}),
}[profile]
source = Path(curricula_json or "../data/curricula.json")
if curricula_json == "runs" or not source.is_file():
    if curricula_json not in ("", "runs"):
        raise FileNotFoundError(f"curricula_json={curricula_json!r}: no such file")
    arm_map = reproduction_arms(arms or DEFAULTS["arms"])
    base = profile_config(profile, iterations=iterations or DEFAULTS["iterations"],
                          **(DEFAULTS["overrides"] if overrides is None else dict(overrides)))
    run_seeds = seeds or DEFAULTS["seeds"]
    print(f"no {source}: running {list(arm_map)} × seeds {run_seeds} × {base.iterations} iterations "
          f"({base.n_prompts} prompts, {base.n_eval} held-out) — a smoke-size comparison, its differences are noise")
    stores = run_reproduction(base, arm_map, run_seeds, run_dir, progress=False)
    results = reproduction_results(stores, base=base, arms=arm_map, n_boot=200 if profile == "ci" else 1000)
    source = write_results(Path(run_dir) / "curricula.json", results)
res = load_results(source)
curves, paired, per_seed, pass_rates = res["curves"], res["paired"], res["per_seed"], res["pass_rates"]
print(f"{source}: arms {list(dict.fromkeys(curves.arm))}, seeds {res['seeds']}, "
      f"iterations {sorted(set(curves.iteration))}")
print(f"budget (pairs_per_iteration={res['pairs_per_iteration']}):", res["budget_rule"])
if res.get("missing"):  # written by `reproduce --collect` mid-grid: these (arm, seed) runs are not in it yet
    print(f"PARTIAL: {len(res['missing'])} runs of the grid are not in this file yet:",
          ", ".join(f"{m['arm']}/seed{m['seed']}" for m in res["missing"]))

# %% [markdown]
# ## Which curriculum wins at equal compute?
# One row per arm at its last evaluated iteration: held-out fully-satisfied rate, the gain over θ0 and the paired
# difference with static and with eva (95% bootstrap CIs over seeds and held-out prompts; a CI that straddles 0 is
# no difference), then what the arm spent over its trained iterations (mean per seed): rollouts generated, rollouts
# prediction saved, the creator's solver rollouts and GRPO seconds, and rollouts per pair built.

# %%
display(summary_view(summary_table(res), seeds=grid_seeds(res)))

# %% [markdown]
# ## Curves per iteration
# Held-out scores, the informative share of X_t, the pairs trained on and the rollouts each pair built cost
# (mean over seeds, 95% bootstrap CI bands).

# %%
plots.fig_iteration_curves(curves, ["heldout_full", "heldout_frac", "informative_share", "n_pairs",
                                    "rollouts_per_pair", "train_reward"])

# %% [markdown]
# ## Where the training set sits: its pass-rate distribution
# For each arm and iteration, the prompts the pairs were built from, by the pass rate of their N responses under the
# solver that sampled them. All-fail (red) and all-pass (dark green) prompts give no pass/fail signal; a frontier
# curriculum moves mass into the middle.

# %%
plots.fig_pass_rate_distribution(pass_rates)

# %% [markdown]
# ## Each arm minus static, per iteration (paired by seed and held-out prompt)

# %%
import plotly.express as px

ps = paired[(paired.metric == "full") & (paired.vs == "static")]
px.line(ps, x="iteration", y="delta", color="arm", markers=True, error_y=ps.ci_high - ps.delta,
        error_y_minus=ps.delta - ps.ci_low, title="arm − static: held-out fully-satisfied rate (95% bootstrap CI)",
        labels={"delta": "Δ fully-satisfied rate"})

# %% [markdown]
# ## Per-seed rows
# Every (arm, seed, iteration) with its scores, tokens, pairs and costs — the rows `data/curricula.json` stores.

# %%
per_seed[["arm", "seed", "iteration", "heldout_full", "informative_share", "n_pairs", "gen_tokens", "rollouts",
          "rollouts_saved", "creator_rollouts", "creator_train_s", "frontier_drop_rate", "rollouts_per_pair"]]
