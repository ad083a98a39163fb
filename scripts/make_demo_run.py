"""Produce data/demo_run: a small real eva run (embedded model, 2 iterations) that notebook 02 opens
by default. Model checkpoints are left out (they are ~0.5 GB each); every table, eval and log stays.

    python scripts/make_demo_run.py                 # ~10-20 min on 2 CPU cores
    python scripts/make_demo_run.py --out /tmp/demo --iterations 3 --n-prompts 24

The run itself is `python -m evalab run --profile ci ...` with the settings below; this script only
copies its artifacts (not the checkpoints) into data/.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from evalab.config import profile_config
from evalab.loop import EvaRun

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "data" / "demo_run"))
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--n-prompts", type=int, default=16)
    ap.add_argument("--work", default=None, help="run directory to use (default: a temp dir; reusing one resumes)")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="evalab-demo-"))
    cfg = profile_config("ci", run_dir=str(work), iterations=a.iterations, n_prompts=a.n_prompts, n_eval=12,
                         n_responses=4, max_new_tokens=32, eval_max_new_tokens=32, subset_fraction=0.5)
    print(EvaRun(cfg).run().to_string(index=False))
    out = Path(a.out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(work, out, ignore=shutil.ignore_patterns("checkpoint", "_trainer", "*.tmp"))
    (out / "README.md").write_text(
        "# demo run\n\nA real eva run on the embedded model, produced by `python scripts/make_demo_run.py` "
        f"({a.iterations} iterations, {a.n_prompts} prompts, profile ci). Model checkpoints are not kept "
        "(size); every other stage file is. Open it with notebook 02 or `evalab.store.RunStore`.\n")
    print(f"demo run copied to {out}")


if __name__ == "__main__":
    main()
