"""Resident memory of an eva run, stage by stage: RSS when each stage starts, its peak and RSS when it ends.

    python benchmarks/bench_memory.py --quick                     # the ci profile, 2 iterations (minutes)
    python benchmarks/bench_memory.py --profile demo --iterations 2 --threads 1
    python benchmarks/bench_memory.py --quick --compare           # with and without returning freed memory
    python benchmarks/bench_memory.py --quick --online --compare  # online runs in a row (run_online_arms)

A thread samples this process's VmRSS (/proc/self/status) every 50 ms while the loop runs its stages one by
one. ``--compare`` runs the same configuration twice, each in a fresh process: once as the library runs it
(``evalab.loop.release_memory`` after a model is dropped: gc, then glibc's ``malloc_trim``), once with
``release_memory`` reduced to ``gc.collect()``, and prints the ratio of the peaks and of the RSS each stage
leaves behind. Linux only (reads /proc). The RSS a stage leaves is what the next stage, or another process on
the machine (a second grid lane, the tests), cannot use.

``--online``: the same for ``reproduce-online``'s loop, ``evalab.reproduction.run_online_arms`` running
``--runs`` online-eva runs (seeds 1..runs, ``--steps`` GRPO steps each, an evolution event every step) one after
another in one process: one row per run, RSS when it starts, its peak, and RSS once the next could start.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Sampler(threading.Thread):
    """Keeps the peak RSS since the last ``reset``."""

    def __init__(self, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.every, self.peak, self.stop = every, rss_bytes(), threading.Event()

    def reset(self) -> int:
        self.peak = now = rss_bytes()
        return now

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.every)


def measure(args: argparse.Namespace) -> list[dict]:
    """Run the loop stage by stage in this process; one row per stage."""
    import evalab.loop
    from evalab.__main__ import _parse_set
    from evalab.config import profile_config

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as run_dir:  # the run's checkpoints go with it
        cfg = profile_config(args.profile, run_dir=run_dir, iterations=args.iterations, **_parse_set(args.set))
        run = evalab.loop.EvaRun(cfg, progress=False)
        sampler = Sampler()
        sampler.start()
        for t, stage in run.pending():
            start = sampler.reset()
            t0 = time.time()
            run.run_stage(t, stage)
            rows.append({"iteration": t, "stage": stage, "start": start, "peak": max(sampler.peak, rss_bytes()),
                         "end": rss_bytes(), "seconds": time.time() - t0})
        sampler.stop.set()
    return rows


def measure_online(args: argparse.Namespace) -> list[dict]:
    """``run_online_arms`` over seeds 1..``args.runs`` in this process; one row per run."""
    from evalab.__main__ import _parse_set
    from evalab.config import profile_config
    from evalab.online import run_online_eva
    from evalab.reproduction import run_online_arms

    rows: list[dict] = []
    sampler = Sampler()
    sampler.start()

    def one_run(cfg, **kw):  # noqa: ANN001, ANN003 - run_online_arms' run_fn
        start = sampler.reset()
        t0 = time.time()
        run_online_eva(cfg, **kw)
        rows.append({"iteration": len(rows) + 1, "stage": f"online seed{cfg.seed}", "start": start,
                     "peak": max(sampler.peak, rss_bytes()), "seconds": time.time() - t0})

    with tempfile.TemporaryDirectory(prefix="bench_memory_") as root:
        cfg = profile_config(args.profile, run_dir=root, **{"n_eval": 4, **_parse_set(args.set)})
        run_online_arms(cfg, list(range(1, args.runs + 1)), root, steps=args.steps, evolve_every=1,
                        arms=["online-eva"], run_fn=one_run, progress=False, save_model=True)
    sampler.stop.set()
    for r, nxt in zip(rows, rows[1:]):  # what a run leaves = what the next one starts on
        r["end"] = nxt["start"]
    rows[-1]["end"] = rss_bytes()  # run_online_arms has released after the last run too
    return rows


def show(rows: list[dict], title: str) -> None:
    gb = 1e9
    print(title)
    print(f"{'it':>3} {'stage':16s} {'start GB':>9s} {'peak GB':>8s} {'end GB':>7s} {'seconds':>8s}")
    for r in rows:
        print(f"{r['iteration']:>3} {r['stage']:16s} {r['start'] / gb:9.2f} {r['peak'] / gb:8.2f} {r['end'] / gb:7.2f} "
              f"{r['seconds']:8.1f}")
    print(f"run peak {max(r['peak'] for r in rows) / gb:.2f} GB; RSS at the end {rows[-1]['end'] / gb:.2f} GB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--quick", action="store_true", help="the ci profile")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (OMP_NUM_THREADS)")
    ap.add_argument("--no-release", action="store_true", help="release_memory is gc.collect() only")
    ap.add_argument("--compare", action="store_true", help="run with and without release_memory, fresh processes")
    ap.add_argument("--online", action="store_true", help="online runs in a row (run_online_arms), one row per run")
    ap.add_argument("--runs", type=int, default=3, help="--online: runs in a row (seeds 1..runs)")
    ap.add_argument("--steps", type=int, default=2, help="--online: GRPO steps per run")
    ap.add_argument("--json", default=None, help=argparse.SUPPRESS)  # --compare's children write their rows here
    args = ap.parse_args()
    if args.quick:
        args.profile = "ci"
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    if not args.compare:
        if args.no_release:
            import evalab.loop

            evalab.loop.release_memory = lambda: gc.collect()  # the baseline: drop references, keep the heap
        rows = measure_online(args) if args.online else measure(args)
        if args.json:
            Path(args.json).write_text(json.dumps(rows))
        what = f"{args.runs} online runs of {args.steps} steps" if args.online else f"{args.iterations} iterations"
        show(rows, f"{args.profile}, {what}" + (", release_memory = gc only" if args.no_release else ""))
        return
    base = [sys.executable, __file__, "--profile", args.profile, "--iterations", str(args.iterations),
            *[x for s in args.set for x in ("--set", s)], *(["--threads", str(args.threads)] if args.threads else []),
            *(["--online", "--runs", str(args.runs), "--steps", str(args.steps)] if args.online else [])]
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        for i, (name, extra) in enumerate((("release", []), ("gc only", ["--no-release"]))):
            path = Path(tmp) / f"rows{i}.json"
            subprocess.run([*base, *extra, "--json", str(path)], check=True)
            out[name] = json.loads(path.read_text())
    a, b = out["release"], out["gc only"]
    print(f"\n{'it':>3} {'stage':16s} {'end GB: release':>16s} {'gc only':>8s} {'ratio':>6s}")
    for x, y in zip(a, b):
        print(f"{x['iteration']:>3} {x['stage']:16s} {x['end'] / 1e9:16.2f} {y['end'] / 1e9:8.2f} "
              f"{x['end'] / y['end']:6.2f}")
    pa, pb = max(r["peak"] for r in a), max(r["peak"] for r in b)
    ea, eb = (sum(r["end"] for r in rows) / len(rows) for rows in (a, b))
    print(f"peak RSS: {pa / 1e9:.2f} GB with release_memory, {pb / 1e9:.2f} GB gc only (ratio {pa / pb:.2f}); "
          f"mean RSS a stage leaves: {ea / 1e9:.2f} vs {eb / 1e9:.2f} GB (ratio {ea / eb:.2f})")


if __name__ == "__main__":
    main()
