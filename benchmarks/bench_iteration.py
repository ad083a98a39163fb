"""Wall time per stage of one eva iteration on the embedded default (profile "ci" unless told otherwise).

    python benchmarks/bench_iteration.py                     # one ci-profile iteration, fresh temp run dir
    python benchmarks/bench_iteration.py --profile demo --set n_prompts=16

Prints one row per stage (seconds and share of the iteration) from the run's own event log, so the
numbers are the ones a notebook run records. Set OMP_NUM_THREADS=1 on a machine shared with other jobs:
on 2 busy cores torch's default 2 threads spin-wait and run several times slower.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from evalab.__main__ import _parse_set
from evalab.config import profile_config
from evalab.loop import EvaRun


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="ci", choices=["ci", "demo", "paper"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    run_dir = tempfile.mkdtemp(prefix="evalab-bench-")
    cfg = profile_config(a.profile, run_dir=run_dir, iterations=1, **_parse_set(a.set))
    t0 = time.time()
    EvaRun(cfg, progress=False).run()
    total = time.time() - t0
    ev = EvaRun(cfg, progress=False).store.events()
    st = ev[ev.event == "stage_end"][["iteration", "stage", "seconds"]]
    print(f"profile={a.profile} prompts={cfg.n_prompts} N={cfg.n_responses} new_tokens={cfg.max_new_tokens} "
          f"torch_threads={torch.get_num_threads()}  run_dir={run_dir}")
    print(f"{'iteration':>9s} {'stage':16s} {'seconds':>8s} {'share':>6s}")
    for r in st.itertuples():
        print(f"{int(r.iteration):9d} {r.stage:16s} {r.seconds:8.1f} {r.seconds / total:6.1%}")
    print(f"{'':9s} {'total (wall)':16s} {total:8.1f}")


if __name__ == "__main__":
    main()
