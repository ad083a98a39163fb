"""Seconds per pair-epoch of evalab's DPO training: reference log-probs once per call vs once per step.

    python benchmarks/bench_train_epochs.py               # 16 pairs × 2 epochs, batches of 8, both arms
    python benchmarks/bench_train_epochs.py --quick       # 8 pairs × 2 epochs
    python benchmarks/bench_train_epochs.py --lora        # also the new path with LoRA adapters

Arms, run one after another in one process on the same pairs (``bench_dpo_step.make_pairs``) and config
(the demo profile's DPO recipe, ``max_length`` 384):

* ``per-step ref``  — ``precompute_ref_log_probs=False``: a reference forward for every pair every epoch
                      (the old path);
* ``precomputed``   — evalab's default: the reference pass once per ``train_preference`` call;
* ``precomputed+lora`` (``--lora``) — the same with LoRA adapters (r 16) instead of all weights.

Both arms use the length-bucketed batches. Prints wall seconds of ``trainer.train()`` (reference pass
included), seconds per pair-epoch, the ratio and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_dpo_step import make_pairs  # noqa: E402


def run_arm(cfg, pairs, overrides: dict | None) -> float:
    from evalab.training import build_trainer

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()  # the precomputed reference pass runs while the trainer is built
        trainer, _, _ = build_trainer(cfg, "smollm2-135m", pairs, Path(d), progress=False,
                                      overrides={"save_strategy": "no", **(overrides or {})})
        trainer.train()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--lora", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    import torch

    from evalab.config import profile_config

    if a.threads:
        torch.set_num_threads(a.threads)
    n = 8 if a.quick else a.pairs
    cfg = profile_config("demo")
    pairs = make_pairs(n)
    arms = [("per-step ref", cfg, {"precompute_ref_log_probs": False}), ("precomputed", cfg, None)]
    if a.lora:
        arms.append(("precomputed+lora", cfg.replace(lora=True), None))
    print(f"# {n} pairs × {cfg.epochs:g} epochs, batch {cfg.train_batch_size}; torch threads "
          f"{torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")
    rows = [(name, run_arm(c, pairs, o)) for name, c, o in arms]
    print(f"{'arm':<18}{'seconds':>9}{'s/pair-epoch':>14}{'× old':>7}")
    for name, secs in rows:
        print(f"{name:<18}{secs:>9.1f}{secs / (n * cfg.epochs):>14.2f}{rows[0][1] / secs:>7.2f}")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
