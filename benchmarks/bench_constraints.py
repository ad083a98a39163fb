"""Constraint checking speed: seconds per ``evalab.constraints.check`` call, every kind, on a 20-line response.

    python benchmarks/bench_constraints.py            # 200 rounds over every kind
    python benchmarks/bench_constraints.py --quick    # 20 rounds

The reward of step 1 checks every constraint of every response (P prompts × N samples × ~3 constraints), so a
check must stay far below a millisecond. Goal: < 2 ms per check (it was a test assertion; timing belongs here).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evalab import constraints as C


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    rounds = args.rounds or (20 if args.quick else 200)
    cs = [C.sample_constraint(k, np.random.default_rng(0)) for k in C.KIND_NAMES]
    text = ("- A bullet with some words, and commas.\n" * 20) + "P.S. done"
    per_kind = {}
    t_all = time.perf_counter()
    for c in cs:
        t0 = time.perf_counter()
        for _ in range(rounds):
            C.check(c, text)
        per_kind[c["kind"]] = (time.perf_counter() - t0) / rounds
    per_check = (time.perf_counter() - t_all) / (rounds * len(cs))
    for kind, s in sorted(per_kind.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  slowest: {kind:28s} {s * 1e6:8.1f} µs")
    print(f"{len(cs)} kinds x {rounds} rounds: {per_check * 1e6:.1f} µs per check (goal < 2000 µs): "
          f"{'met' if per_check < 2e-3 else 'NOT met'}")


if __name__ == "__main__":
    main()
