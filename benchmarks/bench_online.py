"""What online eva costs on top of the RL step: sampler, reward adapter bookkeeping, evolution events.

    python benchmarks/bench_online.py                 # overheads only (no model; seconds)
    python benchmarks/bench_online.py --trainer grpo  # plus a short real run on the embedded model (minutes)
    python benchmarks/bench_online.py --compare-threads   # generation with 1 torch thread vs the default

Part 1 times the pure-Python parts on synthetic data: drawing a generation batch from pools of growing size
(``EvaPromptPool.draw`` recomputes the sampling weights each time: O(pool)), and one evolution event with the
programmatic structured creator. Part 2 runs ``run_online_eva`` for a few steps and prints TRL's per-step wall
time next to the time spent in evolution events, i.e. the share of wall time eva adds to the RL loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from types import SimpleNamespace

import numpy as np


def _prompts(n: int) -> list:
    from evalab import constraints as C
    from evalab.prompts import Prompt

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        task = f"Describe object number {i}."
        cons = C.add_constraint([], rng, task=task)
        out.append(Prompt(id=f"p{i}", text=C.render_prompt(task, cons), task=task, constraints=cons))
    return out


def bench_draw(sizes: tuple[int, ...] = (100, 1_000, 10_000, 100_000), k: int = 16, reps: int = 20) -> None:
    from evalab.online import EvaPromptPool

    print("draw one generation batch of", k, "prompts")
    for n in sizes:
        pool = EvaPromptPool(_prompts(min(n, 200)), capacity=n)
        base = pool.prompts[0]
        pool.add([type(base)(id=f"x{i}", text=f"{base.text} #{i}", task=base.task, constraints=base.constraints,
                             parent_id=base.id, iteration=1, operator="harden") for i in range(n - len(pool))], 1)
        rng = np.random.default_rng(0)
        for i in range(0, len(pool), 3):
            pool.weight_est[i] = float(rng.random())
        t0 = time.perf_counter()
        for _ in range(reps):
            pool.draw(k, rng)
        dt = (time.perf_counter() - t0) / reps
        print(f"  pool {len(pool):>7,d}: {dt * 1e3:8.2f} ms per draw")


def bench_event(n_groups: int = 64, n: int = 6) -> None:
    from evalab.config import profile_config
    from evalab.creator import StructuredEvolver
    from evalab.online import EvaCallback, EvaPromptPool, make_trl_reward

    seeds = _prompts(n_groups)
    pool = EvaPromptPool(seeds)
    rng = np.random.default_rng(1)
    table = {p.id: rng.random(n).round(1).tolist() for p in seeds}

    class Table:
        name = "table"

        def __call__(self, prompts, responses):
            return np.array([table[p.id] for p in prompts])

    adapter = make_trl_reward(Table(), pool, num_generations=n)
    ids = [p.id for p in seeds for _ in range(n)]
    t0 = time.perf_counter()
    adapter(prompts=["x"] * len(ids), completions=["y"] * len(ids), prompt_id=ids,
            trainer_state=SimpleNamespace(global_step=0))
    t_adapt = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        cfg = profile_config("demo", run_dir=d)
        cb = EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False, n_variants=cfg.n_variants), cfg,
                         evolve_every=1, run_dir=d)
        t0 = time.perf_counter()
        ev = cb.evolve_event(1)
        t_event = time.perf_counter() - t0
    print(f"reward adapter bookkeeping for {n_groups} groups x {n}: {t_adapt * 1e3:.1f} ms (reward included)")
    print(f"one evolution event ({n_groups} groups, {ev['n_selected']} selected, {ev['n_accepted']} accepted, "
          f"tables written): {t_event * 1e3:.1f} ms")


def bench_run(trainer: str, steps: int, evolve_every: int, threads: int) -> None:
    from evalab.config import profile_config
    from evalab.creator import StructuredEvolver
    from evalab.online import run_online_eva

    with tempfile.TemporaryDirectory() as d:
        cfg = profile_config("ci", run_dir=d)
        t0 = time.perf_counter()
        out = run_online_eva(cfg, trainer=trainer, steps=steps, evolve_every=evolve_every, prompts_per_step=2,
                             max_completion_length=16, progress=False, torch_threads=threads,
                             creator=StructuredEvolver(llm_rewrite=False, n_variants=cfg.n_variants))
        wall = time.perf_counter() - t0
    log = out["log_history"].dropna(subset=["step_time"])
    ev = out["events"]
    print(f"{trainer}, torch threads {threads or 'default'}: {steps} steps, 2 prompts x N={cfg.n_responses}, "
          f"16 new tokens: wall {wall:.1f} s "
          f"(train_runtime {out['train_runtime']:.1f} s)")
    print(f"  TRL step_time per step: median {log.step_time.median():.2f} s, min {log.step_time.min():.2f} s")
    print(f"  evolution events: {len(ev)}, {ev.seconds.sum():.3f} s in total "
          f"= {ev.seconds.sum() / out['train_runtime']:.2%} of train_runtime")


def bench_threads(max_new_tokens: int = 8) -> None:
    """Generation time of the embedded model with 1 torch thread vs torch's default, alternating, so a busy
    machine affects both alike. On a CPU shared with other busy processes the default can be far slower."""
    import torch

    from evalab.models import load_model

    model, tok = load_model("smollm2-135m")
    msgs = [[{"role": "user", "content": "Describe a cat. Answer in at most 20 words, in lowercase."}]] * 4
    enc = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", padding=True,
                                  return_dict=True)
    default = torch.get_num_threads()
    for threads in (1, default, 1):
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        with torch.no_grad():
            model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=True)
        print(f"generate 4 x {max_new_tokens} tokens with {threads} torch thread(s): {time.perf_counter() - t0:.2f} s")
    torch.set_num_threads(default)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trainer", choices=["grpo", "rloo"], default=None, help="also run a short real online run")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--evolve-every", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads for the run (0 = default)")
    ap.add_argument("--compare-threads", action="store_true", help="time generation with 1 vs default threads")
    a = ap.parse_args()
    bench_draw()
    bench_event()
    if a.compare_threads:
        bench_threads()
    if a.trainer:
        bench_run(a.trainer, a.steps, a.evolve_every, a.threads)


if __name__ == "__main__":
    main()
