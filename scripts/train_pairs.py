"""Train a solver on preference pairs: a thin CLI around ``evalab.training.train_preference``.

    python scripts/train_pairs.py --config cfg.json --model smollm2-135m --pairs pairs.parquet --out runs/x/solver
    accelerate launch --config_file configs/accelerate_multigpu.yaml scripts/train_pairs.py --config ...   # DDP
    accelerate launch --config_file configs/accelerate_zero3.yaml scripts/train_pairs.py --config ...      # ZeRO-3

``--config`` is an ``EvaConfig`` json (``EvaConfig.save``); its trainer/recipe fields drive the run
(``cfg.train_batch_size`` pairs per optimizer step across all processes). ``--pairs`` is the parquet
frame written by ``evalab.pairs.build_pairs``. The trained model + tokenizer land in ``--out``; the
training summary (log history, runtime, resume point) in ``--out``/train_result.json. Re-running the
same command after a kill resumes from the last checkpoint in ``--work-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="EvaConfig json (EvaConfig.save)")
    p.add_argument("--model", required=True, help="start checkpoint: 'smollm2-135m', an HF id or a path")
    p.add_argument("--pairs", required=True, help="pairs parquet from evalab.pairs.build_pairs")
    p.add_argument("--out", required=True, help="output folder of the trained model + tokenizer")
    p.add_argument("--ref-model", default=None, help="reference model for DPO/SPPO (default: --model)")
    p.add_argument("--work-dir", default=None, help="trainer checkpoints (default: <out>.ckpt)")
    p.add_argument("--save-steps", type=int, default=None, help="checkpoint every N optimizer steps")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps (smoke tests)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    import pandas as pd

    from evalab.config import EvaConfig
    from evalab.training import train_preference

    a = parse_args(argv)
    for flag, path in (("--config", a.config), ("--pairs", a.pairs)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{flag} {path}: no such file")
    cfg = EvaConfig.load(a.config)
    pairs = pd.read_parquet(a.pairs)
    overrides = {"max_steps": a.max_steps} if a.max_steps is not None else None
    out = Path(a.out)
    result = train_preference(cfg, a.model, pairs, out, ref_model_path=a.ref_model,
                              work_dir=Path(a.work_dir) if a.work_dir else None, progress=not a.no_progress,
                              save_steps=a.save_steps, overrides=overrides)
    if int(os.environ.get("RANK", "0")) == 0:
        (out / "train_result.json").write_text(json.dumps(result, indent=2, default=str))
        last = next((h for h in reversed(result["log_history"]) if "loss" in h), {})
        print(f"trained {cfg.trainer} on {result['n_pairs']} pairs: {result['global_step']} steps, "
              f"{result['train_runtime']:.1f} s, last loss {last.get('loss', float('nan')):.4f} -> {out}")
    return result


if __name__ == "__main__":
    main()
