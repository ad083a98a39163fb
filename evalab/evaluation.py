"""Held-out evaluation of a solver: verifiable constraint score, and an optional LLM-judge win rate.

    from evalab.evaluation import evaluate_solver
    report, per_prompt = evaluate_solver(backend, load_prompts("data/heldout_constraint_prompts.jsonl", 40))
    report["full_rate"], report["constraint_rate"], report["per_kind"]

Verifiable score (greedy decoding, one response per prompt):
- ``constraint_rate``: mean over prompts of the fraction of its constraints satisfied;
- ``full_rate``: fraction of prompts whose constraints are *all* satisfied (IFEval's "prompt-level strict");
- ``per_kind``: pass rate of each constraint kind over all its occurrences.

Judge win rate (Arena-Hard style): a litellm judge compares the current solver's answer with a baseline
answer to the same prompt, in both orders (A/B then B/A) to cancel position bias; a win counts 1, a tie 0.5;
a verdict the judge did not give (unparsable or failed call) is left out and counted in ``n_invalid``. If the
invalid share exceeds ``max_invalid`` (``EvaConfig.max_invalid_verdicts``, default 0.2) the result is *invalid*:
``valid`` False, ``invalid_reason`` (the counts and the first error) and no win rate (NaN) — a number made of
the few verdicts that came back is not reported.

- vs θ₀ (``EvaConfig.judge``): the baseline is the iteration-0 solver's answers;
- vs a fixed reference (``EvaConfig.eval_reference``, the paper's headline on open prompts, Arena-Hard style):
  ``"initial"`` (θ₀'s greedy answers) or a jsonl of ``{"prompt_id", "response"}``, copied into the run as
  ``eval_reference.parquet`` at first use so the run keeps the answers it was scored against;
- length-controlled (AlpacaEval-LC style, Dubois et al. 2024, arXiv 2404.04475): a logistic regression of
  the per-verdict preference (1 / 0.5 / 0) on ``tanh(Δlen / sd(Δlen))`` (Δlen = candidate − baseline length in
  characters), reported as the win rate at zero length difference, ``lc_winrate`` = sigmoid(intercept).
  Unlike AlpacaEval's GLM it has no per-instruction difficulty term (one baseline, few prompts).

Open prompts (no constraints): ``evaluate_solver`` returns NaN constraint scores (``n`` = 0, every prompt
counted in ``n_unscorable``) and the answers, so a judge-only evaluation can use them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
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
    responses = [o[0] for o in out]
    if not any(p.constraints for p in prompts):  # open prompts: nothing to check, a judge scores them
        return open_prompt_report(prompts, responses)
    return score_constraint_responses(prompts, responses)


def heldout_report(backend: Any, prompts: Sequence[Prompt], *, max_new_tokens: int, seed: int, solver: str,
                   iteration: int, progress: bool = True) -> dict[str, Any]:
    """``evaluate_solver``'s report as a run store keeps it (``iter_<t>/eval.json``): the scores, plus
    ``iteration``, ``solver`` (the weights evaluated), the greedy ``responses`` and the ``per_prompt`` scores
    (``prompt_id``, ``frac``, ``full``) that paired comparisons read."""
    report, per_prompt = evaluate_solver(backend, prompts, max_new_tokens=max_new_tokens, seed=seed,
                                         progress=progress)
    report.update(iteration=int(iteration), solver=str(solver), responses=per_prompt.response.tolist(),
                  per_prompt={"prompt_id": per_prompt.prompt_id.tolist(), "frac": per_prompt.frac.tolist(),
                              "full": per_prompt.full.astype(float).tolist()})
    return report


def open_prompt_report(prompts: Sequence[Prompt], responses: Sequence[str]) -> tuple[dict[str, Any], pd.DataFrame]:
    """The report of an evaluation set without constraints: NaN scores, the answers kept for a judge."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    nan = float("nan")
    df = pd.DataFrame({"prompt_id": [p.id for p in prompts], "response": list(responses),
                       "frac": [nan] * len(prompts), "reward": [nan] * len(prompts), "full": [nan] * len(prompts),
                       "n_constraints": [0] * len(prompts)})
    report = {"n": 0, "n_unscorable": len(prompts), "constraint_rate": nan, "full_rate": nan, "reward_mean": nan,
              "per_kind": {}, "per_kind_n": {}}
    return report, df


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


