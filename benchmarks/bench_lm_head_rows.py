"""DPO on CPU: TRL's fused LM head projecting every position vs only the completion rows, side by side.

    python benchmarks/bench_lm_head_rows.py                  # the 22 real pairs of data/demo_run, demo recipe
    python benchmarks/bench_lm_head_rows.py --threads 1      # one torch thread (a shared machine)
    python benchmarks/bench_lm_head_rows.py --pairs 8        # a quick run

TRL 1.16's fused LM head projects only the labelled rows on Triton devices and every row (prompt and padding too)
elsewhere; ``evalab.training.score_completions_only_on_cpu`` makes it project only the labelled rows on CPU
as well. Both arms run ``train_preference`` with the demo profile's recipe on the same pairs in one process
(a warm-up call first, so that neither pays the imports), and print: the wall time of the whole call (model
loads, reference pass, training, checkpoints, final save), seconds per pair-epoch, the share of tokens that
are completion tokens (the rows the compact arm projects), and each arm's first logged loss. At that first
step the policy is its own reference, so both are log 2: a smoke check only; tests/test_training.py compares
loss and gradient off the reference. The host's load average is printed before and after: on a shared machine every
absolute figure moves with it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def demo_pairs():
    """The preference pairs data/demo_run trained on (both iterations), as stored by the loop."""
    import pandas as pd

    frames = [pd.read_parquet(p) for p in sorted((ROOT / "data" / "demo_run").glob("iter_*/pairs.parquet"))]
    return pd.concat(frames, ignore_index=True)


def token_shares(pairs, tok) -> tuple[int, int]:
    """(prompt tokens, completion tokens) over both sequences of every pair, chat template applied."""
    prompt = completion = 0
    for r in pairs.itertuples():
        text = tok.apply_chat_template([{"role": "user", "content": r.prompt}], add_generation_prompt=True,
                                       tokenize=False)
        p = len(tok(text, add_special_tokens=False)["input_ids"])
        for answer in (r.chosen, r.rejected):
            prompt += p
            completion += len(tok(answer, add_special_tokens=False)["input_ids"]) + 1  # + end of turn
    return prompt, completion


def run_arm(cfg, pairs, compact: bool) -> tuple[float, float]:
    """(wall seconds of train_preference, first logged loss) with or without the CPU compaction."""
    from evalab.training import score_completions_only_on_cpu, train_preference

    score_completions_only_on_cpu(compact)
    try:  # the trained model and its checkpoints (about 2 GB) go when the arm ends
        with tempfile.TemporaryDirectory(prefix="evalab-lmhead-") as out_dir:
            t0 = time.perf_counter()
            res = train_preference(cfg, "smollm2-135m", pairs, Path(out_dir) / "out", progress=False,
                                   keep_checkpoints=False)
            wall = time.perf_counter() - t0
    finally:
        score_completions_only_on_cpu(True)
    first = next(h["loss"] for h in res["log_history"] if "loss" in h)
    return wall, float(first)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=0, help="use the first K pairs (0: all)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from evalab.config import profile_config
    from evalab.models import load_tokenizer

    cfg = profile_config("demo")
    pairs = demo_pairs()
    if a.pairs:
        pairs = pairs.head(a.pairs)
    p_tok, c_tok = token_shares(pairs, load_tokenizer(cfg.solver))
    load0 = os.getloadavg()[0]
    run_arm(cfg, pairs.head(2), compact=True)  # warm-up: imports, tokenizer, first model load
    t_all, l_all = run_arm(cfg, pairs, compact=False)
    t_cmp, l_cmp = run_arm(cfg, pairs, compact=True)
    n = len(pairs) * cfg.epochs
    print(f"{len(pairs)} pairs × {cfg.epochs:g} epoch, demo recipe (batch {cfg.train_batch_size}), torch threads "
          f"{torch.get_num_threads()}; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"tokens: prompt {p_tok}, completion {c_tok} ({c_tok / (p_tok + c_tok):.0%} of rows are labelled)")
    print(f"{'arm':28s} {'wall s':>8s} {'s/pair-epoch':>13s} {'first loss':>11s}")
    print(f"{'all positions (TRL on CPU)':28s} {t_all:8.1f} {t_all / n:13.2f} {l_all:11.5f}")
    print(f"{'completion rows (evalab)':28s} {t_cmp:8.1f} {t_cmp / n:13.2f} {l_cmp:11.5f}")
    print(f"speed-up {t_all / t_cmp:.2f}x; first-loss difference {abs(l_all - l_cmp):.2e}")


if __name__ == "__main__":
    main()
