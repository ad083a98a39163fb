"""Per-iteration breakdown of a run: who passes, what carries over, what it cost.

    from evalab.breakdown import pass_breakdown, reward_ema, count_tokens, gain_per_cost
    pass_breakdown(rewards, threshold=1.0)    # per prompt: pass_rate and outcome all_fail / all_pass / mixed
    reward_ema(ids, parents, means, prev)      # EMA of each prompt's mean reward across iterations (lineage prior)
    gain_per_cost(stores)                      # an ablation's held-out gain per million generated tokens and per pair

**Pass / fail.** A response *passes* when its reward is >= ``pass_threshold`` (EvaConfig, default 1.0: for the
constraint reward that is "every constraint satisfied", since 0.9 frac + 0.1 partial reaches 1.0 only then; for a
reward model or a judge choose a threshold on its scale). Per prompt, over its scored (non-NaN) responses:
``all_fail`` = no response passes, ``all_pass`` = every response passes, ``mixed`` = the rest; a prompt with no
scored response is ``unscored`` and counts in none of the three shares. The shares are what verl and AReaL log
for their groups: all-fail and all-pass groups give no preference signal under a pass/fail reward.

**EMA across iterations** (``EvaConfig.ema`` = d in (0, 1); 0 = off). eva's prompts are new every iteration, so
"the same prompt seen before" is rare: a buffer prompt keeps its id (and in static mode every prompt does), an
evolved prompt is new. The prior of a prompt at iteration t is its own EMA at t-1 if it was in X_{t-1}, else its
lineage parent's EMA at t-1 (the prompt it was evolved from), else none. Then

    reward_ema_t(x) = d · prior + (1 - d) · reward_mean_t(x)        (= reward_mean_t(x) without a prior)

stored as the ``reward_ema`` column of the weights stage. As the weight's input it replaces the prompt's mean
reward where a metric reads a mean: ``avg`` and ``inv_avg`` are computed on ``reward_ema`` instead of this
iteration's mean. The spread metrics (A*_min, A*_avg, A*_dts, var) have no mean to replace and are computed on
this iteration's rewards as before; the column is there for any selection rule that reads a pass rate.

**Generated tokens.** ``n_tokens`` per response row of ``responses`` / ``train_responses`` (steps 1 and 6): the
response's length in the solver's own tokenizer when the backend has one (transformers, vLLM; the end-of-turn
token is not counted), else its whitespace-separated words (test fakes). A run's ``gen_tokens`` per iteration is
their sum over both stages; a static run reuses its step-1 samples as step 6's, so it counts them once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

OUTCOMES = ("all_fail", "all_pass", "mixed")
PASS_TOL = 1e-9  # a reward within float noise of the threshold passes


def pass_breakdown(rewards: np.ndarray, threshold: float = 1.0) -> pd.DataFrame:
    """Per prompt (row of the (P, N) reward matrix, NaN = missing): ``pass_rate`` over scored responses and
    ``outcome`` in all_fail / all_pass / mixed (unscored: no scored response)."""
    r = np.asarray(rewards, dtype=float)
    if r.ndim != 2:
        raise ValueError(f"rewards must be 2-D (n_prompts, n_samples); got shape {r.shape}")
    valid = ~np.isnan(r)
    n = valid.sum(axis=1)
    passed = (np.where(valid, r, -np.inf) >= threshold - PASS_TOL).sum(axis=1)
    rate = np.divide(passed, n, out=np.full(len(r), np.nan), where=n > 0)
    outcome = np.where(n == 0, "unscored", np.where(passed == 0, "all_fail", np.where(passed == n, "all_pass",
                                                                                            "mixed")))
    return pd.DataFrame({"pass_rate": rate, "outcome": outcome})


def outcome_shares(outcome: pd.Series) -> dict[str, float]:
    """frac_all_fail, frac_all_pass, frac_mixed over the scored prompts (NaN when none is scored)."""
    scored = outcome[outcome != "unscored"]
    return {f"frac_{k}": float((scored == k).mean()) if len(scored) else float("nan") for k in OUTCOMES}


def reward_ema(prompt_ids: Sequence[str], parent_ids: Sequence[str | None], means: np.ndarray,
               previous: Mapping[str, float], decay: float) -> np.ndarray:
    """EMA of each prompt's mean reward: ``decay · prior + (1 - decay) · mean``, the prior being ``previous``
    (id -> EMA at t-1) of the prompt itself, else of its parent, else none (then the EMA is the mean)."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay={decay!r} must be in [0, 1)")
    means = np.asarray(means, dtype=float)
    out = means.copy()
    for i, (pid, parent) in enumerate(zip(prompt_ids, parent_ids)):
        prior = previous.get(pid)
        if prior is None and parent is not None:
            prior = previous.get(parent)
        if prior is not None and np.isfinite(prior):
            out[i] = prior if np.isnan(means[i]) else decay * prior + (1.0 - decay) * means[i]
    return out


