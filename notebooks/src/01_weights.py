# %% [markdown]
# # 01 · Informativeness weights: which prompts can still teach the solver?
#
# eva (Ye et al. 2024, *Evolving Alignment via Asymmetric Self-Play*) keeps changing the prompt set so it
# stays informative for the solver. This notebook runs **one creator step** of eva on the embedded default
# (SmolLM2-135M-Instruct on CPU, verifiable instruction-following prompts) and looks closely at its heart:
# the informativeness weight of a prompt.
#
# 1. sample N responses per prompt from the solver and score them (reward = constraint satisfaction);
# 2. weigh each prompt by the reward spread of its samples, `w(x) = max r − min r` (A*_min);
# 3. sample an informative subset ∝ w;
# 4. let a creator LLM evolve the selected prompts in chains of k steps (and reject bad steps, with reasons);
# 5. mix evolved prompts with a buffer of old ones into the next prompt set.
#
# Run it headless: `papermill notebooks/01_weights.ipynb out.ipynb -p profile ci -p run_dir runs/nb01`
# (profiles: `ci` tiny, `demo` default, `paper` full scale).

# %% tags=["parameters"]
profile = "demo"          # "ci" (tiny, for tests) | "demo" (CPU, minutes) | "paper" (full scale)
run_dir = "../runs/01_weights"
overrides = {}            # any EvaConfig field, e.g. {"metric": "a_avg", "creator": "gemini/gemini-1.5-pro"}

# %%
import numpy as np
import pandas as pd
import plotly.express as px

import evalab
from evalab.config import profile_config
from evalab.loop import EvaRun

# One creator step on X_0: no warm-start round here (the paper profile has one before eva's first iteration).
cfg = profile_config(profile, run_dir=run_dir, **{"warmup_round": False, **overrides})
run = EvaRun(cfg)
X0 = run.prompts(0)
print(f"profile={profile}: {len(X0)} prompts, N={cfg.n_responses} responses each, metric={cfg.metric}")
X0[0].text

# %% [markdown]
# ## 1 · Sample N responses and score them
# Every prompt carries machine-checkable constraints (word limits, keywords, case, format …). The reward of a
# response is the fraction of constraints it satisfies (with a small partial-credit term that breaks ties), so
# no reward model is needed and progress is measurable.

# %%
run.run_stage(0, "responses")
responses = run.store.read_table(0, "responses")
first = responses[responses.prompt_id == X0[0].id]
first[["sample", "reward", "response"]]

# %%
assert responses.groupby("prompt_id").size().eq(cfg.n_responses).all()
assert responses.reward.between(0, 1).all()
px.histogram(responses, x="reward", nbins=20, title="Rewards of all sampled responses",
             labels={"reward": "reward (fraction of constraints satisfied)"})

# %% [markdown]
# ## 2 · Informativeness weights
# With the sorted rewards r₍₁₎ ≥ … ≥ r₍N₎ of one prompt, eva's default weight is **A\*_min = r₍₁₎ − r₍N₎**:
# a prompt where the solver sometimes succeeds and sometimes fails carries a preference signal (best vs
# worst); a prompt it always solves — or always fails — carries none. The paper also ablates max − mean
# (A\*_avg), max − second max (A\*_dts), the variance, the mean, and inverses. `evalab.informativeness`
# computes every one of them from the same (prompts × N) reward matrix.

# %%
run.run_stage(0, "weights")
weights = run.store.read_table(0, "weights")
weights[["prompt_id", "weight", "a_min", "a_avg", "a_dts", "var", "avg", "reward_mean"]].head(8)

# %%
r = responses.pivot(index="prompt_id", columns="sample", values="reward").loc[weights.prompt_id].to_numpy()
assert np.allclose(evalab.informativeness(r, "a_min"), weights.a_min)
print(f"{(weights.a_min == 0).mean():.0%} of prompts have zero spread: no pair, no signal")
long = weights.melt(id_vars="prompt_id", value_vars=["a_min", "a_avg", "a_dts", "var", "avg"],
                    var_name="metric", value_name="w")
px.histogram(long, x="w", facet_col="metric", nbins=15, title="Distribution of each informativeness metric",
             labels={"w": "weight (reward units)"})

# %% [markdown]
# Do the metrics agree? Spearman rank correlation between metrics over the same prompts: spread metrics
# (A\*_min, A\*_avg, var) rank prompts alike; the mean reward ranks them very differently — selecting by
# `avg` prefers prompts the solver already solves, which the paper found to hurt.

# %%
cols = ["a_min", "a_avg", "a_dts", "var", "avg", "inv_avg"]
rank_corr = weights[cols].rank().corr()
px.imshow(rank_corr, text_auto=".2f", zmin=-1, zmax=1, color_continuous_scale="RdBu",
          title="Rank agreement between metrics (Spearman ρ)")

# %% [markdown]
# ## 3 · Sample the informative subset
# eva samples a fraction of the prompts (25% in the paper) **with probability ∝ w**, without replacement;
# `greedy` takes the top-k, `uniform` ignores the weights entirely (the paper's uniform baseline) and `band`
# samples uniformly among prompts whose mean reward lies in [`band_low`, `band_high`]. Sampling needs weights
# ≥ 0: `evalab.informativeness.sampling_weights` maps every metric to such weights, also for reward-model
# logits of any sign (its docstring gives the mapping; on [0, 1] rewards it changes nothing).
# Which prompts would each metric select?

