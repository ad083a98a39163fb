"""Informativeness weights, vectorized vs a per-prompt Python loop (goal: >= 100x).

    python benchmarks/bench_weights.py            # 1M prompts x 6 rewards
    python benchmarks/bench_weights.py --quick    # 100K prompts

The loop baseline is what a first implementation looks like: for each prompt, drop missing rewards,
then max - min, with numpy on each row. Both must agree to 1e-12 before the timing counts. Also times weighted subset sampling.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evalab.informativeness import informativeness
from evalab.sampling import sample_subset


def loop_a_min(r: np.ndarray) -> np.ndarray:
    out = np.empty(len(r))
    for i, row in enumerate(r):
        v = row[~np.isnan(row)]  # drop missing rewards
        out[i] = v.max() - v.min() if v.size >= 2 else 0.0
    return out


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--prompts", type=int, default=None)
    a = ap.parse_args()
    n = a.prompts or (100_000 if a.quick else 1_000_000)
    rng = np.random.default_rng(0)
    r = rng.random((n, 6))
    r[rng.random((n, 6)) < 0.02] = np.nan
    np.testing.assert_allclose(informativeness(r, "a_min"), loop_a_min(r), atol=1e-12)
    t_vec = best_of(lambda: informativeness(r, "a_min"), 5)
    t_loop = best_of(lambda: loop_a_min(r), 1)
    w = informativeness(r, "a_min")
    t_samp = best_of(lambda: sample_subset(w, 0.25, "weighted", seed=0), 3)
    print(f"{'what':42s} {'seconds':>10s}")
    print(f"{f'A*_min, {n:,} x 6, per-prompt Python loop':42s} {t_loop:10.3f}")
    print(f"{f'A*_min, {n:,} x 6, evalab (numpy)':42s} {t_vec:10.4f}")
    print(f"{f'weighted 25% subset of {n:,}':42s} {t_samp:10.4f}")
    print(f"speed-up vectorized / loop: {t_loop / t_vec:.0f}x (goal >= 100x)")


if __name__ == "__main__":
    main()
