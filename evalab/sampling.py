"""Steps 3 and 5 of eva: sample the informative subset, then mix evolved prompts with a buffer.

    w = evalab.informativeness(rewards)                         # (n_prompts,)
    idx = evalab.sample_subset(w, fraction=0.25, strategy="weighted", seed=42)
    mix = evalab.mix_next_set(n_evolved=40, n_buffer_pool=100, size=50, evolved_ratio=0.8, seed=42)

Strategies
- ``weighted``: k prompts without replacement with probability proportional to w (successive sampling,
  implemented with Efraimidis-Spirakis keys log(u)/w so 1M prompts take milliseconds);
- ``greedy``: the k largest weights (ties broken by position);
- ``uniform``: k prompts uniformly at random.
In every strategy zero-weight prompts are taken only after all positive-weight prompts are taken.
k = ceil(fraction * n_prompts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import STRATEGIES


def subset_size(n: int, fraction: float) -> int:
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction={fraction!r} must be in (0, 1]")
    return max(1, math.ceil(fraction * n - 1e-9))


def _check_weights(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D (one per prompt); got shape {w.shape}")
    if w.size == 0:
        raise ValueError("empty prompt set: no weights to sample from")
    if not np.isfinite(w).all():
        i = int(np.flatnonzero(~np.isfinite(w))[0])
        raise ValueError(f"weight of prompt #{i} is {w[i]}; weights must be finite")
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"weight of prompt #{i} is negative ({w[i]}); weights must be >= 0")
    return w


def sample_subset(
    weights: np.ndarray,
    fraction: float = 0.25,
    strategy: str = "weighted",
    seed: int = 42,
) -> np.ndarray:
    """Indices of the informative subset (int array, in selection order)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {strategy!r}; choose one of {STRATEGIES}")
    w = _check_weights(weights)
    k = subset_size(w.size, fraction)
    rng = np.random.default_rng(seed)
    pos = w > 0

    if strategy == "greedy":
        order = np.lexsort((np.arange(w.size), -w))  # by weight desc, then index
        return order[:k]
    if strategy == "uniform":
        # uniform among positive-weight prompts first, then among the rest
        first = rng.permutation(np.flatnonzero(pos))
        rest = rng.permutation(np.flatnonzero(~pos))
        return np.concatenate([first, rest])[:k].astype(int)
    # weighted: key = log(u) / w, the k largest keys (Efraimidis-Spirakis); then zero weights in random order
    u = rng.random(w.size)
    pos_idx = np.flatnonzero(pos)
    keys = np.log(u[pos_idx]) / w[pos_idx]
    if k < pos_idx.size:
        top = np.argpartition(-keys, k - 1)[:k]  # O(n), then sort only the k winners
        chosen = pos_idx[top[np.argsort(-keys[top], kind="stable")]]
    else:
        chosen = pos_idx[np.argsort(-keys, kind="stable")]
    rest = rng.permutation(np.flatnonzero(~pos))[: k - chosen.size]
    return np.concatenate([chosen, rest]).astype(int)


@dataclass(frozen=True)
class NextSetMix:
    """Which evolved prompts and which buffer prompts form X_{t+1} (indices into each list)."""

    evolved: np.ndarray
    buffer: np.ndarray
    backfilled: int  # buffer prompts used because too few evolved prompts were accepted

    @property
    def size(self) -> int:
        return int(self.evolved.size + self.buffer.size)


def mix_next_set(
    n_evolved: int,
    n_buffer_pool: int,
    size: int,
    evolved_ratio: float = 0.8,
    seed: int = 42,
) -> NextSetMix:
    """Step 5: X_{t+1} = ``evolved_ratio`` evolved prompts + the rest from the original buffer.

    If fewer evolved prompts were accepted than the ratio asks for, the gap is back-filled from the
    buffer (counted in ``backfilled``) so the set keeps its size; if both run short the set is smaller.
    """
    if not 0.0 <= evolved_ratio <= 1.0:
        raise ValueError(f"evolved_ratio={evolved_ratio!r} must be in [0, 1]")
    if size < 1:
        raise ValueError(f"size={size!r}: the next prompt set must hold at least one prompt")
    if n_evolved < 0 or n_buffer_pool < 0:
        raise ValueError("n_evolved and n_buffer_pool must be >= 0")
    if n_evolved + n_buffer_pool == 0:
        raise ValueError("nothing to mix: no evolved prompt was accepted and the buffer pool is empty")
    rng = np.random.default_rng(seed)
    want_evolved = round(size * evolved_ratio)
    take_e = min(want_evolved, n_evolved)
    take_b = min(size - take_e, n_buffer_pool)
    backfilled = max(0, take_b - (size - want_evolved))
    if take_e + take_b < size and n_evolved > take_e:  # buffer short: use more evolved prompts
        take_e = min(n_evolved, size - take_b)
    evolved = np.sort(rng.choice(n_evolved, size=take_e, replace=False)) if take_e else np.zeros(0, int)
    buffer = np.sort(rng.choice(n_buffer_pool, size=take_b, replace=False)) if take_b else np.zeros(0, int)
    return NextSetMix(evolved=evolved.astype(int), buffer=buffer.astype(int), backfilled=int(backfilled))
