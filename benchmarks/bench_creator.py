"""Creator throughput: concurrent vs sequential calls against the local test server with injected latency.

    python benchmarks/bench_creator.py                                # latency 0.2 s, concurrency 32 vs 1
    python benchmarks/bench_creator.py --latency 0.5 --calls 256 --concurrency 64 --seq-calls 24

A hosted creator answers in hundreds of milliseconds to seconds, so the creator step is latency-bound: the
EvolInstructCreator keeps ``concurrency`` litellm calls in flight. Both arms run the full creator path
(templates -> litellm.acompletion -> OpenAI-compatible HTTP on 127.0.0.1 -> cleaning -> validation) against
``evalab.testing_server.FakeChatServer`` with ``--latency`` seconds per answer; one warm-up batch first
(litellm's first call in a process spends seconds on lazy imports). Prints calls/s of each arm and the
ratio (goal: >= 20x at concurrency 32 with 0.2 s latency). The sequential arm runs fewer calls
(``--seq-calls``): its rate is per call, so the arms compare directly. It also prints the CPU time per call
(litellm's client-side work dominates: on a busy 2-core machine that, not the latency, caps the speed-up).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

import evalab  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)
from evalab.creator import EvolInstructCreator
from evalab.prompts import Prompt
from evalab.testing_server import FakeChatServer


def answer(request: dict) -> str:
    """A distinct valid evolved prompt per request, so every variant is accepted (the full path runs)."""
    return (f"Explain, in {3 + int(request.get('seed', 0)) % 4} numbered steps, how a beginner can learn "
            f"skill number {request.get('seed')} safely, and name one common mistake.")


def make_prompts(n: int) -> list[Prompt]:
    return [Prompt(id=f"b{i}", text=f"Write a short guide to hobby number {i} for a complete beginner.",
                   domain="howto") for i in range(n)]


def run_arm(srv: FakeChatServer, n_calls: int, concurrency: int, seed: int) -> dict:
    """Evolve ``n_calls`` variants (one per prompt) at ``concurrency``; calls/s over the whole evolve()."""
    creator = EvolInstructCreator("openai/bench-creator", api_base=srv.api_base, api_key="sk-bench-not-a-key",
                                  concurrency=concurrency, max_retries=2, timeout=30)
    t0, c0 = time.perf_counter(), time.process_time()
    variants = creator.evolve(make_prompts(n_calls), 1, iteration=1, seed=seed, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0  # cpu includes the server's threads
    accepted = sum(v.accepted for v in variants)
    if accepted != n_calls:
        raise RuntimeError(f"only {accepted}/{n_calls} variants accepted: "
                           f"{sorted({v.reason for v in variants if not v.accepted})}")
    return {"concurrency": concurrency, "calls": n_calls, "seconds": round(seconds, 3),
            "calls_per_s": round(n_calls / seconds, 2), "cpu_ms_per_call": round(1000 * cpu / n_calls, 1),
            "retries": creator.last_stats.get("retries", 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.2, help="seconds per answer of the fake provider")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--calls", type=int, default=256, help="calls of the concurrent arm")
    ap.add_argument("--seq-calls", type=int, default=24, help="calls of the sequential arm")
    ap.add_argument("--out", default="", help="optional JSON file for the results")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with FakeChatServer(latency=args.latency, responses=answer) as srv:
        run_arm(srv, 8, 8, seed=0)  # warm-up: litellm lazy imports, client set-up
        seq = run_arm(srv, args.seq_calls, 1, seed=1)
        con = run_arm(srv, args.calls, args.concurrency, seed=2)
    ratio = con["calls_per_s"] / seq["calls_per_s"]
    ideal = min(args.concurrency, args.calls)
    print(f"latency {args.latency:.2f} s per call (FakeChatServer on 127.0.0.1)")
    print(f"sequential    : {seq['calls']:4d} calls in {seq['seconds']:7.2f} s = {seq['calls_per_s']:7.2f} calls/s")
    print(f"concurrency {args.concurrency:2d}: {con['calls']:4d} calls in {con['seconds']:7.2f} s = "
          f"{con['calls_per_s']:7.2f} calls/s")
    print(f"speed-up      : {ratio:.1f}x (ideal {ideal}x; goal >= 20x)")
    print(f"CPU per call (client + server threads, this process): sequential {seq['cpu_ms_per_call']} ms, "
          f"concurrent {con['cpu_ms_per_call']} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"latency": args.latency, "sequential": seq, "concurrent": con, "ratio": round(ratio, 2)},
                      fh, indent=2)


if __name__ == "__main__":
    main()
