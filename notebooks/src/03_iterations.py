# %% [markdown]
# # 03 · Full eva iterations: creator → solver training → held-out score
#
# Notebook 01 stopped after the creator step. Here the loop runs end to end, k times: the creator builds
# X_{t+1} from the informative part of X_t, the solver θ_t answers X_{t+1} N times, best-vs-worst
# preference pairs train θ_{t+1} with a TRL trainer (DPO by default; SimPO, ORPO, SPPO by one parameter),
# and every solver is scored on a held-out set of verifiable prompts.
#
# The run directory records every stage. Kill the kernel at any moment and re-run this notebook with the
# same `run_dir`: it resumes from the last finished stage (mid-training from the last trainer checkpoint).
#
# Headless: `papermill notebooks/03_iterations.ipynb out.ipynb -p profile ci -p run_dir runs/nb03`

# %% tags=["parameters"]
profile = "demo"          # "ci" | "demo" | "paper"
run_dir = "../runs/03_iterations"
iterations = 0            # 0: the profile default (ci 1, demo 1, paper 3; the paper 1x/2x/3x settings)
trainer = "dpo"           # "dpo" | "simpo" | "orpo" | "sppo"
overrides = {}            # any other EvaConfig field

# %%
import json

import pandas as pd
import plotly.express as px
from IPython.display import display

from evalab.config import check_profile, profile_config
from evalab.loop import EvaRun

check_profile(profile)  # an unknown profile: a ValueError naming it (not a KeyError below)
k = iterations or {"ci": 1, "demo": 1, "paper": 3}[profile]  # demo: 1 (README command 1); -p iterations 3 for more
cfg = profile_config(profile, run_dir=run_dir, iterations=k, trainer=trainer, **overrides)
run = EvaRun(cfg)
print(f"{k} iteration(s), trainer={cfg.trainer}, lr={cfg.learning_rate}, β={cfg.beta}, "
      f"{len(run.prompts(0))} prompts, N={cfg.n_responses}")
pd.DataFrame(run.pending(), columns=["iteration", "stage"]).groupby("iteration").stage.apply(", ".join)

# %% [markdown]
# ## Run the loop
# Each stage prints when it starts and ends; generation and training show progress bars.

# %%
summary = run.run()
assert not run.pending(), "every stage finished"
summary

# %% [markdown]
# ## Where the time goes
# Per-stage wall time from the run's event log (`events.jsonl`).

# %%
ev = run.store.events()
timing = ev[ev.event == "stage_end"][["iteration", "stage", "seconds"]]
px.bar(timing, x="stage", y="seconds", color="iteration", barmode="group",
       title="Wall time per stage", labels={"seconds": "wall time (s)", "stage": "stage"})

# %% [markdown]
# ## Prompts before and after the creator
# Evolved prompts keep a pointer to their parent. With chained evolution (the default) the parent is the
# previous step of the chain, which may itself be a variant; `root` is the X_0 prompt the chain started from.

# %%
X0 = {p.id: p for p in run.prompts(0)}
X1 = run.store.read_table(0, "next_prompts")
steps = run.store.read_table(0, "evolved")
text_of = {**{i: p.text for i, p in X0.items()}, **dict(zip(steps["id"], steps["text"]))}
root_of = dict(zip(steps["id"], steps["root_id"]))
ev1 = X1[X1.source == "evolved"].head(5)
pd.DataFrame({"operator": ev1.operator, "depth": [int(steps.set_index("id").depth.get(i, 1)) for i in ev1.id],
              "root": [X0[root_of[i]].text for i in ev1.id], "parent": [text_of[i] for i in ev1.parent_id],
              "child": ev1.text})

# %% [markdown]
# ## The preference pairs
# For each prompt of X_{t+1}: chosen = the best of N responses, rejected = the worst. Prompts whose N rewards
# are all equal give no pair (A\*_min = 0) and are skipped and counted.

# %%
pairs = run.store.read_table(0, "pairs")
print(f"{len(pairs)} pairs from {len(X1)} prompts")
assert (pairs.chosen_reward > pairs.rejected_reward).all()
pairs[["prompt_id", "chosen_reward", "rejected_reward", "chosen", "rejected"]].head(5)

# %% [markdown]
# ## Training
# The trainer's log (loss, and for DPO the implicit reward margin between chosen and rejected).

# %%
logs = pd.concat([run.store.read_table(t, "train_log").assign(iteration=t) for t in range(k)
                  if run.store.has(t, "train_log")], ignore_index=True)
ycols = [c for c in ("loss", "rewards/margins") if c in logs]
px.line(logs.dropna(subset=["loss"]) if "loss" in logs else logs, x="step", y=ycols[:1] or None,
        color="iteration", markers=True, title="Training loss per step",
        labels={"value": "loss (nats)", "step": "optimizer step"})

# %% [markdown]
# ## Per-iteration breakdown
# Prompts whose N responses all fail, all pass (reward ≥ `pass_threshold`) or are mixed, the informative share,
# and what each iteration cost: solver tokens generated in steps 1 and 6, and preference pairs.

# %%
from evalab import plots

breakdown = plots.breakdown_table(run.store)
assert len(breakdown) == k and (breakdown.gen_tokens > 0).all()
assert (breakdown[["frac_all_fail", "frac_mixed", "frac_all_pass"]].sum(axis=1).round(6) == 1).all()
display(breakdown)
display(plots.fig_outcome_shares(run.store))
plots.fig_iteration_cost(run.store)

# %% [markdown]
# ## Held-out score per iteration
# Greedy answers of each solver θ_t to the held-out prompts: the fraction of constraints satisfied, and the
# fraction of prompts with *all* constraints satisfied. (On the 135M CPU demo, changes are small and noisy;
# notebook 04 runs several seeds with confidence intervals.)

# %%
scores = pd.DataFrame([run.store.read_json(t, "eval") for t in range(k + 1) if run.store.has(t, "eval")])
assert len(scores) == k + 1
long = scores.melt(id_vars="iteration", value_vars=["constraint_rate", "full_rate"], var_name="score")
px.line(long, x="iteration", y="value", color="score", markers=True, title="Held-out score of θ_t",
        labels={"value": "rate (fraction of prompts / constraints)", "iteration": "iteration t"})

# %%
per_kind = pd.DataFrame({t: run.store.read_json(t, "eval")["per_kind"] for t in range(k + 1)}).T
per_kind.index.name = "iteration"
px.imshow(per_kind, text_auto=".2f", zmin=0, zmax=1, aspect="auto",
          title="Held-out pass rate per constraint kind", labels={"color": "pass rate", "x": "constraint kind"})

# %%
print(json.dumps({c: float(scores[c].iloc[-1] - scores[c].iloc[0]) for c in ["constraint_rate", "full_rate"]}))
