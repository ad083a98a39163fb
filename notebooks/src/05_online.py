# %% [markdown]
# # 05 · Online eva: the creator inside the RL loop
#
# Notebooks 01–03 run eva **offline**: a whole prompt set is answered N times, weighed, evolved, and only then
# does a preference trainer (DPO, SimPO, …) update the solver once per iteration. The paper also describes an
# **online** variant (Ye et al. 2024, §3.4): the same steps run *inside* an RL loop on mini-batches.
#
# | | offline eva | online eva (this notebook) |
# |---|---|---|
# | solver update | DPO-style, on best-vs-worst pairs, once per iteration | GRPO / RLOO / online DPO (OAIF), every step |
# | step 1: N samples + rewards | a separate generation pass over X_t | the RL step's own group of `num_generations` rollouts |
# | step 2: informativeness | per prompt of X_t | per group of the recent mini-batches (never per rollout) |
# | steps 3–4: select + evolve | once per iteration | every `evolve_every` steps |
# | step 5: next prompt set | X_{t+1} = 80% evolved + 20% buffer | the prompt *stream*: evolved prompts get 80% of the sampling mass |
#
# Why it fits RL so well: GRPO and RLOO learn from the spread of rewards inside a group. A group where every
# rollout gets the same reward has zero advantage — no gradient at all (TRL logs this as
# `frac_reward_zero_std`; a loss of exactly 0 usually means it was 1). eva's informativeness A\*_min = max − min
# is exactly that spread, so evolving the prompts with spread keeps the stream full of prompts that still teach.
#
# How it is wired (`evalab.online`): an `EvaPromptPool` holds the stream with lineage; a small trainer subclass
# replaces TRL's sampler with one that draws each generation batch from the *current* pool and weights; a reward
# adapter turns evalab's reward (verifiable constraints by default) into a TRL reward function and records every
# group; an `EvaCallback` runs weigh → select → evolve → add every few steps and writes the run directory.
#
# The paper's second online setting is OAIF (online DPO, Guo et al. 2024): `trainer="oaif"` runs TRL's online DPO,
# which samples 2 completions per prompt and lets the preference oracle — the run's reward, e.g.
# `reward="judge:<litellm model>"` for AI feedback — pick the chosen one; each pair is an eva group of N = 2.
# Every trainer regularises the solver towards π_base (the initial solver) with a KL term, as eva's objective
# does: `kl_beta` defaults to `evalab.online.DEFAULT_KL_BETA` (GRPO 0.04 as in DeepSeekMath, RLOO 0.05 and
# online DPO 0.1 as TRL's defaults).
#
# Headless: `papermill notebooks/05_online.ipynb out.ipynb -p profile ci -p run_dir runs/nb05`
# (or `python -m evalab online --profile demo --run-dir runs/online`). The run checkpoints the trainer and the
# eva state after every evolution event: re-executing with the same `run_dir` after a crash continues from there.

# %% tags=["parameters"]
profile = "demo"          # "ci" (tiny, for tests) | "demo" (CPU, tens of minutes) | "paper" (GPU scale)
run_dir = "../runs/05_online"
trainer = "grpo"          # "grpo" | "rloo" | "oaif" (online DPO: 2 samples per prompt, the reward/judge picks the preferred one)
steps = 0                 # optimizer steps; 0 takes the profile's default (ci 4, demo 12, paper 500)
evolve_every = 0          # steps between evolution events; 0 takes the profile's default (ci 2, demo 3, paper 10)
overrides = {}            # any EvaConfig field, e.g. {"evolved_ratio": 0.5, "metric": "a_avg"}
torch_threads = 0         # 0 keeps torch's default; 1 if the CPU is shared with other busy processes (much faster then)
checkpoint_every = -1     # steps between resumable checkpoints; -1 takes the profile's default (ci 2, demo 3, paper 50), 0 = none
online_json = "../data/online_reproduction.json"  # the several-seed comparison to render (reproduce-online's output)
curricula_json = "../data/online_curricula.json"  # online eva vs MoPPS / GRESO prediction (configs/online_curricula.yaml)

# %%
import json

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from evalab.config import check_profile, profile_config
from evalab.online import online_settings, run_online_eva

check_profile(profile)  # an unknown profile: a ValueError naming it (not a KeyError below)
# per profile (evalab.online.ONLINE_PROFILES): RL steps, evolution period, prompts per step (x N rollouts),
# completion budget, checkpoint period
ONLINE = online_settings(profile)
ONLINE.update({k: v for k, v in dict(steps=steps, evolve_every=evolve_every).items() if v})
if checkpoint_every >= 0:
    ONLINE["checkpoint_every"] = checkpoint_every