def count_tokens(backend: Any, texts: Sequence[str | None]) -> np.ndarray:
    """Length of each generated text in the backend's tokenizer (``backend.tokenizer``), else in whitespace
    words; None (a failed generation) counts 0."""
    tok = getattr(backend, "tokenizer", None)
    idx = [i for i, t in enumerate(texts) if isinstance(t, str)]
    out = np.zeros(len(texts), dtype=np.int64)
    if not idx:
        return out
    if tok is not None and callable(tok):
        ids = tok([texts[i] for i in idx], add_special_tokens=False)["input_ids"]
        out[idx] = [len(x) for x in ids]
    else:
        out[idx] = [len(str(texts[i]).split()) for i in idx]
    return out


def iteration_gen_tokens(store: Any, t: int) -> float:
    """Solver tokens generated in iteration t (steps 1 and 6); NaN if a finished stage did not record them."""
    stages = ["responses"] + ([] if store.config.mode == "static" else ["train_responses"])
    total, seen = 0.0, False
    for stage in stages:
        if store.has(t, stage):
            df = store.read_table(t, stage)
            if "n_tokens" not in df:
                return float("nan")
            total += float(df["n_tokens"].sum())
            seen = True
    return total if seen else float("nan")


def gain_per_cost(stores: Mapping[str, Sequence[Any]], metric: str = "full") -> pd.DataFrame:
    """Per arm of an ablation: the held-out gain (last evaluated iteration minus iteration 0, mean over seeds), the
    solver tokens generated and the preference pairs trained on up to that iteration (mean over seeds), and the
    gain per million generated tokens and per training pair (mean gain / mean cost; NaN where a cost is unknown,
    e.g. runs written before ``n_tokens`` was recorded)."""
    from .ablation import per_seed_scores
    from .loop import summarize

    scores = per_seed_scores(stores, metric)
    rows = []
    for arm, runs in stores.items():
        gains, toks, pairs = [], [], []
        for st in runs:
            s = scores[(scores.arm == arm) & (scores.seed == st.config.seed)].sort_values("iteration")
            if len(s) < 2 or s.iteration.iloc[0] != 0:
                continue
            last = int(s.iteration.iloc[-1])
            gains.append(float(s[metric].iloc[-1] - s[metric].iloc[0]))
            summ = summarize(st)  # empty for a store that holds only evals
            summ = summ[summ.iteration < last] if "iteration" in summ else summ
            toks.append(float(summ["gen_tokens"].sum(min_count=1)) if "gen_tokens" in summ else float("nan"))
            pairs.append(float(summ["n_pairs"].sum(min_count=1)) if "n_pairs" in summ else float("nan"))
        if not gains:
            continue
        g, tk, pr = float(np.mean(gains)), float(np.mean(toks)), float(np.mean(pairs))
        rows.append({"arm": arm, "n_seeds": len(gains), "gain": g, "gen_tokens": tk, "n_pairs": pr,
                     "gain_per_mtok": g / (tk / 1e6) if tk > 0 else float("nan"),
                     "gain_per_pair": g / pr if pr > 0 else float("nan")})
    return pd.DataFrame(rows, columns=["arm", "n_seeds", "gain", "gen_tokens", "n_pairs", "gain_per_mtok",
                                       "gain_per_pair"])


def heldout_headline(run_dir: Any) -> str:
    """One line of a run's held-out result, first evaluated solver to last: "θ0 → θ2 held-out (40 prompts):
    fully satisfied 0.117 → 0.189, constraints satisfied 0.258 → 0.335". Raises ValueError when the run has
    no held-out evaluation yet (the line names the run directory)."""
    from .loop import summarize
    from .store import RunStore

    store = RunStore(run_dir)
    summ = summarize(store)
    done = summ.dropna(subset=["heldout_full_rate"]) if "heldout_full_rate" in summ else summ.iloc[0:0]
    if done.empty:
        raise ValueError(f"run_dir={str(run_dir)!r}: no held-out evaluation stored yet")
    first, last = done.iloc[0], done.iloc[-1]
    n_eval = store.config.n_eval
    return (f"θ{int(first.iteration)} → θ{int(last.iteration)} held-out ({n_eval} prompts): fully satisfied "
            f"{first.heldout_full_rate:.3f} → {last.heldout_full_rate:.3f}, constraints satisfied "
            f"{first.heldout_constraint_rate:.3f} → {last.heldout_constraint_rate:.3f}")
