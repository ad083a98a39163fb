"""Replay one iteration's training of a finished run, uninterrupted, and compare the next held-out evaluation.

A diagnostic for "did a crash and resume change this run?": the run's earlier iterations and every stage of
iteration ``t`` but its training (prompts, responses, weights, subset, a trained creator, evolved prompts, next
set, step-6 responses, pairs) are copied into a fresh run directory; iteration ``t``'s training runs there from
the start, uninterrupted (from θ_t: the base solver for t = 0, else the stored checkpoint t - 1, which must not
have been pruned), then the held-out evaluation of θ_{t+1}. It prints the rates of both and how many of the held-out responses are identical.

    python scripts/replay_iteration.py runs/reproduction/band/seed1 --iteration 0 --out runs/replay/band1

Exit status 0 when every held-out response is identical, 1 when any differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from evalab.config import EvaConfig
from evalab.loop import EvaRun


def replay(run: Path, t: int, out: Path) -> int:
    src_eval = run / f"iter_{t + 1:03d}" / "eval.json"
    if not src_eval.exists():
        raise SystemExit(f"{src_eval} is missing: iteration {t + 1}'s evaluation has not run in {run}")
    if out.exists():
        raise SystemExit(f"--out {out} exists; pass a new directory")
    cfg = json.loads((run / "config.json").read_text())
    cfg["run_dir"] = str(out)
    out.mkdir(parents=True)
    for k in range(t):  # earlier iterations whole: every stage finished, θ_t = their last checkpoint
        shutil.copytree(run / f"iter_{k:03d}", out / f"iter_{k:03d}")
    # iteration t without its training (the solver checkpoint, its trainer work dir and its train log)
    shutil.copytree(run / f"iter_{t:03d}", out / f"iter_{t:03d}",
                    ignore=lambda d, names: [n for n in names if Path(d) == run / f"iter_{t:03d}"
                                             and (n.startswith("checkpoint") or n == "train_log.parquet")])
    (out / f"iter_{t + 1:03d}").mkdir()
    shutil.copy(run / f"iter_{t + 1:03d}" / "prompts.parquet", out / f"iter_{t + 1:03d}" / "prompts.parquet")
    replay_run = EvaRun(EvaConfig.from_dict(cfg), progress=True)
    t0 = time.time()
    replay_run.run(until=(t + 1, "eval"))
    a, b = json.loads(src_eval.read_text()), json.loads((out / f"iter_{t + 1:03d}" / "eval.json").read_text())
    print(f"replayed iteration {t} in {time.time() - t0:.0f}s")
    for key in ("full_rate", "constraint_rate", "reward_mean"):
        print(f"{key}: stored {a[key]}, replayed {b[key]}")
    same = sum(x == y for x, y in zip(a["responses"], b["responses"]))
    print(f"identical held-out responses: {same} of {len(a['responses'])}")
    return 0 if same == len(a["responses"]) == len(b["responses"]) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run directory whose iteration t+1 has been evaluated")
    ap.add_argument("--iteration", type=int, default=0, help="the iteration whose training is replayed (t)")
    ap.add_argument("--out", type=Path, required=True, help="a new directory for the replay")
    args = ap.parse_args(argv)
    return replay(args.run, args.iteration, args.out)


if __name__ == "__main__":
    sys.exit(main())
