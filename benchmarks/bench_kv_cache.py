"""The loop decoder's key/value cache: transformers' DynamicCache (torch.cat per step) vs evalab's in-place buffers.

    python benchmarks/bench_kv_cache.py                                   # evolved prompts of data/demo_run
    python benchmarks/bench_kv_cache.py --prompts runs/x/iter_000/next_prompts.parquet --n 4 --max-new-tokens 64

Both arms decode the same prompts with the same seed in one process, in ABBA order (stock, in-place, in-place,
stock), and print each run's wall time, the ratio of the means, and whether the tokens are identical.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", default=str(ROOT / "data" / "demo_run" / "iter_001" / "prompts.parquet"),
                    help="a parquet file with a `text` column (a run store's prompts / next_prompts table)")
    ap.add_argument("--n", type=int, default=4, help="samples per prompt")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    a = ap.parse_args()
    import pandas as pd
    import torch
    from transformers import DynamicCache

    import evalab.generation as g

    if a.threads:
        torch.set_num_threads(a.threads)
    prompts = pd.read_parquet(a.prompts)["text"].tolist()
    b = g.TransformersBackend("smollm2-135m")
    b.generate(prompts[:2], n=2, max_new_tokens=4, seed=1, progress=False)  # warm-up
    arms = {"stock": lambda model, capacity: DynamicCache(config=model.config), "in-place": g.preallocated_cache}
    times: dict[str, list[float]] = {k: [] for k in arms}
    outs: dict[str, list] = {}
    load0 = os.getloadavg()[0]
    try:
        for arm in ("stock", "in-place", "in-place", "stock"):
            g.preallocated_cache = arms[arm]
            t = time.perf_counter()
            outs[arm] = b.generate(prompts, n=a.n, max_new_tokens=a.max_new_tokens, seed=7, progress=False)
            times[arm].append(time.perf_counter() - t)
            print(f"{arm:9s} {times[arm][-1]:7.1f} s", flush=True)
    finally:
        g.preallocated_cache = arms["in-place"]
    mean = {k: sum(v) / len(v) for k, v in times.items()}
    print(f"{len(prompts)} prompts × {a.n} × ≤{a.max_new_tokens} tokens, torch threads {torch.get_num_threads()}, "
          f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"stock {mean['stock']:.1f} s, in-place {mean['in-place']:.1f} s: {mean['stock'] / mean['in-place']:.2f}x; "
          f"identical tokens: {outs['stock'] == outs['in-place']}")


if __name__ == "__main__":
    main()
