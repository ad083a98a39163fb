"""Best-vs-worst preference pairs from N scored responses per prompt (eva step 6, before training).

    from evalab.pairs import build_pairs
    pairs, stats = build_pairs(prompts, responses, rewards)      # rewards: (P, N), NaN = unscored
    stats   # {"n_pairs": 5, "n_all_equal": 2, "n_missing": 1}

For each prompt the *chosen* response is the one with the highest reward and the *rejected* one the
lowest (the paper's default pairing, as in iterative DPO: chosen = argmax r, rejected = argmin r).
Ties break deterministically on the first index. A prompt yields no pair when all its valid rewards
are equal within ``tol`` (max - min <= tol: nothing to prefer, counted in ``n_all_equal``) or when it
has fewer than two valid (finite, with a response string) rewards (counted in ``n_missing``).

The frame keeps plain strings (readable in a notebook, parquet-friendly); ``to_conversational``
turns it into the conversational rows TRL's trainers expect, so the trainer applies the solver's
chat template exactly as generation did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .prompts import Prompt

PAIR_COLUMNS = ("prompt_id", "prompt", "chosen", "rejected", "chosen_reward", "rejected_reward")


def _reward_rows(rewards: np.ndarray | Sequence[Sequence[float]], n_prompts: int) -> list[np.ndarray]:
    """Rewards as one float vector per prompt (accepts a (P, N) array or ragged lists)."""
    if isinstance(rewards, np.ndarray) and rewards.dtype != object:
        if rewards.ndim != 2:
            raise ValueError(f"rewards: expected a (P, N) array, got shape {rewards.shape}")
        rows = [rewards[i].astype(float) for i in range(rewards.shape[0])]
    else:
        rows = [np.asarray(r, dtype=float).reshape(-1) for r in rewards]
    if len(rows) != n_prompts:
        raise ValueError(f"rewards: {len(rows)} rows for {n_prompts} prompts")
    return rows


def select_pair(rewards: np.ndarray, n_responses: int, *, tol: float = 1e-9) -> tuple[int, int] | str:
    """Indices (chosen, rejected) of one prompt's responses, or why there is no pair.

    ``rewards`` (N,) may be longer or shorter than the ``n_responses`` strings: only indices that have
    both a response and a finite reward count. Returns "missing" (< 2 valid) or "all_equal"
    (max - min <= tol) instead of a pair. argmax/argmin take the first index among equals.
    """
    n = min(len(rewards), n_responses)
    valid = np.flatnonzero(np.isfinite(rewards[:n]))
    if valid.size < 2:
        return "missing"
    r = rewards[valid]
    if float(r.max() - r.min()) <= tol:
        return "all_equal"
    return int(valid[int(np.argmax(r))]), int(valid[int(np.argmin(r))])


def build_pairs(prompts: Sequence[Prompt], responses: Sequence[Sequence[str]], rewards: np.ndarray, *,
                tol: float = 1e-9) -> tuple[pd.DataFrame, dict[str, int]]:
    """One (chosen, rejected) pair per prompt whose responses' rewards differ by more than ``tol``.

    ``prompts`` (P,), ``responses`` P lists of response strings (ragged allowed), ``rewards`` (P, N)
    with NaN where a response could not be scored. Returns the pairs frame (columns ``PAIR_COLUMNS``;
    ``prompt`` is the user text the solver saw) and ``{"n_pairs", "n_all_equal", "n_missing"}``.
    A pair never has equal rewards.
    """
    if tol < 0:
        raise ValueError(f"tol={tol!r}: must be >= 0")
    if len(responses) != len(prompts):
        raise ValueError(f"responses: {len(responses)} lists for {len(prompts)} prompts")
    rows = _reward_rows(rewards, len(prompts))
    out: list[dict[str, Any]] = []
    stats = {"n_pairs": 0, "n_all_equal": 0, "n_missing": 0}
    for prompt, resp, r in zip(prompts, responses, rows):
        if isinstance(resp, str):
            raise ValueError(f"responses for prompt {prompt.id!r}: expected a list of strings, got one string")
        # a response that is not a string (None from a failed generation) counts as unscored
        r = np.array([x if j < len(resp) and isinstance(resp[j], str) else np.nan for j, x in enumerate(r)])
        sel = select_pair(r, len(resp), tol=tol)
        if isinstance(sel, str):
            stats[f"n_{sel}"] += 1
            continue
        c, j = sel
        out.append({"prompt_id": prompt.id, "prompt": prompt.text, "chosen": resp[c], "rejected": resp[j],
                    "chosen_reward": float(r[c]), "rejected_reward": float(r[j])})
    stats["n_pairs"] = len(out)
    return pd.DataFrame(out, columns=list(PAIR_COLUMNS)), stats


def check_pairs_frame(pairs: pd.DataFrame) -> None:
    """Raise ValueError if ``pairs`` lacks a column, has no rows, or holds a non-string text."""
    missing = [c for c in ("prompt", "chosen", "rejected") if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs: missing column(s) {missing}; expected {list(PAIR_COLUMNS)}")
    if len(pairs) == 0:
        raise ValueError("pairs: no rows (every prompt had equal or missing rewards?)")
    for col in ("prompt", "chosen", "rejected"):
        bad = [i for i, v in enumerate(pairs[col]) if not isinstance(v, str)]
        if bad:
            raise ValueError(f"pairs.{col}: row {bad[0]} is {type(pairs[col].iloc[bad[0]]).__name__}, not str")


def to_conversational(pairs: pd.DataFrame) -> list[dict[str, list[dict[str, str]]]]:
    """Rows in TRL's conversational preference format.

    ``{"prompt": [{"role": "user", ...}], "chosen": [{"role": "assistant", ...}], "rejected": [...]}``:
    the trainer renders the chat template itself (prompt with the generation prompt, then the answer).
    """
    check_pairs_frame(pairs)
    return [{"prompt": [{"role": "user", "content": p}],
             "chosen": [{"role": "assistant", "content": c}],
             "rejected": [{"role": "assistant", "content": r}]}
            for p, c, r in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"])]


def budget_pairs(pairs: pd.DataFrame, budget: int, seed: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """The equal-budget rule of a reproduction grid (``EvaConfig.pairs_per_iteration``): at most ``budget``
    pairs, a uniform sample without replacement drawn with ``seed`` (rows kept in their original order);
    ``budget`` 0 keeps every pair. Returns (pairs, {"n_pairs_built", "pairs_budget", "n_pairs",
    "pairs_shortfall"}): an iteration that built fewer than ``budget`` pairs trains on all of them, and the
    shortfall (``budget - n_pairs``) is recorded, never filled."""
    if budget < 0:
        raise ValueError(f"EvaConfig.pairs_per_iteration={budget!r}: must be >= 0 (0 = all pairs)")
    built = len(pairs)
    out = pairs
    if budget and built > budget:
        keep = np.sort(np.random.default_rng(seed).choice(built, size=budget, replace=False))
        out = pairs.iloc[keep].reset_index(drop=True)
    info = {"n_pairs_built": int(built), "pairs_budget": int(budget), "n_pairs": int(len(out)),
            "pairs_shortfall": int(max(budget - len(out), 0)) if budget else 0}
    return out, info