def judge_verdicts(judge_model: str, prompts: Sequence[Prompt], candidate: Sequence[str],
                   baseline: Sequence[str], *, max_tokens: int = 16, **completion_kw: Any) -> pd.DataFrame:
    """Every judge verdict, both orders per prompt: one row per (prompt, order) with prompt_id, order ("cb" =
    candidate shown as A, "bc" = as B), verdict ('A' | 'B' | 'tie' | None), score (candidate's: 1 win, 0.5
    tie, 0 loss, NaN invalid), error (why invalid), len_candidate, len_baseline (characters)."""
    import litellm

    from . import llm  # registers the local "evalab/" provider, so the embedded model can judge too

    llm.register_local_provider()
    if not (len(prompts) == len(candidate) == len(baseline)):
        raise ValueError("prompts, candidate and baseline must have the same length")
    rows = []
    for p, c, b in zip(prompts, candidate, baseline):
        for order in ("cb", "bc"):
            a_text, b_text = (c, b) if order == "cb" else (b, c)
            msg = _JUDGE_TEMPLATE.format(prompt=p.text, a=a_text, b=b_text)
            error = None
            try:
                resp = litellm.completion(model=judge_model, messages=[{"role": "user", "content": msg}],
                                          max_tokens=max_tokens, temperature=0.0, **completion_kw)
                text = resp.choices[0].message.content
                v = parse_verdict(text)
                if v is None:
                    error = f"unparsable verdict {str(text)[:80]!r}"
            except Exception as e:  # noqa: BLE001 — a failed judge call is an invalid verdict, not a crash
                v, error = None, f"{type(e).__name__}: {e}"
            cand_slot = "A" if order == "cb" else "B"
            score = float("nan") if v is None else 0.5 if v == "tie" else float(v == cand_slot)
            rows.append({"prompt_id": p.id, "order": order, "verdict": v, "score": score,
                         "error": None if error is None else " ".join(error.split())[:300],
                         "len_candidate": len(c or ""), "len_baseline": len(b or "")})
    return pd.DataFrame(rows, columns=["prompt_id", "order", "verdict", "score", "error", "len_candidate",
                                       "len_baseline"])


def length_controlled_winrate(scores: Sequence[float], len_diff: Sequence[float], *, l2: float = 1e-3,
                              iters: int = 100) -> tuple[float, float]:
    """(lc_winrate, slope): AlpacaEval-LC style. Fits P(candidate preferred) = sigmoid(a + b·tanh(Δ / sd(Δ)))
    to the per-verdict scores (1 / 0.5 / 0 as soft labels) by Newton's method with a small L2 penalty (which
    keeps the fit finite when one answer always wins), and returns sigmoid(a), the win rate at zero length
    difference, and b. NaN scores are left out; (NaN, NaN) without any."""
    y = np.asarray(scores, dtype=float)
    d = np.asarray(len_diff, dtype=float)
    keep = np.isfinite(y) & np.isfinite(d)
    y, d = y[keep], d[keep]
    if not y.size:
        return float("nan"), float("nan")
    sd = float(d.std())
    x = np.tanh(d / sd) if sd > 0 else np.zeros_like(d)
    X = np.column_stack([np.ones_like(x), x])
    theta = np.zeros(2)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (p - y) + l2 * len(y) * theta
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * len(y) * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(1.0 / (1.0 + np.exp(-theta[0]))), float(theta[1])


def summarize_verdicts(verdicts: pd.DataFrame, judge_model: str, max_invalid: float = 0.2) -> dict[str, Any]:
    """The stored result of a judge evaluation: win rate (ties half), its length-controlled variant, counts;
    invalid (no win rate, a reason) when the invalid share exceeds ``max_invalid``."""
    if not 0.0 <= max_invalid <= 1.0:
        raise ValueError(f"max_invalid={max_invalid!r} must be a share in [0, 1]")
    valid_rows = verdicts[verdicts.score.notna()]
    n_total, n_invalid = len(verdicts), int(verdicts.score.isna().sum())
    share = n_invalid / n_total if n_total else 1.0
    errors = verdicts.error.dropna()
    first_error = str(errors.iloc[0]) if len(errors) else None
    out: dict[str, Any] = {"judge": judge_model, "n_verdicts": len(valid_rows), "n_invalid": n_invalid,
                           "invalid_share": share, "max_invalid": max_invalid, "first_error": first_error}
    if share > max_invalid or not len(valid_rows):
        reason = (f"{n_invalid} of {n_total} judge verdicts invalid ({share:.0%} > max_invalid_verdicts="
                  f"{max_invalid:g}); first error: {first_error}")
        out.update(valid=False, invalid_reason=reason, winrate=float("nan"), lc_winrate=float("nan"),
                   lc_length_coef=float("nan"))
        return out
    lc, coef = length_controlled_winrate(valid_rows.score, valid_rows.len_candidate - valid_rows.len_baseline)
    out.update(valid=True, invalid_reason=None, winrate=float(valid_rows.score.mean()), lc_winrate=lc,
               lc_length_coef=coef)
    return out