# %%
from evalab.informativeness import sampling_weights

k_frac = cfg.subset_fraction
picks = {m: set(weights.prompt_id.iloc[evalab.sample_subset(sampling_weights(r, m), k_frac, "greedy")])
         for m in cols}
jacc = pd.DataFrame([[len(picks[a] & picks[b]) / len(picks[a] | picks[b]) for b in cols] for a in cols],
                    index=cols, columns=cols)
px.imshow(jacc, text_auto=".2f", zmin=0, zmax=1, title=f"Overlap (Jaccard) of the top-{k_frac:.0%} sets by metric")

# %%
run.run_stage(0, "selected")
selected = run.store.read_table(0, "selected").merge(weights[["prompt_id", "reward_mean"]], on="prompt_id")
by_id = {p.id: p for p in X0}
selected["text"] = [by_id[i].text for i in selected.prompt_id]
assert (selected.weight > 0).all() or (weights.weight > 0).sum() < len(selected)
selected[["rank", "prompt_id", "weight", "reward_mean", "text"]]

# %% [markdown]
# ## 4 · Evolve the informative prompts
# The creator rewrites each selected prompt EvolInstruct-style: **in depth** (add a constraint, harden one,
# deepen, concretize, require reasoning) or **in breadth** (a new, rarer prompt of the same domain). With the
# default `structured` evolver, constraints are added or hardened in code so evolved prompts stay checkable,
# and the creator LLM (here the embedded model behind a litellm provider, `evalab/smollm2-135m`; any
# `provider/model` string works) rewrites the task text. Every variant is validated; rejects keep their reason.
#
# As in the paper's creator (distilabel's EvolInstruct, 4 evolutions), evolution is **chained**
# (`evolution="chained"`, the default): step i rewrites the output of step i−1 with an operator drawn at
# random, and every step is kept, with its `depth` in the lineage. A rejected step is recorded and the chain
# goes on from the last accepted text. `evolution="independent"` makes k one-step variants of the parent instead.

# %%
run.run_stage(0, "evolved")
evolved = run.store.read_table(0, "evolved")
print(f"{int(evolved.accepted.sum())}/{len(evolved)} variants accepted")
evolved.groupby(["operator", "reason"]).size().rename("variants").reset_index()

# %% [markdown]
# One chain per selected prompt: each step's parent is the previous accepted step.

# %%
print(f"evolution={cfg.evolution}: {cfg.n_variants} steps per selected prompt")
chains = sorted(evolved.groupby("root_id", sort=False), key=lambda kv: -int(kv[1].accepted.sum()))
for root_id, g in chains[:2]:
    print("SELECTED:", by_id[root_id].text)
    for _, v in g.sort_values("k").iterrows():
        outcome = "accepted" if v.accepted else f"rejected ({v.reason})"
        print(f"  step {v.k + 1} · depth {v.depth} · {v.operator:>15s} · {outcome}:", v.text if v.accepted else "")
    print()
assert set(evolved.root_id) <= set(selected.prompt_id) and evolved.groupby("root_id").size().eq(cfg.n_variants).all()

# %% [markdown]
# ## 5 · The next prompt set
# X₁ = 80% evolved prompts + 20% buffer of X₀ (ratios configurable). When too few variants were accepted,
# buffer prompts back-fill the gap (`fill="buffer"`, column `backfill`) or the creator is asked again until the
# quota is met (`fill="quota"`, up to `fill_max_rounds`). `buffer="informative"` draws the buffer from the most
# informative prompts seen so far instead of uniformly. Each prompt keeps its lineage (`parent_id`,
# `iteration`, `operator`), so notebook 02 can draw the curriculum as a tree.

# %%
run.run_stage(0, "next_prompts")
X1 = run.store.read_table(0, "next_prompts")
X1["n_constraints"] = X1.constraints.map(lambda s: len(__import__("json").loads(s)))
assert len(X1) == len(X0)
print(X1.source.value_counts().to_dict(), f"· {int(X1.backfill.sum())} buffer prompts back-fill missing evolved ones",
      f"· evolved share {(X1.source == 'evolved').mean():.0%} (target {cfg.evolved_ratio:.0%}; fill={cfg.fill!r})")
X1[["id", "parent_id", "operator", "source", "n_constraints", "text"]].head(10)

# %%
before = pd.Series([len(p.constraints) for p in X0]).mean()
print(f"constraints per prompt: X0 {before:.2f} → X1 {X1.n_constraints.mean():.2f}")
px.histogram(pd.concat([pd.DataFrame({"set": "X0", "constraints": [len(p.constraints) for p in X0]}),
                        pd.DataFrame({"set": "X1", "constraints": X1.n_constraints})]),
             x="constraints", color="set", barmode="group", title="Constraints per prompt before and after evolution",
             labels={"constraints": "constraints per prompt (count)"})

# %% [markdown]
# Everything above lives in the run store (`run_dir`): parquet files per stage, readable with pandas or
# `datasets`. Notebook 03 continues from here with solver training; notebook 02 visualizes the curriculum.

# %%
sorted(str(p.relative_to(run.store.root)) for p in run.store.root.rglob("*.parquet"))
