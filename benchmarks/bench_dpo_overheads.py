"""DPO on CPU around the training steps: the reference pass in dataset order vs sorted by length, and the
Trainer's end-of-training checkpoint written vs dropped, side by side.

    python benchmarks/bench_dpo_overheads.py                          # the 22 real pairs of data/demo_run
    python benchmarks/bench_dpo_overheads.py --pairs runs/x/iter_000/pairs.parquet
    python benchmarks/bench_dpo_overheads.py --threads 1              # one torch thread (a shared machine)

"before" is TRL's own reference pass (``precompute_ref_log_probs``: batches of 16 pairs in dataset order, each
padded to its longest pair) plus the checkpoint transformers writes at the last step (weights, optimizer and
scheduler, immediately superseded by the final model). "after" is evalab's: the reference pass over the pairs
sorted by length, and no checkpoint at the last step. Both arms run ``train_preference`` with the demo recipe
on the same pairs in one process, after a warm-up call (imports), in ABBA order, and print per run: the whole
call's wall time, the reference pass's seconds, the checkpoints written, and the first logged loss (log 2 in
both: at the first step the policy is its own reference; tests/test_training.py compares the loss off it).
The host's load average is printed before and after: on a shared machine every absolute figure moves with it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_arm(cfg, pairs, arm: str) -> dict[str, float]:
    """One ``train_preference`` call as ``arm`` ("before" / "after"): wall, reference-pass seconds, checkpoints."""
    from transformers import TrainerCallback
    from trl import DPOTrainer

    import evalab.training as tr

    timing = {"ref": 0.0, "saves": 0}
    real_class, real_callback = tr._trainer_class, tr._no_checkpoint_at_the_end

    def timed_class(trainer: str, bucketed: bool = True):
        cls = real_class(trainer, bucketed)
        inner = DPOTrainer._precompute_ref_logps if arm == "before" else cls._precompute_ref_logps

        def precompute(self, *a, **kw):
            t = time.perf_counter()
            try:
                return inner(self, *a, **kw)
            finally:
                timing["ref"] += time.perf_counter() - t

        return type(cls.__name__, (cls,), {"_precompute_ref_logps": precompute})

    class CountSaves(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            timing["saves"] += 1

    tr._trainer_class = timed_class
    if arm == "before":
        tr._no_checkpoint_at_the_end = TrainerCallback
    try:  # the trained model and its checkpoints (about 2 GB) go when the arm ends
        with tempfile.TemporaryDirectory(prefix="evalab-dpo-overheads-") as out_dir:
            t0 = time.perf_counter()
            res = tr.train_preference(cfg, "smollm2-135m", pairs, Path(out_dir) / "out", progress=False,
                                      keep_checkpoints=False, callbacks=[CountSaves()])
            wall = time.perf_counter() - t0
    finally:
        tr._trainer_class, tr._no_checkpoint_at_the_end = real_class, real_callback
    first = next(h["loss"] for h in res["log_history"] if "loss" in h)
    return {"wall": wall, "ref": timing["ref"], "saves": timing["saves"], "loss": float(first),
            "steps": res["global_step"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", default=None, help="a pairs.parquet of a run store (default: data/demo_run's)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    import pandas as pd
    from bench_lm_head_rows import demo_pairs

    from evalab.config import profile_config

    cfg = profile_config("demo")
    pairs = pd.read_parquet(a.pairs) if a.pairs else demo_pairs()
    load0 = os.getloadavg()[0]
    run_arm(cfg, pairs.head(2), "after")  # warm-up: imports, tokenizer, first model load
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    print(f"{'arm':8s} {'wall s':>8s} {'ref pass s':>11s} {'checkpoints':>12s} {'steps':>6s} {'first loss':>11s}")
    for arm in ("before", "after", "after", "before"):
        r = run_arm(cfg, pairs, arm)
        runs[arm].append(r)
        print(f"{arm:8s} {r['wall']:8.1f} {r['ref']:11.1f} {r['saves']:12d} {r['steps']:6d} {r['loss']:11.5f}",
              flush=True)
    mean = {k: {m: sum(r[m] for r in v) / len(v) for m in ("wall", "ref")} for k, v in runs.items()}
    print(f"{len(pairs)} pairs × {cfg.epochs:g} epoch, demo recipe (batch {cfg.train_batch_size}), torch threads "
          f"{torch.get_num_threads()}; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"mean wall: before {mean['before']['wall']:.1f} s, after {mean['after']['wall']:.1f} s "
          f"({mean['before']['wall'] / mean['after']['wall']:.2f}x); reference pass {mean['before']['ref']:.1f} → "
          f"{mean['after']['ref']:.1f} s ({mean['before']['ref'] / mean['after']['ref']:.2f}x)")


if __name__ == "__main__":
    main()
