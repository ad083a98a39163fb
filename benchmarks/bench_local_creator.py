"""The embedded creator: sequential calls vs concurrent calls micro-batched by the local litellm provider.

    python benchmarks/bench_local_creator.py              # the demo's creator on 12 seed prompts (48 variants)
    python benchmarks/bench_local_creator.py --quick      # 3 prompts (a smoke run)

Both arms run the demo profile's creator (``make_creator(profile_config("demo"))``: the structured evolver,
its LLM rewrites through ``litellm.acompletion`` on the embedded model, the same cleaning and validation)
on the same selected prompts and seed:

* ``sequential`` — ``creator_concurrency=1``: one call to the embedded model at a time;
* ``batched``    — the demo's ``creator_concurrency`` (48): every call of a chain step is in flight at once, and
                   evalab's local provider (``evalab.llm.MicroBatcher``) generates them in one batched call.

With the paper's chained evolution a chain step can only batch the calls of that step (one per selected
prompt that needs an LLM rewrite; the structured evolver's code operators need none), so the batches are at
most the number of selected prompts; ``--evolution independent`` sends all ``n_variants`` calls per prompt at
once. Prints seconds, calls/s, accepted variants, the requests served per generation and the seconds of each
generation; ``--order bsb`` runs the batched arm before and after the sequential one (drift on a shared host).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evalab  # noqa: E402,F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)
from evalab import llm  # noqa: E402
from evalab.config import profile_config  # noqa: E402
from evalab.creator import make_creator  # noqa: E402
from evalab.prompts import load_prompts  # noqa: E402

def run_arm(name: str, concurrency: int, prompts, seed: int, evolution: str) -> dict:
    cfg = profile_config("demo", evolution=evolution)
    creator = make_creator(cfg.replace(creator_concurrency=concurrency))
    batcher = llm.get_batcher("smollm2-135m")
    n0 = len(batcher.batch_sizes)
    t0 = time.perf_counter()
    variants = creator.evolve(prompts, cfg.n_variants, iteration=1, seed=seed, progress=False)
    secs = time.perf_counter() - t0
    calls = creator.last_stats.get("calls", 0)
    sizes, gen_s = batcher.batch_sizes[n0:], batcher.batch_seconds[n0:]
    line = f"  {name}: {len(sizes)} generations, {sum(gen_s):.1f} s generating"
    if len(sizes) <= 8:
        line += "; per generation (requests, s): " + ", ".join(f"({k}, {x:.1f})" for k, x in zip(sizes, gen_s))
    print(line, flush=True)
    return {"arm": name, "variants": len(variants), "accepted": sum(v.accepted for v in variants),
            "calls": calls, "seconds": secs, "calls_per_s": calls / secs if secs else 0.0,
            "generations": len(sizes), "mean_batch": sum(sizes) / len(sizes) if sizes else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--evolution", default="chained", choices=["chained", "independent"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--order", default="sb", help="arms in run order, s(equential)/b(atched): 'sb' (default), "
                    "'bsb' (batched before and after, to see drift)")
    a = ap.parse_args()
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    n = 3 if a.quick else a.prompts
    cfg = profile_config("demo", evolution=a.evolution)
    prompts = load_prompts(cfg.prompt_set, n)
    llm.chat("evalab/smollm2-135m", [{"role": "user", "content": "hi"}], max_tokens=2, seed=0)  # warm-up
    print(f"# demo creator ({cfg.evolver}, {cfg.evolution}, max_tokens {cfg.creator_max_tokens}, concurrency "
          f"{cfg.creator_concurrency}) on {n} prompts × {cfg.n_variants} variants; load average "
          f"{os.getloadavg()[0]:.1f}")
    if set(a.order) != {"s", "b"}:
        ap.error(f"--order {a.order!r}: use the letters s and b, each at least once (e.g. sb, bsb)")
    arms = {"s": ("sequential", 1), "b": ("batched", cfg.creator_concurrency)}
    rows = [run_arm(*arms[k], prompts, a.seed, a.evolution) for k in a.order]
    print(f"{'arm':<12}{'calls':>6}{'seconds':>9}{'calls/s':>9}{'accepted':>10}{'generations':>13}{'req/gen':>9}")
    for r in rows:
        print(f"{r['arm']:<12}{r['calls']:>6}{r['seconds']:>9.1f}{r['calls_per_s']:>9.2f}"
              f"{r['accepted']:>5}/{r['variants']:<4}{r['generations']:>13}{r['mean_batch']:>9.1f}")
    secs = {arm: [r["seconds"] for r in rows if r["arm"] == arm] for arm in ("sequential", "batched")}
    mean = {arm: sum(v) / len(v) for arm, v in secs.items()}
    print(f"batched: {mean['sequential'] / mean['batched']:.2f}× the sequential calls/s (mean seconds of each arm's "
          f"runs); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
