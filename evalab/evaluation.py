"""Held-out evaluation of a solver: verifiable constraint score, and an optional LLM-judge win rate.

    from evalab.evaluation import evaluate_solver
    report, per_prompt = evaluate_solver(backend, load_prompts("data/heldout_constraint_prompts.jsonl", 40))
    report["full_rate"], report["constraint_rate"], report["per_kind"]

Verifiable score (greedy decoding, one response per prompt):
- ``constraint_rate``: mean over prompts of the fraction of its constraints satisfied;
- ``full_rate``: fraction of prompts whose constraints are *all* satisfied (IFEval's "prompt-level strict");
- ``per_kind``: pass rate of each constraint kind over all its occurrences.

Judge win rate (Arena-Hard style): a litellm judge compares the current solver's answer with the
iteration-0 solver's answer to the same prompt, in both orders (A/B then B/A) to cancel position bias;
a win counts 1, a tie 0.5; a verdict the judge did not give (unparsable or failed call) is left out and
counted in ``n_invalid``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .prompts import Prompt


def score_constraint_responses(prompts: Sequence[Prompt], responses: Sequence[str]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Aggregate the verifiable score of one response per prompt."""
    from .constraints import score_response

    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    rows, kind_pass = [], defaultdict(list)
    unscorable = [p.id for p in prompts if not p.constraints]
    if len(unscorable) == len(prompts):
        raise ValueError("no evaluation prompt has constraints: the verifiable score needs constraint prompts "
                         "(use a judge for open prompts)")
    for p, resp in zip(prompts, responses):
        if not p.constraints:  # nothing to check: left out rather than counted as satisfied
            continue
        s = score_response(p.constraints, resp)
        for c, ok in zip(p.constraints, s["satisfied"]):
            kind_pass[c["kind"]].append(bool(ok))
        rows.append({"prompt_id": p.id, "response": resp, "frac": s["frac"], "reward": s["reward"],
                     "full": bool(all(s["satisfied"])), "n_constraints": len(p.constraints)})
    df = pd.DataFrame(rows)
    report = {
        "n": len(df),
        "n_unscorable": len(unscorable),
        "constraint_rate": float(df.frac.mean()) if len(df) else float("nan"),
        "full_rate": float(df.full.mean()) if len(df) else float("nan"),
        "reward_mean": float(df.reward.mean()) if len(df) else float("nan"),
        "per_kind": {k: float(np.mean(v)) for k, v in sorted(kind_pass.items())},
        "per_kind_n": {k: len(v) for k, v in sorted(kind_pass.items())},
    }
    return report, df


def evaluate_solver(backend: Any, prompts: Sequence[Prompt], *, max_new_tokens: int = 256, seed: int = 0,
                    progress: bool = True) -> tuple[dict[str, Any], pd.DataFrame]:
    """Greedy responses of the solver behind ``backend`` on ``prompts``, scored by their constraints."""
    if not prompts:
        raise ValueError("evaluation set is empty")
    out = backend.generate([p.text for p in prompts], n=1, max_new_tokens=max_new_tokens, temperature=0.0,
                           seed=seed, progress=progress)
    return score_constraint_responses(prompts, [o[0] for o in out])


_JUDGE_TEMPLATE = """You are judging two answers to the same user request. Decide which answer follows the
request better (all its instructions and constraints, helpfulness, correctness).

[Request]
{prompt}

[Answer A]
{a}

[Answer B]
{b}

Reply with exactly one line: "Verdict: A", "Verdict: B" or "Verdict: tie"."""

_VERDICT = re.compile(r"verdict\s*:\s*\**\s*(a|b|tie)\b", re.IGNORECASE)


def parse_verdict(text: str) -> str | None:
    """'A', 'B', 'tie' or None (unparsable)."""
    m = _VERDICT.search(text or "")
    if not m:
        return None
    v = m.group(1).lower()
    return "tie" if v == "tie" else v.upper()


def judge_winrate(judge_model: str, prompts: Sequence[Prompt], candidate: Sequence[str], baseline: Sequence[str],
                  *, max_tokens: int = 16, **completion_kw: Any) -> dict[str, Any]:
    """Pairwise win rate of ``candidate`` over ``baseline`` answers, judged in both orders through litellm."""
    import litellm

    from . import llm  # registers the local "evalab/" provider, so the embedded model can judge too

    llm.register_local_provider()
    if not (len(prompts) == len(candidate) == len(baseline)):
        raise ValueError("prompts, candidate and baseline must have the same length")
    scores, invalid = [], 0
    for p, c, b in zip(prompts, candidate, baseline):
        for order in ("cb", "bc"):
            a_text, b_text = (c, b) if order == "cb" else (b, c)
            msg = _JUDGE_TEMPLATE.format(prompt=p.text, a=a_text, b=b_text)
            try:
                resp = litellm.completion(model=judge_model, messages=[{"role": "user", "content": msg}],
                                          max_tokens=max_tokens, temperature=0.0, **completion_kw)
                v = parse_verdict(resp.choices[0].message.content)
            except Exception:  # noqa: BLE001 — a failed judge call is an invalid verdict, not a crash
                v = None
            if v is None:
                invalid += 1
                continue
            cand_slot = "A" if order == "cb" else "B"
            scores.append(0.5 if v == "tie" else float(v == cand_slot))
    return {"judge": judge_model, "winrate": float(np.mean(scores)) if scores else float("nan"),
            "n_verdicts": len(scores), "n_invalid": invalid}