cfg = profile_config(profile, run_dir=run_dir, **overrides)
print(f"trainer={trainer}, {ONLINE}, N={2 if trainer == 'oaif' else cfg.n_responses} rollouts per prompt, lr={cfg.learning_rate}, "
      f"reward={cfg.reward}, creator={cfg.evolver} ({cfg.creator}), evolved share of the stream={cfg.evolved_ratio}")

# %% [markdown]
# ## Run online eva
# One call: load the solver, build the pool from the seed prompts, and train. TRL prints one log line per
# step; the `eva/*` entries in it come from the reward adapter (zero-spread share, share of groups from evolved
# prompts, pool size).

# %%
out = run_online_eva(cfg, trainer=trainer, torch_threads=torch_threads, **ONLINE)
events, pool, groups, log = out["events"], out["pool"], out["groups"], out["log_history"]
assert len(events) == ONLINE["steps"] // ONLINE["evolve_every"], "one evolution event per period"
N = 2 if trainer == "oaif" else cfg.n_responses  # online DPO compares 2 samples per prompt
assert groups.rewards.map(len).eq(N).all(), "every group holds N rollouts"
print(f"{out['train_runtime']:.0f} s of training; pool {len(pool)} prompts "
      f"({int(pool.evolved.sum())} evolved); {len(groups)} groups scored")

# %% [markdown]
# ## Reward and zero-spread groups per step
# The mean reward of each step's rollouts, and the share of groups whose N rewards were all equal (spread
# below 1e-6). Those groups contribute no policy gradient in GRPO/RLOO — and no signal to eva either.

# %%
reward_col = "objective/scores" if trainer == "oaif" else "reward"  # online DPO logs its mean reward there
steps_df = log.dropna(subset=[reward_col]).rename(columns={reward_col: "reward"})
if cfg.reward == "constraints" and trainer != "oaif":  # no missing rewards: our share is TRL's frac_reward_zero_std
    assert (steps_df["eva/frac_zero_spread"] - steps_df["frac_reward_zero_std"]).abs().max() < 1e-6
fig = go.Figure()
fig.add_scatter(x=steps_df.step, y=steps_df.reward, name="mean reward", mode="lines+markers")
fig.add_scatter(x=steps_df.step, y=steps_df["eva/frac_zero_spread"], name="share of zero-spread groups",
                mode="lines+markers", yaxis="y2")
for s in events.step:
    fig.add_vline(x=s, line_dash="dot", line_color="gray")
fig.update_layout(title="Reward and zero-spread share per step (dotted: evolution events)",
                  xaxis_title="optimizer step", yaxis_title="mean reward",
                  yaxis2=dict(title="zero-spread share", overlaying="y", side="right", range=[0, 1]))

# %% [markdown]
# ## All-fail, all-pass and mixed groups per step
# A group teaches GRPO/RLOO nothing when all its rollouts fail or all pass (pass = reward ≥ the reward's pass
# threshold: every constraint met for the constraint reward; rewards without a threshold, such as a reward
# model, leave these shares empty). `missing_reward_skipped` counts the steps whose share of unscored rollouts
# exceeded `max_missing_reward` and went on anyway (`on_missing_reward="skip"`; the default "stop" ends the run
# with one line naming the reward and its first error).

# %%
outcome = steps_df[["step", "frac_all_fail", "frac_all_pass", "frac_mixed"]].melt("step", var_name="groups",
                                                                                   value_name="share")
print(f"steps skipped for missing rewards: {int(steps_df.missing_reward_skipped.max())}")
px.area(outcome, x="step", y="share", color="groups", range_y=[0, 1],
        title="Share of each step's groups that all fail, all pass, or mix", labels={"step": "optimizer step"})

# %% [markdown]
# ## The evolution events
# At each event the groups scored since the previous one are weighed (A\*_min by default), the informative
# subset is sampled, the creator evolves it and accepted variants join the pool. Rejected variants keep their
# reason.

# %%
events[["event", "step", "n_groups", "frac_zero_spread", "weight_mean", "n_selected", "n_variants",
        "n_accepted", "n_added", "reject_reasons", "pool_size"]]

