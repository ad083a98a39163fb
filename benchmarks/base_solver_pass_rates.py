"""How often does the untrained embedded solver satisfy each constraint kind? (Is there room for a curriculum?)

    python benchmarks/base_solver_pass_rates.py                    # 40 seed prompts, greedy, 64 new tokens
    python benchmarks/base_solver_pass_rates.py --n 80 --max-new-tokens 128 --out /tmp/rates.json

Greedy responses of SmolLM2-135M-Instruct (the embedded default) to the first ``--n`` prompts of
data/seed_constraint_prompts.jsonl, through transformers ``generate`` with the model's chat template
(batched, left padding). Prints the pass rate per constraint kind and writes it (with the settings, the
timing and the per-prompt rewards) to ``--out`` (default data/base_solver_pass_rates.json).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np
import torch

from evalab.constraints import score_response
from evalab.models import load_model
from evalab.provenance import build_manifest
from evalab.prompts import REPO_ROOT, load_prompts


def greedy_responses(model, tok, texts: list[str], max_new_tokens: int, batch_size: int) -> list[str]:
    out = []
    for s in range(0, len(texts), batch_size):
        chats = [tok.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True)
                 for t in texts[s:s + batch_size]]
        enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--out", default=str(REPO_ROOT / "data" / "base_solver_pass_rates.json"))
    a = ap.parse_args()

    torch.manual_seed(0)
    prompts = load_prompts(REPO_ROOT / "data" / "seed_constraint_prompts.jsonl", limit=a.n)
    model, tok = load_model(a.model)
    t0 = time.perf_counter()
    responses = greedy_responses(model, tok, [p.text for p in prompts], a.max_new_tokens, a.batch_size)
    seconds = time.perf_counter() - t0

    per_kind: dict[str, list[bool]] = defaultdict(list)
    rewards, full = [], []
    for p, r in zip(prompts, responses):
        s = score_response(p.constraints, r)
        rewards.append(s["reward"])
        full.append(all(s["satisfied"]))
        for c, ok in zip(p.constraints, s["satisfied"]):
            per_kind[c["kind"]].append(bool(ok))
    table = {k: {"n": len(v), "pass_rate": float(np.mean(v))} for k, v in sorted(per_kind.items())}
    all_checks = [ok for v in per_kind.values() for ok in v]
    result = {
        "model": a.model, "prompts": f"first {len(prompts)} of data/seed_constraint_prompts.jsonl",
        "decoding": f"greedy, max_new_tokens={a.max_new_tokens}, chat template", "device": str(model.device),
        "generation_seconds": round(seconds, 1), "constraint_pass_rate": float(np.mean(all_checks)),
        "full_rate": float(np.mean(full)), "reward_mean": float(np.mean(rewards)), "per_kind": table,
        "examples": [{"id": p.id, "text": p.text, "response": r, "reward": round(w, 4)}
                     for p, r, w in list(zip(prompts, responses, rewards))[:5]],
        # provenance: packages, git commit + dirty flag, machine, and a hash of the settings above
        "manifest": build_manifest({"model": a.model, "n": a.n, "max_new_tokens": a.max_new_tokens,
                                    "batch_size": a.batch_size}),
    }
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    print(f"{len(prompts)} prompts, {len(all_checks)} constraints, {seconds:.1f} s generation on {model.device}")
    print(f"{'kind':20s} {'n':>3s} {'pass':>6s}")
    for k, v in table.items():
        print(f"{k:20s} {v['n']:3d} {v['pass_rate']:6.0%}")
    print(f"all constraints: {result['constraint_pass_rate']:.0%}; fully satisfied prompts: {result['full_rate']:.0%}; "
          f"mean reward {result['reward_mean']:.3f}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
