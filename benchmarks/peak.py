"""This machine's fp32 matmul rate at the embedded model's shapes, and the model's FLOPs per token.

    python benchmarks/peak.py            # prints GFLOP/s of torch fp32 matmuls shaped like SmolLM2-135M's layers

The benchmarks divide their own FLOP rate by this number ("% of peak"). It is measured, not read off a
data sheet: the same torch, the same thread count and the same load as the benchmark that calls it, with
the matrices of one decoder layer plus the output head (hidden 576, intermediate 1536, vocabulary 49152)
applied to ``rows`` token rows. A model cannot beat it by much: everything else (attention, norms,
sampling, Python) only adds time.
"""

from __future__ import annotations

import time
from typing import Any

# SmolLM2-135M: hidden 576, 9 heads of 64 (3 key/value heads), intermediate 1536, 30 layers, vocab 49152
HIDDEN, KV, INTERMEDIATE, LAYERS, VOCAB = 576, 192, 1536, 30, 49152


def forward_flops_per_token(config: Any = None) -> float:
    """Matmul FLOPs of one token's forward pass (2 × multiply-adds of every projection and the output head);
    attention scores over the context are left out (small at these lengths). ``config``: a transformers
    model config (defaults: SmolLM2-135M)."""
    h = getattr(config, "hidden_size", HIDDEN)
    heads = getattr(config, "num_attention_heads", 9)
    kv = getattr(config, "num_key_value_heads", 3) * (h // heads)
    inter = getattr(config, "intermediate_size", INTERMEDIATE)
    layers = getattr(config, "num_hidden_layers", LAYERS)
    vocab = getattr(config, "vocab_size", VOCAB)
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * inter
    return 2.0 * (layers * per_layer + h * vocab)


def measure_peak(rows: int = 256, seconds: float = 5.0) -> float:
    """FLOP/s of fp32 ``torch.matmul`` on one layer's shapes and the head, ``rows`` tokens at a time, run for
    about ``seconds`` (best of the repetitions: the machine's rate when the benchmark's load allows it)."""
    import torch

    g = torch.Generator().manual_seed(0)
    shapes = [(HIDDEN, HIDDEN), (HIDDEN, KV), (HIDDEN, KV), (HIDDEN, HIDDEN), (HIDDEN, INTERMEDIATE),
              (HIDDEN, INTERMEDIATE), (INTERMEDIATE, HIDDEN), (HIDDEN, VOCAB // 8)]
    weights = [torch.randn(k, n, generator=g) for k, n in shapes]
    inputs = {k: torch.randn(rows, k, generator=g) for k, _ in shapes}
    flops = sum(2.0 * rows * k * n for k, n in shapes)
    best, t_end = 0.0, time.perf_counter() + seconds
    with torch.inference_mode():
        for w in weights:  # warm-up
            inputs[w.shape[0]] @ w
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            for w in weights:
                inputs[w.shape[0]] @ w
            best = max(best, flops / (time.perf_counter() - t0))
    return best


def measure_bandwidth(mbytes: int = 200, repeats: int = 5) -> float:
    """Bytes/s of a large fp32 copy (read + write counted), best of ``repeats``: the host's memory bandwidth.
    Decoding a few rows at a time reads every weight once per token, so on a shared host whose bandwidth moves
    (noisy neighbours) the decoding stages move with it even when the matmul peak does not."""
    import torch

    a = torch.randn(mbytes * 2**20 // 4)
    b = torch.empty_like(a)
    b.copy_(a)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        b.copy_(a)
        best = max(best, 2 * a.numel() * 4 / (time.perf_counter() - t0))
    return best


if __name__ == "__main__":
    import os

    import torch

    print(f"fp32 matmul at SmolLM2-135M shapes: {measure_peak() / 1e9:.1f} GFLOP/s "
          f"(torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}); "
          f"forward {forward_flops_per_token() / 1e9:.3f} GFLOP/token; memory copy {measure_bandwidth() / 1e9:.1f} GB/s")
