"""Steps 3 and 5 of eva: sample the informative subset, then mix evolved prompts with a buffer.

    w = evalab.informativeness(rewards)                         # (n_prompts,)
    idx = evalab.sample_subset(w, fraction=0.25, strategy="weighted", seed=42)
    idx = evalab.sample_subset(w, 0.25, "band", seed=42, reward_mean=mean_reward, band=(0.2, 0.8))
    mix = evalab.mix_next_set(n_evolved=40, n_buffer_pool=100, size=50, evolved_ratio=0.8, seed=42)

Strategies (k = ceil(fraction * n_prompts)):
- ``weighted``: k prompts without replacement with probability proportional to w (successive sampling,
  implemented with Efraimidis-Spirakis keys log(u)/w so 1M prompts take milliseconds); weights must be
  >= 0 (``evalab.informativeness.sampling_weights`` maps any metric on rewards of any sign to such weights);
- ``greedy``: the k largest weights (ties broken by position);
  in both, zero-weight prompts are taken only after all positive-weight prompts are taken;
- ``uniform``: k prompts uniformly at random; the weights are ignored entirely (the paper's uniform baseline);
- ``band``: band-pass on each prompt's mean reward (pass rate), verl #2791: k prompts uniformly at random
  among those with ``band[0] <= reward_mean <= band[1]``; the weights are ignored. When fewer than k prompts
  are in the band, all of them are taken and the rest of the k come from outside the band, nearest to it
  first (distance to the band, ties in random order), so the creator still gets k parents; the loop
  records which selected prompts were in the band (``in_band``) and warns.

Step 5 (``mix_next_set``): the buffer is drawn uniformly from its pool, or, given ``buffer_weights``, the
highest-weight buffer prompts are taken (``EvaConfig.buffer="informative"``).
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
    w = _check_shape(weights)
    if not np.isfinite(w).all():
        i = int(np.flatnonzero(~np.isfinite(w))[0])
        raise ValueError(f"weight of prompt #{i} is {w[i]}; weights must be finite")
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"weight of prompt #{i} is negative ({w[i]}); weights must be >= 0 "
                         "(evalab.informativeness.sampling_weights maps a metric on signed rewards to weights)")
    return w


def _check_shape(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D (one per prompt); got shape {w.shape}")
    if w.size == 0:
        raise ValueError("empty prompt set: no weights to sample from")
    return w


def band_subset(reward_mean: np.ndarray, k: int, band: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """k indices uniformly among prompts whose mean reward lies in ``band`` (inclusive); when fewer are in
    the band, all of them, then the nearest out-of-band prompts (distance to the band; NaN means last)."""
    lo, hi = float(band[0]), float(band[1])
    if not lo <= hi:
        raise ValueError(f"band={band!r}: band_low must be <= band_high")
    m = np.asarray(reward_mean, dtype=float)
    dist = np.where(m < lo, lo - m, np.where(m > hi, m - hi, 0.0))
    dist = np.where(np.isnan(m), np.inf, dist)
    order = rng.permutation(m.size)  # random tie-break, then a stable sort by distance
    order = order[np.argsort(dist[order], kind="stable")]
    return order[:k].astype(int)


def in_band(reward_mean: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Boolean mask: mean reward within [band_low, band_high]."""
    m = np.asarray(reward_mean, dtype=float)
    return (m >= band[0]) & (m <= band[1])


def sample_subset(
    weights: np.ndarray,
    fraction: float = 0.25,
    strategy: str = "weighted",
    seed: int = 42,
    *,
    reward_mean: np.ndarray | None = None,
    band: tuple[float, float] = (0.2, 0.8),
) -> np.ndarray:
    """Indices of the informative subset (int array, in selection order). ``reward_mean`` (one per
    prompt) and ``band`` are used by ``strategy="band"`` only."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {strategy!r}; choose one of {STRATEGIES}")
    rng = np.random.default_rng(seed)
    if strategy == "uniform":  # the weights play no part, whatever their values
        n = _check_shape(weights).size
        return rng.permutation(n)[:subset_size(n, fraction)].astype(int)
    if strategy == "band":
        n = _check_shape(weights).size
        if reward_mean is None or np.shape(reward_mean) != (n,):
            raise ValueError(f"sampling strategy 'band' needs reward_mean, one mean reward per prompt ({n}); "
                             f"got {None if reward_mean is None else np.shape(reward_mean)}")
        return band_subset(np.asarray(reward_mean, dtype=float), subset_size(n, fraction), band, rng)
    w = _check_weights(weights)
    k = subset_size(w.size, fraction)
    pos = w > 0

    if strategy == "greedy":
        order = np.lexsort((np.arange(w.size), -w))  # by weight desc, then index
        return order[:k]
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
    buffer_weights: np.ndarray | None = None,
) -> NextSetMix:
    """Step 5: X_{t+1} = ``evolved_ratio`` evolved prompts + the rest from the buffer pool.

    If fewer evolved prompts were accepted than the ratio asks for, the gap is back-filled from the
    buffer (counted in ``backfilled``) so the set keeps its size; if both run short the set is smaller.
    The buffer is drawn uniformly from the pool, or, with ``buffer_weights`` (one per pool prompt, e.g.
    informativeness), it is the highest-weight pool prompts (ties in random order).
    """
    if buffer_weights is not None and np.shape(buffer_weights) != (n_buffer_pool,):
        raise ValueError(f"buffer_weights has shape {np.shape(buffer_weights)}; expected ({n_buffer_pool},)")
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
    take_e = min(n_evolved, size - take_b)  # buffer short: use more evolved prompts (unchanged when the set is full)
    evolved = np.sort(rng.choice(n_evolved, size=take_e, replace=False))
    if buffer_weights is not None and take_b:
        bw = np.nan_to_num(np.asarray(buffer_weights, dtype=float), nan=-np.inf)
        order = rng.permutation(n_buffer_pool)  # random tie-break, then the largest weights first
        buffer = np.sort(order[np.argsort(-bw[order], kind="stable")][:take_b])
    else:
        buffer = np.sort(rng.choice(n_buffer_pool, size=take_b, replace=False))
    return NextSetMix(evolved=evolved.astype(int), buffer=buffer.astype(int), backfilled=int(backfilled))