def judge_winrate(judge_model: str, prompts: Sequence[Prompt], candidate: Sequence[str], baseline: Sequence[str],
                  *, max_tokens: int = 16, max_invalid: float = 0.2, **completion_kw: Any) -> dict[str, Any]:
    """Pairwise win rate of ``candidate`` over ``baseline`` answers, judged in both orders through litellm
    (:func:`judge_verdicts`, then :func:`summarize_verdicts`: invalid above ``max_invalid``)."""
    v = judge_verdicts(judge_model, prompts, candidate, baseline, max_tokens=max_tokens, **completion_kw)
    return summarize_verdicts(v, judge_model, max_invalid)


# --------------------------------------------------------------------------------------------------
# Judge-only evaluation against a fixed reference answer set, stored with the run
# --------------------------------------------------------------------------------------------------

REFERENCE_FILE = "eval_reference.parquet"  # at the run's root: the answers every iteration is judged against


def load_reference_answers(path: str | Path) -> pd.DataFrame:
    """A jsonl of ``{"prompt_id", "response"}`` records -> DataFrame(prompt_id, response)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"EvaConfig.eval_reference={str(path)!r}: no such file (a jsonl of "
                                "{'prompt_id', 'response'} records, or 'initial' for θ₀'s answers)")
    df = pd.read_json(path, lines=True)
    missing = {"prompt_id", "response"} - set(df.columns)
    if missing:
        raise ValueError(f"EvaConfig.eval_reference={str(path)!r}: records lack {sorted(missing)}")
    if df.prompt_id.duplicated().any():
        raise ValueError(f"EvaConfig.eval_reference={str(path)!r}: duplicate prompt ids "
                         f"{df.prompt_id[df.prompt_id.duplicated()].tolist()[:3]}")
    return df[["prompt_id", "response"]].astype({"prompt_id": str, "response": str})


def reference_answers(store: Any, reference: str) -> pd.DataFrame | None:
    """The run's fixed reference answers (``run_dir/eval_reference.parquet``), created on first use from
    ``reference``: "initial" = θ₀'s greedy answers of iteration 0's eval (None until that eval exists), else a
    jsonl file (copied, so later edits of the file do not change what the run is judged against)."""
    from .store import atomic_write_parquet

    path = Path(store.root) / REFERENCE_FILE
    if path.exists():
        return pd.read_parquet(path)
    if reference == "initial":
        if not store.has(0, "eval"):
            return None
        e = store.read_json(0, "eval")
        ids = e.get("per_prompt", {}).get("prompt_id")
        if ids is None:
            raise ValueError("EvaConfig.eval_reference='initial': iteration 0's eval has no per-prompt answers")
        df = pd.DataFrame({"prompt_id": ids, "response": e["responses"]})
    else:
        df = load_reference_answers(reference)
    df["source"] = reference
    atomic_write_parquet(path, df)
    return df


def evaluate_against_reference(store: Any, cfg: Any, t: int, prompts: Sequence[Prompt], responses: Sequence[str],
                               **completion_kw: Any) -> dict[str, Any] | None:
    """Judge-only held-out evaluation of iteration t's answers against the run's fixed reference answers
    (``cfg.eval_reference``), judged by ``cfg.judge`` in both orders, ties half, with the length-controlled
    win rate; invalid above ``cfg.max_invalid_verdicts``. None when there is nothing to compare (θ₀ against
    its own answers with "initial")."""
    if cfg.eval_reference == "initial" and t == 0:
        return None
    ref = reference_answers(store, cfg.eval_reference)
    if ref is None:
        return None
    by_id = dict(zip(ref.prompt_id, ref.response))
    missing = [p.id for p in prompts if p.id not in by_id]
    if missing:
        raise ValueError(f"EvaConfig.eval_reference={cfg.eval_reference!r}: no reference answer for "
                         f"{len(missing)} eval prompt(s), e.g. {missing[:3]}")
    v = judge_verdicts(cfg.judge, prompts, responses, [by_id[p.id] for p in prompts], **completion_kw)
    out = summarize_verdicts(v, cfg.judge, cfg.max_invalid_verdicts)
    out["reference"] = cfg.eval_reference
    return out


def judge_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Summary columns of one eval report's judge results: ``judge_winrate`` (vs θ₀) and ``ref_winrate`` /
    ``ref_lc_winrate`` (vs the fixed reference), each with a ``*_status`` of "ok" or "invalid: <reason>"; an
    invalid evaluation never shows a win rate (NaN)."""
    row: dict[str, Any] = {}
    for key, prefix, cols in (("judge", "judge", ("winrate",)), ("reference", "ref", ("winrate", "lc_winrate"))):
        res = report.get(key)
        if not res:
            continue
        ok = res.get("valid", True)  # runs stored before the validity rule count as valid
        for c in cols:
            row[f"{prefix}_{c}"] = float(res.get(c, float("nan"))) if ok else float("nan")
        row[f"{prefix}_status"] = "ok" if ok else f"invalid: {res.get('invalid_reason')}"
    return row
