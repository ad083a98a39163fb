"""Step 2 of eva: informativeness weights w(x) from the rewards of N sampled responses.

    import numpy as np, evalab
    r = np.array([[0.2, 0.9, 0.5], [1.0, 1.0, 1.0]])      # (n_prompts, n_samples)
    evalab.informativeness(r)                              # -> array([0.7, 0. ])  (A*_min, the default)
    evalab.informativeness(r, metric="a_avg")              # max - mean
    sampling_weights(r, metric="avg")                      # the same metric mapped to weights >= 0 (step 3)

eva (Ye et al. 2024, §3.3) estimates how much a prompt can still teach the solver by the *regret* proxy
of its sampled rewards. With r_(1) >= r_(2) >= ... >= r_(N) the sorted rewards of one prompt:

    a_min      A*_min   = r_(1) - r_(N)        max - min  (the paper's default)
    a_avg      A*_avg   = r_(1) - mean(r)      max - mean (the poster's form)
    a_dts      A*_dts   = r_(1) - r_(2)        max - second max (our reading of "dts"; 0 when the top two tie)
    var        Var(r)   = mean((r - mean r)^2) population variance
    avg        mean(r)                         (ablation: prefers prompts the solver already does well)
    inv_avg    1 / (mean(r~) + eps)            (ablation: prefers hard prompts; r~ = rewards on [0, 1], below)
    inv_a_min  1 / (A*_min + eps)              (ablation: prefers the *least* informative prompts)
    uniform    1                               (no preference)

Rewards of any sign (reward-model logits in [-10, 10], judge scores 1-10, pass rates in [0, 1]):
every metric is defined on any real rewards, and step 3 samples with *weights* >= 0 obtained from the
metric values by :func:`sampling_weights`. The mapping (one prompt set X_t at a time):

- r~, the rewards on [0, 1]: when every valid reward of the set already lies in [0, 1] (pass rates, the
  constraint reward) r~ = r, unchanged; otherwise r~ = (r - min r) / (max r - min r) with min and max over
  every valid reward of the set (all zeros when the set has one reward value). An affine change of the
  reward (logits shifted or scaled) thus leaves r~, and every weight below, unchanged;
- spread metrics (a_min, a_avg, a_dts, var): already >= 0 and shift-invariant; weight = value;
- avg: the value is the raw mean reward (may be negative); weight = mean(r~), i.e. the mean shifted by the
  set's lowest reward and divided by its range (a min-shift per set): the prompt whose samples all got the
  set's lowest reward has weight 0 and is sampled last, as zero weights are;
- inv_avg: value = weight = 1 / (mean(r~) + eps), on r~ so that it never divides by a negative or
  near-zero mean of raw logits (identical to 1 / (mean(r) + eps) on [0, 1] rewards);
- inv_a_min, uniform: > 0 already; weight = value;
- a callable metric: weight = value when every value is >= 0, else value - min(value) (min-shift per set).

The eva paper turns scores into weights for its weighted sampling without giving the formula for signed
rewards; the per-set min-shift / rescale above is evalab's choice, the one that keeps every ablation
runnable with a reward model and leaves [0, 1] rewards exactly as before.

Defined behaviour at the edges:
- rewards may be ragged (a list of lists) or contain NaN: NaN means *missing* (a failed generation or
  a reward function that declined to score); metrics use the valid entries of each row only;
- a row with fewer than 2 valid rewards has no observable spread: spread metrics give 0, avg gives
  mean of what exists (0 if none) — never NaN;
- all-equal rows give exactly 0 for the spread metrics (spreads below ``tol`` are snapped to 0, so
  float noise from continuous rewards does not count as informative);
- inverse metrics are finite: at zero they give 1/eps;
- +-inf anywhere, or a non-2-D array, raises ValueError naming the prompt (index or id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import numpy as np

from .config import METRICS

MetricFn = Callable[[np.ndarray], np.ndarray]
Rewards = Union[np.ndarray, Sequence[Sequence[float]]]


def as_reward_matrix(rewards: Rewards, prompt_ids: Sequence[str] | None = None) -> np.ndarray:
    """(n_prompts, n_samples) float array; ragged rows are padded with NaN (= missing).

    Raises ValueError for a wrong shape or an infinite reward, naming the prompt.
    """
    if isinstance(rewards, np.ndarray):
        r = rewards.astype(float, copy=False)
        if r.ndim != 2:
            raise ValueError(f"rewards must be 2-D (n_prompts, n_samples); got shape {r.shape}")
    else:
        rows = [np.asarray(row, dtype=float).reshape(-1) if row is not None else np.empty(0) for row in rewards]
        for i, row in enumerate(rewards):
            if row is not None and np.ndim(row) > 1:
                raise ValueError(f"rewards for prompt {_name(i, prompt_ids)} must be 1-D; got shape {np.shape(row)}")
        width = max((len(x) for x in rows), default=0)
        r = np.full((len(rows), width), np.nan)
        for i, row in enumerate(rows):
            r[i, : len(row)] = row
    if prompt_ids is not None and len(prompt_ids) != r.shape[0]:
        raise ValueError(f"got {len(prompt_ids)} prompt ids for {r.shape[0]} reward rows")
    if np.isinf(r).any():
        bad = np.isinf(r).any(axis=1)
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"reward of prompt {_name(i, prompt_ids)} is infinite: {r[i].tolist()} "
                         f"({int(bad.sum())} prompt(s) affected); fix the reward function or mark failures NaN")
    return r


def _name(i: int, ids: Sequence[str] | None) -> str:
    return f"#{i} (id={ids[i]!r})" if ids is not None else f"#{i}"


# One small function per metric; each takes the (n_prompts, n_samples) matrix with NaN for missing.
# The primitives loop over the N columns (N is small) with whole-column numpy ops: reductions along a
# short inner axis are several times slower in numpy than N passes over contiguous-ish columns.

def _valid_count(r: np.ndarray) -> np.ndarray:
    n = np.zeros(r.shape[0], dtype=np.int64)
    for j in range(r.shape[1]):
        n += r[:, j] == r[:, j]  # False for NaN
    return n


def _col_reduce(r: np.ndarray, op: np.ufunc) -> np.ndarray:
    """NaN-ignoring column reduction with np.fmax/np.fmin (an all-NaN row stays NaN)."""
    if r.shape[1] == 0:
        return np.full(r.shape[0], np.nan)
    out = r[:, 0].copy()
    for j in range(1, r.shape[1]):
        op(out, r[:, j], out=out)
    return out


def _nanmax(r: np.ndarray) -> np.ndarray:
    return _col_reduce(r, np.fmax)


def _nanmin(r: np.ndarray) -> np.ndarray:
    return _col_reduce(r, np.fmin)


def _nanmean(r: np.ndarray) -> np.ndarray:
    n = _valid_count(r)
    s = np.zeros(r.shape[0])
    for j in range(r.shape[1]):
        col = r[:, j]
        s += np.where(col == col, col, 0.0)
    return s / np.maximum(n, 1)  # s is 0 where no reward is valid: the mean is 0 there


def _spread(x: np.ndarray, n: np.ndarray, tol: float) -> np.ndarray:
    """Zero where fewer than 2 valid rewards or where the spread is float noise."""
    return np.where((n >= 2) & (np.abs(x) > tol), x, 0.0)


def a_min(r: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """A*_min = max_i r_i - min_i r_i (eva's default)."""
    return _spread(_nanmax(r) - _nanmin(r), _valid_count(r), tol)


def a_avg(r: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """A*_avg = max_i r_i - mean_i r_i."""
    return _spread(_nanmax(r) - _nanmean(r), _valid_count(r), tol)


def a_dts(r: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """A*_dts = r_(1) - r_(2): gap between the best and the second-best sample (0 on a tie at the top)."""
    top1 = np.full(r.shape[0], -np.inf)
    top2 = np.full(r.shape[0], -np.inf)
    for j in range(r.shape[1]):
        col = np.where(np.isnan(r[:, j]), -np.inf, r[:, j])
        top2 = np.maximum(top2, np.minimum(top1, col))  # the loser of (top1, col) competes for 2nd place
        top1 = np.maximum(top1, col)
    ok = np.isfinite(top2)  # at least two valid rewards
    gap = np.zeros(r.shape[0])
    gap[ok] = top1[ok] - top2[ok]
    return _spread(gap, _valid_count(r), tol)


def var(r: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Population variance of the valid rewards."""
    mu = _nanmean(r)
    n = _valid_count(r)
    d2 = np.zeros(r.shape[0])
    for j in range(r.shape[1]):
        d = r[:, j] - mu
        d2 += np.where(d == d, d * d, 0.0)
    v = d2 / np.maximum(n, 1)  # d2 is 0 where no reward is valid
    return _spread(v, n, tol)


def avg(r: np.ndarray) -> np.ndarray:
    """Mean reward (0 for a row with no valid reward)."""
    return _nanmean(r)


def unit_rewards(r: np.ndarray) -> np.ndarray:
    """The rewards of one set on [0, 1] (r~ in the module docstring): unchanged when every valid reward is
    already in [0, 1], else min-max rescaled over every valid reward of the set (NaN stays NaN)."""
    valid = r[r == r]
    if valid.size == 0 or (valid.min() >= 0.0 and valid.max() <= 1.0):
        return r
    lo, hi = float(valid.min()), float(valid.max())
    if hi - lo <= 0.0:
        return np.where(r == r, 0.0, np.nan)
    return (r - lo) / (hi - lo)


def inv_avg(r: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """1 / (mean(r~) + eps) with r~ the set's rewards on [0, 1] (:func:`unit_rewards`); rewards already
    on [0, 1] are used as they are."""
    return 1.0 / (_nanmean(unit_rewards(r)) + eps)


def inv_a_min(r: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """1 / (A*_min + eps): at zero spread the weight is 1/eps."""
    return 1.0 / (a_min(r) + eps)


def uniform(r: np.ndarray) -> np.ndarray:
    return np.ones(r.shape[0])


_METRIC_FNS: dict[str, MetricFn] = {
    "a_min": a_min, "a_avg": a_avg, "a_dts": a_dts, "var": var, "avg": avg,
    "inv_avg": inv_avg, "inv_a_min": inv_a_min, "uniform": uniform,
}
assert set(_METRIC_FNS) == set(METRICS)


_CHUNK = 32_768  # rows per block for large reward matrices


def informativeness(
    rewards: Rewards,
    metric: str | MetricFn = "a_min",
    prompt_ids: Sequence[str] | None = None,
) -> np.ndarray:
    """Informativeness weight per prompt: rewards (n_prompts, n_samples) -> weights (n_prompts,).

    ``metric`` is one of ``evalab.config.METRICS`` or a callable taking the (n_prompts, n_samples)
    reward matrix (NaN = missing) and returning one finite number per prompt.
    """
    r = as_reward_matrix(rewards, prompt_ids)
    if callable(metric):
        w = np.asarray(metric(r), dtype=float)
        name = getattr(metric, "__name__", "callable")
        if w.shape != (r.shape[0],):
            raise ValueError(f"metric {name!r} returned shape {w.shape}; expected ({r.shape[0]},)")
        if not np.isfinite(w).all():
            i = int(np.flatnonzero(~np.isfinite(w))[0])
            raise ValueError(f"metric {name!r} returned {w[i]} for prompt {_name(i, prompt_ids)}")
        return w
    if metric not in _METRIC_FNS:
        raise ValueError(f"unknown informativeness metric {metric!r}; choose one of {METRICS} or pass a callable")
    if r.shape[0] == 0:
        return np.zeros(0)
    fn = _METRIC_FNS[metric]
    if metric == "inv_avg":  # normalised over the whole set, so never in row blocks
        return fn(r)
    if r.shape[0] <= _CHUNK:
        return fn(r)
    # large sets: cache-sized row blocks (the column passes then stay in cache), ~3x faster at 1M x 6
    return np.concatenate([fn(r[i:i + _CHUNK]) for i in range(0, r.shape[0], _CHUNK)])


def all_metrics(rewards: Rewards, prompt_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Every built-in metric on the same rewards (each applies to rewards of any sign)."""
    r = as_reward_matrix(rewards, prompt_ids)
    return {m: informativeness(r, m, prompt_ids) for m in METRICS}


def weights_from_values(values: np.ndarray, metric: str | MetricFn, rewards: Rewards | None = None) -> np.ndarray:
    """Step 3's sampling weights (>= 0) from one set's metric values (the mapping in the module docstring).

    ``avg`` needs the set's ``rewards`` (its weight is the mean of the rewards on [0, 1]); the other
    built-in metrics are >= 0 already; any other (callable) metric is min-shifted when it has negative values.
    """
    v = np.asarray(values, dtype=float)
    if metric == "avg":
        if rewards is None:
            raise ValueError("metric 'avg': its sampling weights need the rewards (mean of the rewards on [0, 1])")
        return _nanmean(unit_rewards(as_reward_matrix(rewards)))
    if isinstance(metric, str) and metric in _METRIC_FNS:
        return np.maximum(v, 0.0)  # >= 0 by definition; clips -0.0 and float noise
    return v - v.min() if v.size and v.min() < 0 else v


def sampling_weights(rewards: Rewards, metric: str | MetricFn = "a_min",
                     prompt_ids: Sequence[str] | None = None) -> np.ndarray:
    """Weights >= 0 for step 3 (``sample_subset``) under ``metric``, for rewards of any sign.

    Equal to ``informativeness(rewards, metric)`` for every built-in metric but ``avg`` (see the module
    docstring for the mapping).
    """
    r = as_reward_matrix(rewards, prompt_ids)
    return weights_from_values(informativeness(r, metric, prompt_ids), metric, r)


def reward_stats(rewards: Rewards) -> dict[str, np.ndarray]:
    """Per-prompt summary used by the run store and plots: mean, max, min, n_valid."""
    r = as_reward_matrix(rewards)
    n = _valid_count(r)
    return {
        "reward_mean": _nanmean(r),
        "reward_max": np.where(n > 0, _nanmax(r), np.nan),
        "reward_min": np.where(n > 0, _nanmin(r), np.nan),
        "n_valid": n,
    }
