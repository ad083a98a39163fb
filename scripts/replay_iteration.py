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
import shutil
import sys
import time
from pathlib import Path

from evalab.loop import EvaRun
from evalab.store import RunStore


def replay(run: Path, t: int, out: Path) -> int:
    src = RunStore(run)  # read-only: no config given, nothing in the source run is touched
    if not src.has(t + 1, "eval"):
        raise SystemExit(f"{src.path(t + 1, 'eval')} is missing: iteration {t + 1}'s evaluation has not run in {run}")
    if out.exists():
        raise SystemExit(f"--out {out} exists; pass a new directory")
    out.mkdir(parents=True)
    for k in range(t):  # earlier iterations whole: every stage finished, θ_t = their last checkpoint
        shutil.copytree(src.iter_dir(k), out / src.iter_dir(k).name)
    # iteration t without its training: the solver checkpoint (and its trainer work dir beside it) and the train log
    training = (src.path(t, "checkpoint").name, src.path(t, "train_log").name)
    shutil.copytree(src.iter_dir(t), out / src.iter_dir(t).name,
                    ignore=lambda d, names: [n for n in names if Path(d) == src.iter_dir(t) and n.startswith(training)])
    nxt = src.path(t + 1, "prompts")
    (out / nxt.parent.name).mkdir()
    shutil.copy(nxt, out / nxt.parent.name / nxt.name)
    replay_run = EvaRun(src.config.replace(run_dir=str(out)), progress=True)
    t0 = time.time()
    replay_run.run(until=(t + 1, "eval"))
    a, b = src.read_json(t + 1, "eval"), replay_run.store.read_json(t + 1, "eval")
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
