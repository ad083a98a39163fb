"""Batched generation vs per-prompt loops on the embedded model (tokens/s and the speed-up ratio).

    python benchmarks/bench_generation.py              # 16 prompts × N=6 × 48 new tokens, batch sizes 4, 8, 16
    python benchmarks/bench_generation.py --quick      # 4 prompts × N=3 × 16 tokens (a smoke run, ~1 min)
    /opt/vllm-venv/bin/python benchmarks/bench_generation.py --backend vllm   # same prompts through vLLM

Three ways to get N samples for P prompts, all with the same sampling settings (temperature 0.8, top-p 0.95):

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
second. The ratio column divides by ``loop/prompt``; ``vs seq`` by ``loop/seq``. The machine's load average is
printed: on a shared machine other processes slow every row, so compare rows of one run, not across runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalab.generation import TransformersBackend, plan_batches  # noqa: E402

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
    ap.add_argument("--quick", action="store_true", help="4 prompts × N=3 × 16 tokens, batch sizes 4")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-sizes", default="4,8,16", help="comma-separated prompts per generate call")
    ap.add_argument("--seq-prompts", type=int, default=2, help="prompts used for the slow per-sequence loop")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    args = ap.parse_args()
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