# %%
assert (events.n_added <= events.n_accepted).all() and (events.n_accepted <= events.n_variants).all()
assert events.pool_size.is_monotonic_increasing
fig = go.Figure()
fig.add_bar(x=events.step, y=events.n_selected, name="selected (informative)")
fig.add_bar(x=events.step, y=events.n_accepted, name="accepted variants")
fig.add_scatter(x=events.step, y=events.pool_size, name="pool size", mode="lines+markers", yaxis="y2")
fig.update_layout(title="Pool growth: selected prompts, accepted variants, pool size per event", barmode="group",
                  xaxis_title="optimizer step", yaxis_title="prompts per event",
                  yaxis2=dict(title="pool size", overlaying="y", side="right", rangemode="tozero"))

# %% [markdown]
# ## Did evolved prompts reach the trainer?
# A prompt reached the trainer when the trainer generated rollouts for it and the reward adapter scored the
# group. The share of groups coming from evolved prompts should rise towards `evolved_ratio` after the first
# events (the sampler gives evolved prompts that share of the sampling mass).

# %%
share = groups.groupby("step").evolved.mean().rename("share of groups from evolved prompts").reset_index()
px.line(share, x="step", y="share of groups from evolved prompts", markers=True, range_y=[0, 1],
        title="Share of each step's groups drawn from evolved prompts",
        labels={"step": "optimizer step"})

# %%
evolved = pool[pool.evolved].merge(pool[["id", "text"]].rename(columns={"id": "parent_id", "text": "parent_text"}),
                                   on="parent_id", how="left")
reached = evolved[evolved.n_groups > 0]
print(f"{len(reached)} of {len(evolved)} evolved prompts were trained on")
pd.set_option("display.max_colwidth", 200)
reached[["id", "operator", "added_step", "n_groups", "informativeness", "parent_text", "text"]].head(8)

# %% [markdown]
# ## What the run directory holds
# Every table is rewritten atomically after each event, so it can be read while a run is going on.

# %%
summary = json.loads((out["run_dir"] / "online_summary.json").read_text())
assert summary["pool_size"] == len(pool)
print(sorted(p.name for p in out["run_dir"].iterdir() if not p.name.startswith("_")))
summary

# %% [markdown]
# ## Several seeds: does online eva train a better solver than the seed stream?
# The run above shows the mechanism on one seed. Whether it pays off is a comparison: the same trainer, steps and
# seeds on the seed prompts only (`online-seed`: no evolution event fires), and online eva with DAPO's dynamic
# sampling (`online-eva+dynamic`). The reward curves alone cannot decide it (online eva trains on harder,
# evolved prompts, so its reward is measured on a different stream), so each final policy is also scored greedily
# on the held-out prompts, paired with the seed stream by seed and prompt. One resumable command writes the file
# this section renders, without recomputing:
#
#     python -m evalab reproduce-online --config configs/online_reproduction.yaml

# %%
from pathlib import Path

from evalab import plots
from evalab.reproduction import load_results, online_results_text

if Path(online_json).exists():
    online = load_results(online_json)
    print(online_results_text(online))
    fig = plots.fig_iteration_curves(online["curves"], ["reward", "zero_spread"], cols=2, x="step",
                                     title="Per step, mean over seeds with 95% bootstrap CIs")
else:
    fig = None
    print(f"{online_json} not found: run the command above to compare the arms")
fig


# %% [markdown]
# ## Prediction before sampling, online: MoPPS and GRESO inside GRPO
# With `sampling="thompson"` (MoPPS) or `skip="greso"` (GRESO) the pool offers ceil(k / `subset_fraction`)
# candidates for each generation batch of k prompts, and `evalab.online.PoolPredictor` picks the k the trainer
# generates for, from a Beta posterior of each prompt's pass rate (Thompson draw nearest p\* = 0.5) or from its
# run of zero-variance groups (skipped with probability 1 − p_e^z). Every arm generates the same rollouts per
# step, so what prediction can buy is a batch with fewer zero-spread groups and, from it, a better policy: the
# table pairs each arm's final policy with online eva's (`minus_eva`), and `rollouts_declined` counts the declined
# candidates × N. The file is written by
#
#     python -m evalab reproduce-online --config configs/online_curricula.yaml

# %%
if Path(curricula_json).exists():
    pred = load_results(curricula_json)
    print(online_results_text(pred, drop=["minus_seed"]))
    fig = plots.fig_iteration_curves(pred["curves"], ["zero_spread", "reward"], cols=2, x="step",
                                     title="Zero-spread share and reward of the trainer's groups per step (95% CIs)")
else:
    fig = None
    print(f"{curricula_json} not found: run the command above to compare the arms")
fig
