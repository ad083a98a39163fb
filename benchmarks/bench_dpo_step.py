"""Seconds per DPO step: evalab's train_preference vs a bare forward/backward, and TRL's naive defaults.

    python benchmarks/bench_dpo_step.py --quick          # 8 pairs, 2 evalab steps, 1 naive step (minutes)
    python benchmarks/bench_dpo_step.py --ablate         # also time each TRL default on its own
    python benchmarks/bench_dpo_step.py --threads 1      # torch threads (helps on an oversubscribed host)

What is timed, on the same 8 short pairs (one optimizer step = 8 pairs = 16 sequences):
  evalab  train_preference's TRL DPOTrainer with evalab's choices (fp32, no gradient checkpointing on CPU)
  bare    policy forward + backward (DPO sigmoid loss on completion log-probs) + reference forward on
          exactly the tokens of the trainer's first batch, plain PyTorch: the floor a trainer can reach
  naive   the same DPOTrainer with TRL 1.16's defaults left in place (bf16=True, gradient_checkpointing=True)
Step times come from a callback around each optimizer step (no checkpoint saving inside the window).
The host's load average is printed: on a shared machine every absolute figure moves with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOPICS = ["the sea", "a mountain", "bread", "a violin", "winter", "a city park", "bees", "the moon"]


def make_pairs(n: int):
    """n short synthetic pairs: a constraint prompt, a compliant answer, a non-compliant one."""
    import pandas as pd

    rows = []
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        rows.append({
            "prompt_id": f"b{i}", "prompt": f"Write two sentences about {t}. Answer in lowercase and use at most 40 words.",
            "chosen": f"{t} is quiet in the early morning. people stop for a moment and simply look at it.",
            "rejected": f"{t.upper()} IS GREAT! Here is a long answer about {t} that ignores every instruction given "
                        f"and goes on and on about {t} with capital letters and far too many words for the limit.",
            "chosen_reward": 1.0, "rejected_reward": 0.0})
    return pd.DataFrame(rows)


class StepTimer:
    """TrainerCallback recording the wall time of each optimizer step."""

    def __new__(cls):  # build the subclass lazily so importing this file needs no transformers
        from transformers import TrainerCallback

        class _Timer(TrainerCallback):
            def __init__(self) -> None:
                self.times: list[float] = []
                self._t0 = 0.0

            def on_step_begin(self, args, state, control, **kw):
                self._t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                self.times.append(time.perf_counter() - self._t0)

        return _Timer()


def time_trainer(cfg, pairs, steps: int, overrides: dict | None = None) -> list[float]:
    """Per-step seconds of train_preference (max_steps=steps, no checkpoint in the timed window)."""
    from evalab.training import train_preference

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as d:
        train_preference(cfg, "smollm2-135m", pairs, Path(d) / "out", progress=False, save_steps=10_000,
                         callbacks=[timer], overrides={"max_steps": steps, **(overrides or {})})
    return timer.times


def time_bare(cfg, pairs, reps: int) -> tuple[list[float], tuple[int, int]]:
    """Per-rep seconds of policy fwd+bwd + reference fwd on the trainer's first batch (plain PyTorch)."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    from evalab.models import resolve_model_path
    from evalab.training import build_trainer

    with tempfile.TemporaryDirectory() as d:
        trainer, _, _ = build_trainer(cfg, "smollm2-135m", pairs, Path(d), progress=False)
        batch = next(iter(trainer.get_train_dataloader()))
    del trainer
    path = resolve_model_path("smollm2-135m")
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids, att, comp = batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    half = ids.shape[0] // 2

    def seq_logps(model, grad: bool):
        with torch.set_grad_enabled(grad):
            logits = model(input_ids=ids, attention_mask=att).logits[:, :-1]
            lp = torch.gather(logits.log_softmax(-1), 2, ids[:, 1:, None]).squeeze(2)
            return (lp * comp[:, 1:]).sum(1)

    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ref_lp = seq_logps(ref, grad=False)
        pol_lp = seq_logps(policy, grad=True)
        margin = (pol_lp[:half] - ref_lp[:half]) - (pol_lp[half:] - ref_lp[half:])
        loss = -F.logsigmoid(cfg.beta * margin).mean()
        loss.backward()
        policy.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return times, tuple(ids.shape)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps: evalab 2, bare 2, naive 1")
    ap.add_argument("--ablate", action="store_true", help="also time bf16 alone and gradient checkpointing alone")
    ap.add_argument("--pairs", type=int, default=8, help="pairs per step (one step = all pairs)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)")
    a = ap.parse_args()

    import torch

    from evalab.config import profile_config

    if a.threads:
        torch.set_num_threads(a.threads)
    steps, reps, naive_steps = (2, 2, 1) if a.quick else (4, 3, 2)
    cfg = profile_config("demo", train_batch_size=a.pairs, max_length=256, max_prompt_length=128, trainer="dpo")
    pairs = make_pairs(a.pairs)
    print(f"host: {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}; {a.pairs} pairs per step, max_length {cfg.max_length}", flush=True)

    med = statistics.median
    bare, shape = time_bare(cfg, pairs, reps)
    print(f"bare    fwd+bwd policy + fwd reference on a {shape[0]}x{shape[1]} batch: "
          f"{med(bare):7.2f} s  (reps {', '.join(f'{t:.2f}' for t in bare)})", flush=True)
    ours = time_trainer(cfg, pairs, steps)
    # the first step pays one-off costs (optimizer state allocation); report the median of the rest
    ours_s = med(ours[1:] or ours)
    print(f"evalab  train_preference DPO step:                 {ours_s:7.2f} s  "
          f"(steps {', '.join(f'{t:.2f}' for t in ours)})", flush=True)
    print(f"ratio   evalab / bare:                             {ours_s / med(bare):7.2f}x", flush=True)
    variants = {"naive (TRL defaults: bf16 + grad ckpt)": {"bf16": True, "gradient_checkpointing": True}}
    if a.ablate:
        variants = {"bf16 autocast only": {"bf16": True},
                    "gradient checkpointing only": {"gradient_checkpointing": True}, **variants}
    for name, ov in variants.items():
        t = time_trainer(cfg, pairs, naive_steps, ov)
        print(f"{name:40s}   {med(t):7.2f} s  = {med(t) / ours_s:5.1f}x evalab  "
              f"(steps {', '.join(f'{x:.2f}' for x in t)})", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
