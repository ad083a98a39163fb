"""The embedded creator: sequential calls vs concurrent calls micro-batched by the local litellm provider.

    python benchmarks/bench_local_creator.py              # the demo's creator on 12 seed prompts (48 variants)
    python benchmarks/bench_local_creator.py --quick      # 3 prompts (a smoke run)

Both arms run the demo profile's creator (``make_creator(profile_config("demo"))``: the structured evolver,
its LLM rewrites through ``litellm.acompletion`` on the embedded model, the same cleaning and validation)
on the same selected prompts and seed:

* ``sequential`` — the creator as the loop runs it today: calls to ``evalab/...`` one at a time;
* ``batched``    — the same creator sending ``creator_concurrency`` calls at once; evalab's local provider
                   (``evalab.llm.MicroBatcher``) collects them and generates each group in one batched call.

The creator limits calls to ``evalab/`` models to one in flight (creator.py, ``_acall_all``), so the batched
arm reaches the same provider under a second provider name, ``evalab-batched/``, registered here with the
same handler. Prints seconds, calls/s, accepted variants and the requests served per generation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evalab  # noqa: E402,F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)
import litellm  # noqa: E402
from evalab import llm  # noqa: E402
from evalab.config import profile_config  # noqa: E402
from evalab.creator import make_creator  # noqa: E402
from evalab.prompts import load_prompts  # noqa: E402

ALIAS = "evalab-batched"


def register_alias() -> None:
    llm.register_local_provider()
    if not any(e.get("provider") == ALIAS for e in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": ALIAS, "custom_handler": llm._HANDLER})
    litellm.utils.custom_llm_setup()


def run_arm(name: str, model: str, prompts, seed: int) -> dict:
    cfg = profile_config("demo")
    creator = make_creator(cfg.replace(creator=model))
    batcher = llm.get_batcher("smollm2-135m")
    n0 = len(batcher.batch_sizes)
    t0 = time.perf_counter()
    variants = creator.evolve(prompts, cfg.n_variants, iteration=1, seed=seed, progress=False)
    secs = time.perf_counter() - t0
    calls = creator.last_stats.get("calls", 0)
    sizes = batcher.batch_sizes[n0:]
    return {"arm": name, "variants": len(variants), "accepted": sum(v.accepted for v in variants),
            "calls": calls, "seconds": secs, "calls_per_s": calls / secs if secs else 0.0,
            "generations": len(sizes), "mean_batch": sum(sizes) / len(sizes) if sizes else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    n = 3 if a.quick else a.prompts
    cfg = profile_config("demo")
    prompts = load_prompts(cfg.prompt_set, n)
    register_alias()
    llm.chat("evalab/smollm2-135m", [{"role": "user", "content": "hi"}], max_tokens=2, seed=0)  # warm-up
    print(f"# demo creator ({cfg.evolver}, max_tokens {cfg.creator_max_tokens}, concurrency "
          f"{cfg.creator_concurrency}) on {n} prompts × {cfg.n_variants} variants; load average "
          f"{os.getloadavg()[0]:.1f}")
    rows = [run_arm("sequential", "evalab/smollm2-135m", prompts, a.seed),
            run_arm("batched", f"{ALIAS}/smollm2-135m", prompts, a.seed)]
    print(f"{'arm':<12}{'calls':>6}{'seconds':>9}{'calls/s':>9}{'accepted':>10}{'generations':>13}{'req/gen':>9}")
    for r in rows:
        print(f"{r['arm']:<12}{r['calls']:>6}{r['seconds']:>9.1f}{r['calls_per_s']:>9.2f}"
              f"{r['accepted']:>5}/{r['variants']:<4}{r['generations']:>13}{r['mean_batch']:>9.1f}")
    print(f"batched: {rows[1]['calls_per_s'] / rows[0]['calls_per_s']:.2f}× the sequential calls/s; "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
