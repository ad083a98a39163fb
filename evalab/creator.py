"""The creator (step 4 of eva): evolve informative prompts EvolInstruct-style; every variant validated.

    from evalab.creator import StructuredEvolver, EvolInstructCreator, variants_to_frame
    variants = StructuredEvolver(llm_rewrite=False, evolution="chained").evolve(selected, 4, iteration=1, seed=42)
    df = variants_to_frame(variants)          # every step, accepted or not, its depth and reject reason
    EvolInstructCreator("evalab/smollm2-135m").evolve(selected, 4, iteration=1)   # free text via litellm

The creator module is split along its ideas: :mod:`evalab.operators` (operators and their templates),
:mod:`evalab.validation` (cleaning and validating an output), this module (variants, LLM calls, the two
creators, chained evolution). Every public name of the three is importable from ``evalab.creator``.

Two evolution schemes (``evolution=``; ``EvaConfig.evolution``, default "chained" as in the paper):

- ``"chained"`` (distilabel's EvolInstruct with ``num_evolutions=k``, the paper's creator): k steps per
  selected prompt; step i rewrites the output of step i-1 with an operator drawn at random (with
  replacement) per step; every step is kept as a variant. An accepted step's ``parent_id`` is the previous
  accepted step (the selected prompt for the first one) and its ``depth`` is its parent's depth + 1. A
  rejected step is recorded with its reason and the chain continues from the *last accepted text* (the
  next step rewrites that text again, with a freshly drawn operator), so a bad answer never poisons the
  rest of the chain and the chain never rewrites a refusal or an empty answer;
- ``"independent"``: k one-step variants of the selected prompt with rotating operators (depth 1 each).

Calls go through ``litellm.acompletion`` with a semaphore (``concurrency``), exponential backoff with jitter
on failures (timeouts, 429, 5xx, connection errors, empty answers), a per-call timeout, and never raise for a
single failed variant (it becomes a rejected ``Variant`` with reason "error"). Only when *every* call of a
batch failed does ``evolve`` raise ``RuntimeError``, after the batch, so a run loop stops cleanly. API keys
are never logged nor stored: error texts are redacted. Works inside Jupyter (a running event loop) by
running the batch in a worker thread. The model string "evalab/<name>" is the embedded local model
(``evalab.llm`` registers it as a litellm provider).

Accounting: ``creator.last_stats`` holds the last ``evolve``'s calls, failed calls, retries, prompt and
completion tokens, wall seconds and cost in USD (litellm's cost map: the response's ``response_cost``, else
``litellm.completion_cost``; 0 for the embedded local model and for models litellm cannot price); each
variant carries its own call's tokens and cost (and latency, ``Variant.seconds``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy as _copy
import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Collection, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import EVOLUTIONS, LOCAL_CREATOR, EvaConfig
from .operators import (  # noqa: F401  (re-exported: evalab.creator is the public entry point)
    CODE_OPERATORS, EASING_OPERATORS, FREE_TEXT_OPERATORS, IN_BREADTH, IN_DEPTH, OPERATORS, STRUCTURED_ONLY,
    build_messages,
)
from .prompts import Prompt, child_id
from .validation import (  # noqa: F401  (re-exported)
    ACCEPTED, MARKUP_MIN_PROSE_WORDS, MARKUP_SHARE, MARKUP_SHARE_HARD, NEAR_COPY_MAX_SHARE, NEAR_COPY_MAX_WORDS,
    NEAR_COPY_RATIO, REASONS, clean_output, is_copy, markup_share, normalize_text, screen_text, validate_variant,
)

log = logging.getLogger("evalab.creator")

# =====================================================================================================
# Variants
# =====================================================================================================

@dataclass
class Variant:
    """One creator output for one parent: accepted (``prompt`` set, reason "ok") or rejected with a reason."""

    parent_id: str
    operator: str
    k: int
    text: str
    accepted: bool
    reason: str
    prompt: Prompt | None = None
    raw: str = ""
    attempts: int = 0
    error: str | None = None
    constraints: list[dict[str, Any]] | None = None  # structured: the (possibly rejected) constraint list
    task: str = ""                                    # structured: the (possibly rejected) task text
    depth: int = 1             # generations from the selected prompt (chained: parent's depth + 1)
    root_id: str = ""          # the selected prompt the chain started from ("" = parent_id)
    calls: int = 0             # creator LLM calls behind this variant (0 for code operators)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0       # latency of its call, retries included (not in variants_to_frame: not replayable)


VARIANT_COLUMNS = ("parent_id", "operator", "k", "text", "accepted", "reason", "id", "attempts", "error",
                   "constraints", "raw", "task", "domain", "iteration", "depth", "root_id", "calls",
                   "prompt_tokens", "completion_tokens", "cost_usd")


def variants_to_frame(variants: Sequence[Variant]) -> pd.DataFrame:
    """One row per variant. Accepted rows carry every Prompt column (id, text, task, constraints JSON,
    domain, parent_id, iteration, operator), so ``Prompt.from_dict(row)`` rebuilds the evolved prompt."""
    rows = []
    for v in variants:
        p = v.prompt
        cons = p.constraints if p is not None else (v.constraints or [])
        rows.append({
            "parent_id": v.parent_id, "operator": v.operator, "k": int(v.k),
            "text": p.text if p is not None else v.text, "accepted": bool(v.accepted), "reason": v.reason,
            "id": p.id if p is not None else None, "attempts": int(v.attempts), "error": v.error,
            "constraints": json.dumps(cons, sort_keys=True), "raw": v.raw,
            "task": p.task if p is not None else (v.task or v.text),
            "domain": p.domain if p is not None else "",
            "iteration": int(p.iteration) if p is not None else -1,
            "depth": int(v.depth), "root_id": v.root_id or v.parent_id, "calls": int(v.calls),
            "prompt_tokens": int(v.prompt_tokens), "completion_tokens": int(v.completion_tokens),
            "cost_usd": float(v.cost_usd),  # not v.seconds: timings stay out of tables that must replay exactly
        })
    return pd.DataFrame(rows, columns=list(VARIANT_COLUMNS))


# =====================================================================================================
# LLM calls: concurrency, retries, timeouts, redaction
# =====================================================================================================

@dataclass
class CallResult:
    """Outcome of one logical creator call (possibly several HTTP attempts)."""

    text: str | None
    attempts: int
    error: str | None
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


def _usage(resp: Any) -> tuple[int, int]:
    """(prompt tokens, completion tokens) a litellm response reports (0 when it reports none)."""
    u = getattr(resp, "usage", None)
    if u is None:
        return 0, 0
    get = u.get if isinstance(u, dict) else (lambda k, d=None: getattr(u, k, d))
    return int(get("prompt_tokens", 0) or 0), int(get("completion_tokens", 0) or 0)


def response_cost(resp: Any, model: str) -> float:
    """Cost in USD of one litellm response from litellm's model cost map: the ``response_cost`` litellm
    attaches to the response, else ``litellm.completion_cost``; 0.0 for the embedded local model and for a
    model the map cannot price."""
    if model.startswith("evalab/"):
        return 0.0
    hidden = getattr(resp, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if cost is None:
        try:
            import litellm

            cost = litellm.completion_cost(completion_response=resp, model=model)
        except Exception:  # noqa: BLE001 (an unpriced model costs "unknown" = 0, never a failed variant)
            cost = 0.0
    return float(cost or 0.0)


def empty_stats() -> dict[str, Any]:
    """The accounting ``Creator.last_stats`` holds, all zero."""
    return {"calls": 0, "failed_calls": 0, "retries": 0, "attempts": 0, "prompt_tokens": 0,
            "completion_tokens": 0, "cost_usd": 0.0, "seconds": 0.0}


_SECRET_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-*]{4,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.=*]{6,}"),
    re.compile(r"(?i)(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]{4,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{10,}"),
]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with API-key-looking substrings, the given secrets and secret-looking env values masked."""
    out = str(text)
    env_secrets = [v for k, v in os.environ.items()
                   if v and len(v) >= 8 and re.search(r"(KEY|TOKEN|SECRET|PASSWORD)$", k.upper())]
    for s in [*secrets, *env_secrets]:
        if s and len(s) >= 4:
            out = out.replace(s, "***")
    for r in _SECRET_PATTERNS:
        out = r.sub(lambda m: (m.group(1) if m.re.groups else "") + "***", out)
    return out


def _non_retryable_classes() -> tuple[type[BaseException], ...]:
    import litellm

    names = ("AuthenticationError", "BadRequestError", "NotFoundError", "PermissionDeniedError",
             "UnsupportedParamsError", "ContextWindowExceededError", "ContentPolicyViolationError")
    return tuple(getattr(litellm, n) for n in names if isinstance(getattr(litellm, n, None), type))


def run_sync(make_coro: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion from sync code, also when an event loop already runs (Jupyter):
    then it runs in a fresh loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="evalab-creator") as ex:
        return ex.submit(lambda: asyncio.run(make_coro())).result()


def _derive_seed(*parts: object) -> int:
    """A 31-bit seed from any parts (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "big") & 0x7FFFFFFF


def _ensure_local_provider(model: str) -> None:
    if model.startswith("evalab/"):
        from . import llm

        llm.register_local_provider()


class Creator:
    """Base class: LLM call machinery shared by the creators (subclasses implement :meth:`evolve`).

    Args:
        model: litellm model string; "evalab/<name>" is the embedded local model.
        concurrency: maximum concurrent calls.
        max_retries: retries after the first attempt (so at most ``max_retries + 1`` attempts per call).
        backoff: base delay in seconds; attempt i waits ``backoff * 2**(i-1) * U(1, 1.5)``, capped at ``max_backoff``.
        timeout: seconds per attempt.
        max_tokens, temperature, top_p: sampling of the creator.
        max_chars: variants longer than this are rejected as "over_long".
        n_variants: default number of variants per prompt.
        api_base, api_key: optional endpoint / key passed to litellm (never logged or stored).
        completion_kwargs: any other litellm arguments (e.g. ``{"mock_response": "..."}`` in tests).
    """

    operators: tuple[str, ...] = ()
    can_ease = False  # StructuredEvolver: has the "relax" operator (evolve's ease=)

    def __init__(self, model: str = LOCAL_CREATOR, *, concurrency: int = 8, max_retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 30.0, timeout: float = 60.0, max_tokens: int = 256,
                 temperature: float = 0.7, top_p: float = 0.95, max_chars: int = 2000, n_variants: int = 4,
                 operators: Sequence[str] | None = None, api_base: str | None = None,
                 api_key: str | None = None, completion_kwargs: dict[str, Any] | None = None,
                 evolution: str = "independent") -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"model={model!r}: give a litellm model string, e.g. 'evalab/smollm2-135m'")
        for name, value in (("concurrency", concurrency), ("max_tokens", max_tokens),
                            ("max_chars", max_chars), ("n_variants", n_variants)):
            if int(value) < 1:
                raise ValueError(f"{name}={value!r}: must be >= 1")
        if max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r}: must be >= 0")
        if evolution not in EVOLUTIONS:
            raise ValueError(f"evolution={evolution!r}: choose one of {EVOLUTIONS}")
        self.evolution = evolution
        if backoff < 0 or timeout <= 0:
            raise ValueError(f"backoff={backoff!r} must be >= 0 and timeout={timeout!r} > 0")
        self.model = model
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.timeout = float(timeout)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_chars = int(max_chars)
        self.n_variants = int(n_variants)
        if operators is not None:
            bad = [o for o in operators if o not in self.operators]
            if bad or not operators:
                raise ValueError(f"operators={list(operators)!r}: choose a non-empty subset of {self.operators}")
            self.operators = tuple(operators)
        self.api_base = api_base
        self._api_key = api_key
        self.completion_kwargs = dict(completion_kwargs or {})
        self.last_stats: dict[str, Any] = empty_stats()

    def __repr__(self) -> str:  # no api key in reprs
        return (f"{type(self).__name__}(model={self.model!r}, operators={self.operators}, "
                f"evolution={self.evolution!r}, concurrency={self.concurrency}, max_retries={self.max_retries}, "
                f"timeout={self.timeout})")

    # --- public ---------------------------------------------------------------------------------
    def evolve(self, prompts: Sequence[Prompt], n_variants: int | None = None, *, iteration: int, seed: int = 42,
               progress: bool = True, existing: Iterable[str] = (), evolution: str | None = None,
               ease: Collection[str] = ()) -> list[Variant]:
        """``n_variants`` variants (independent) or chain steps (chained) of every prompt, in input order
        (parent, then k), accepted or rejected. ``evolution`` overrides the creator's own scheme.

        ``existing``: texts already in the pool (e.g. the whole X_t); a variant equal to one is "duplicate".
        ``ease``: ids of prompts to steer toward the frontier (``creator_aim="frontier"``): wherever their chain
        (or their variants) drew a constraint operator, "relax" is applied instead; the draws themselves are
        unchanged, so an eased chain differs from the paper's only in those steps. Needs ``can_ease``.
        Raises RuntimeError after a batch if every creator call of it failed.
        """
        n = self._check_args(prompts, n_variants, iteration)
        scheme = self.evolution if evolution is None else evolution
        if scheme not in EVOLUTIONS:
            raise ValueError(f"evolution={scheme!r}: choose one of {EVOLUTIONS}")
        ease = frozenset(ease)
        if ease and not self.can_ease:
            raise ValueError(f"ease={sorted(ease)[:3]}...: {type(self).__name__} has no 'relax' operator; "
                             "creator_aim='frontier' needs the structured evolver")
        self.last_stats = empty_stats()
        seen = _seen_keys(prompts, existing)
        if scheme == "independent":
            plan = [(p, k, steer(op, p.id, ease)) for p, k, op in plan_variants(self, prompts, n, seed)]
            return self._make_variants(plan, iteration, seed, progress, seen)
        return self._evolve_chained(prompts, n, iteration, seed, progress, seen, ease)

    def _evolve_chained(self, prompts: Sequence[Prompt], n: int, iteration: int, seed: int, progress: bool,
                        seen: set[str], ease: frozenset[str] = frozenset()) -> list[Variant]:
        """k = n steps per prompt, all prompts' step i in one concurrent batch; step i rewrites the last
        accepted text of the chain (the previous step's output, or the one before when it was rejected)."""
        heads = list(prompts)                 # the text each chain rewrites next
        depth = {p.id: 0 for p in prompts}    # lineage depth of every head
        steps: list[list[Variant]] = []
        for k in range(n):
            plan = [(head, k, steer(self._pick_chain_operator(seed, root.id, k), root.id, ease))
                    for root, head in zip(prompts, heads)]
            batch = self._make_variants(plan, iteration, seed, progress, seen, desc_suffix=f" step {k + 1}/{n}")
            for i, v in enumerate(batch):
                v.root_id = prompts[i].id
                v.depth = depth[heads[i].id] + 1
                if v.accepted and v.prompt is not None:
                    depth[v.prompt.id] = v.depth
                    heads[i] = v.prompt
            steps.append(batch)
        return [steps[k][i] for i in range(len(prompts)) for k in range(n)]

    def _make_variants(self, plan: Sequence[tuple[Prompt, int, str]], iteration: int, seed: int, progress: bool,
                       seen: set[str], desc_suffix: str = "") -> list[Variant]:
        """One variant per (parent, k, operator) of ``plan``, in plan order; accepted ones join ``seen``."""
        raise NotImplementedError

    # --- helpers for subclasses -----------------------------------------------------------------
    def _check_args(self, prompts: Sequence[Prompt], n_variants: int | None, iteration: int) -> int:
        n = self.n_variants if n_variants is None else int(n_variants)
        if n < 1:
            raise ValueError(f"n_variants={n_variants!r}: must be >= 1")
        if int(iteration) < 0:
            raise ValueError(f"iteration={iteration!r}: must be >= 0")
        for p in prompts:
            if not isinstance(p, Prompt):
                raise ValueError(f"prompts must be evalab.prompts.Prompt records; got {type(p).__name__}")
        return n

    def _pick_chain_operator(self, seed: int, root_id: str, k: int) -> str:
        """Operator of chain step k: drawn uniformly at random (with replacement, as distilabel's EvolInstruct
        does), deterministic per (seed, chain, step)."""
        return self.operators[_derive_seed(seed, root_id, k, "chain-operator") % len(self.operators)]

    def _pick_operator(self, seed: int, parent_id: str, k: int) -> str:
        """Deterministic operator of variant k: a per-parent random offset, then rotation over the operators
        (so the k variants of one parent use different operators when n_variants <= len(operators))."""
        offset = _derive_seed(seed, parent_id, "operator") % len(self.operators)
        return self.operators[(offset + k) % len(self.operators)]

    def _call_all(self, requests: Sequence[tuple[list[dict[str, str]], int]], progress: bool,
                  desc: str) -> list[CallResult]:
        """Run every (messages, seed) request through litellm; results in request order."""
        if not requests:
            return []
        _ensure_local_provider(self.model)
        t0 = time.perf_counter()
        results: list[CallResult] = run_sync(lambda: self._acall_all(requests, progress, desc))
        n_fail = sum(r.error is not None for r in results)
        st = self.last_stats  # summed over the batches of one evolve (a chain makes one batch per step)
        st["calls"] += len(results)
        st["failed_calls"] += n_fail
        st["retries"] += sum(max(r.attempts - 1, 0) for r in results)
        st["attempts"] += sum(r.attempts for r in results)
        st["prompt_tokens"] += sum(r.prompt_tokens for r in results)
        st["completion_tokens"] += sum(r.completion_tokens for r in results)
        st["cost_usd"] += sum(r.cost_usd for r in results)
        st["seconds"] = round(st["seconds"] + time.perf_counter() - t0, 3)
        if n_fail == len(results):
            last = next((r.error for r in reversed(results) if r.error), "unknown error")
            raise RuntimeError(f"creator {self.model!r} failed on all {len(results)} calls: {last}")
        return results

    async def _acall_all(self, requests: Sequence[tuple[list[dict[str, str]], int]], progress: bool,
                         desc: str) -> list[CallResult]:
        from tqdm.auto import tqdm

        # the embedded model (evalab/...) micro-batches concurrent calls into one generation (evalab.llm.MicroBatcher,
        # each request with its own seed, so the texts do not depend on what else was in flight)
        sem = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=len(requests), desc=desc, unit="call", disable=not progress, leave=False)

        async def one(i: int, messages: list[dict[str, str]], seed: int) -> CallResult:
            async with sem:
                res = await self._acall(messages, seed, call_id=i)
            bar.update(1)
            return res

        try:
            return list(await asyncio.gather(*(one(i, m, s) for i, (m, s) in enumerate(requests))))
        finally:
            bar.close()

    async def _acall(self, messages: list[dict[str, str]], seed: int, call_id: int = 0) -> CallResult:
        """One logical call with retries: exponential backoff + jitter on exceptions and on empty answers.
        Never raises (except on cancellation); failures come back as ``CallResult.error``."""
        import litellm

        litellm.suppress_debug_info = True  # no "Give Feedback" banners on every failure
        no_retry = _non_retryable_classes()
        jitter = random.Random(seed)
        kwargs: dict[str, Any] = dict(model=self.model, messages=messages, max_tokens=self.max_tokens,
                                      temperature=self.temperature, top_p=self.top_p, timeout=self.timeout,
                                      max_retries=0, drop_params=True, **self.completion_kwargs)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        t0 = time.perf_counter()
        last_error: str | None = None
        attempt = 0
        used = [0, 0, 0.0]  # prompt tokens, completion tokens, USD over every attempt that got an answer

        def done(text: str | None, error: str | None) -> CallResult:
            return CallResult(text, attempt, error, time.perf_counter() - t0, used[0], used[1], used[2])

        for attempt in range(1, self.max_retries + 2):
            try:
                # litellm enforces ``timeout`` on the HTTP exchange; this outer guard only catches calls that
                # hang elsewhere (a custom provider). It is generous because litellm's first call in a process
                # does seconds of lazy imports that must not count as a timeout.
                resp = await asyncio.wait_for(litellm.acompletion(seed=seed + attempt - 1, **kwargs),
                                              timeout=self.timeout * 2 + 60.0)
                pt, ct = _usage(resp)
                used[0] += pt
                used[1] += ct
                used[2] += response_cost(resp, self.model)
                text = resp.choices[0].message.content or ""
                if text.strip():
                    return done(text, None)
                last_error = "empty answer"
                retryable = True
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 (one failed variant must not stop the batch)
                last_error = redact(f"{type(e).__name__}: {e}".rstrip(": "), [self._api_key])[:500]
                retryable = not isinstance(e, no_retry)
            if not retryable or attempt > self.max_retries:
                break
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (1.0 + 0.5 * jitter.random())
            log.warning("creator call %d attempt %d/%d failed (%s); retrying in %.2fs",
                        call_id, attempt, self.max_retries + 1, last_error, delay)
            await asyncio.sleep(delay)
        if last_error == "empty answer":
            return done("", None)  # the call worked: reason "empty"
        log.error("creator call %d failed after %d attempt(s): %s", call_id, attempt, last_error)
        return done(None, last_error)


def _accept(parent: Prompt, operator: str, k: int, iteration: int, text: str, task: str,
            constraints: list[dict[str, Any]]) -> Prompt:
    return Prompt(id=child_id(parent.id, iteration, operator, k, text), text=text, task=task,
                  constraints=constraints, domain=parent.domain, parent_id=parent.id, iteration=int(iteration),
                  operator=operator)


def _seen_keys(prompts: Sequence[Prompt], existing: Iterable[str]) -> set[str]:
    return {normalize_text(p.text) for p in prompts} | {normalize_text(t) for t in existing}


def _with_call(v: Variant, res: CallResult | None) -> Variant:
    """``v`` with the accounting of the call behind it (none for a code operator)."""
    if res is not None:
        v.calls, v.prompt_tokens, v.completion_tokens = 1, res.prompt_tokens, res.completion_tokens
        v.cost_usd, v.seconds = res.cost_usd, round(res.seconds, 4)
    return v


# =====================================================================================================
# Free-text EvolInstruct
# =====================================================================================================

class EvolInstructCreator(Creator):
    """Free-text EvolInstruct through litellm: each variant applies one operator to the whole prompt text.

        creator = EvolInstructCreator("openai/gpt-4o-mini", concurrency=32, evolution="chained")
        variants = creator.evolve(prompts, n_variants=4, iteration=1, seed=42)   # 4 chained steps per prompt

    Evolved prompts carry no structured constraints (their text may state requirements in words); use
    :class:`StructuredEvolver` when the reward checks constraints.
    """

    operators = FREE_TEXT_OPERATORS

    def _make_variants(self, plan: Sequence[tuple[Prompt, int, str]], iteration: int, seed: int, progress: bool,
                       seen: set[str], desc_suffix: str = "") -> list[Variant]:
        requests = [(build_messages(op, p.text, domain=p.domain), _derive_seed(seed, p.id, k, "call"))
                    for p, k, op in plan]
        results = self._call_all(requests, progress, desc=f"creator t={iteration}{desc_suffix}")
        return [_with_call(self._finish(parent, k, op, res, iteration, seen), res)
                for (parent, k, op), res in zip(plan, results)]

    def _finish(self, parent: Prompt, k: int, op: str, res: CallResult, iteration: int, seen: set[str]) -> Variant:
        if res.error is not None:
            return Variant(parent.id, op, k, "", False, "error", None, "", res.attempts, res.error)
        raw = res.text or ""
        text = clean_output(raw)
        reason = validate_variant(parent, text, max_chars=self.max_chars, seen=seen)
        if reason:
            return Variant(parent.id, op, k, text, False, reason, None, raw, res.attempts, None, task=text)
        seen.add(normalize_text(text))
        prompt = _accept(parent, op, k, iteration, text, text, [])
        return Variant(parent.id, op, k, text, True, ACCEPTED, prompt, raw, res.attempts, None, [], text)


def steer(operator: str, root_id: str, ease: Collection[str]) -> str:
    """The operator a step applies under ``creator_aim``: "relax" in place of a constraint operator
    (add_constraints / harden) when the chain's selected prompt ``root_id`` is eased, else ``operator``."""
    return EASING_OPERATORS[0] if root_id in ease and operator in CODE_OPERATORS else operator


def plan_variants(creator: Creator, prompts: Sequence[Prompt], n_variants: int,
                  seed: int) -> list[tuple[Prompt, int, str]]:
    """(parent, k, operator) for every variant, in output order; operators from :meth:`Creator._pick_operator`."""
    return [(p, k, creator._pick_operator(seed, p.id, k)) for p in prompts for k in range(n_variants)]


# =====================================================================================================
# Structured evolver (verifiable constraints stay checkable)
# =====================================================================================================

def _constraints_module() -> Any:
    from . import constraints

    return constraints


def _canon(constraints: Sequence[dict[str, Any]]) -> str:
    return json.dumps(sorted(json.dumps(c, sort_keys=True) for c in constraints))


class StructuredEvolver(Creator):
    """Evolution for the verifiable task: constraints are edited in code, the task text through the LLM.

        evolver = StructuredEvolver(llm_rewrite=False)        # purely programmatic, fast
        variants = evolver.evolve(prompts, n_variants=4, iteration=1, seed=42)
        all(v.prompt.text == render_prompt(v.prompt.task, v.prompt.constraints) for v in variants if v.accepted)

    Per variant one operator: "add_constraints" / "harden" change the constraint list with
    ``constraints.add_constraint`` / ``constraints.harden`` and keep the task; "deepen" / "concretize" /
    "reasoning" rewrite the task through the LLM and keep the constraints; "breadth" asks the LLM for a new
    task of the same domain and samples as many fresh constraints as the parent had. The prompt text is
    always ``render_prompt(task, constraints)``. When the picked code operator is impossible (nothing left to
    add or harden) the other one is tried. ``llm_rewrite=False`` uses the code operators only. With
    ``evolution="chained"`` every step applies its operator to the previous accepted step (constraints
    accumulate, the task is rewritten again), so a 4-step chain can add, harden and rewrite in turn.
    """

    operators = OPERATORS
    can_ease = True

    def __init__(self, model: str = LOCAL_CREATOR, *, llm_rewrite: bool = True, **kw: Any) -> None:
        ops = kw.pop("operators", None)
        super().__init__(model, **kw)
        self.llm_rewrite = bool(llm_rewrite)
        if ops is not None:
            bad = [o for o in ops if o not in OPERATORS]
            if bad or not ops:
                raise ValueError(f"operators={list(ops)!r}: choose a non-empty subset of {OPERATORS}")
            self.operators = tuple(ops)
        else:
            self.operators = OPERATORS if self.llm_rewrite else CODE_OPERATORS
        if not self.llm_rewrite and any(o not in CODE_OPERATORS for o in self.operators):
            raise ValueError(f"operators={list(self.operators)!r}: with llm_rewrite=False only {CODE_OPERATORS} "
                             "can be applied")

    def _make_variants(self, plan: Sequence[tuple[Prompt, int, str]], iteration: int, seed: int, progress: bool,
                       seen: set[str], desc_suffix: str = "") -> list[Variant]:
        C = _constraints_module()
        # 1. code edits of the constraint lists (deterministic per (seed, parent, k))
        drafts: list[dict[str, Any]] = []
        for parent, k, op in plan:
            rng = np.random.default_rng(_derive_seed(seed, parent.id, k, "constraints"))
            drafts.append(self._draft(C, parent, op, rng))
        # 2. LLM rewrites of the task text, concurrently
        need = [i for i, d in enumerate(drafts) if d["llm"]]
        requests = [(build_messages(drafts[i]["operator"], plan[i][0].task or plan[i][0].text,
                                    domain=plan[i][0].domain, task_only=True),
                     _derive_seed(seed, plan[i][0].id, plan[i][1], "call")) for i in need]
        results = self._call_all(requests, progress, desc=f"structured creator t={iteration}{desc_suffix}")
        by_index = dict(zip(need, results))
        # 3. assemble + validate in plan order (the duplicate check depends on order)
        return [_with_call(self._finish(C, parent, k, drafts[i], by_index.get(i), iteration, seen), by_index.get(i))
                for i, (parent, k, _op) in enumerate(plan)]

    def _draft(self, C: Any, parent: Prompt, op: str, rng: np.random.Generator) -> dict[str, Any]:
        """Constraint list and task plan of one variant (before any LLM call)."""
        cons = _copy.deepcopy(parent.constraints)
        task = parent.task or parent.text
        if op in EASING_OPERATORS:  # creator_aim="frontier": None (nothing to relax) is rejected as a copy
            return {"operator": op, "llm": False, "constraints": C.relax(cons, rng, task=task), "task": task,
                    "rng": rng}
        if op in CODE_OPERATORS:
            first, second = (C.add_constraint, C.harden) if op == "add_constraints" else (C.harden, C.add_constraint)
            new = first(cons, rng, task=task)
            if new is None:
                op = "harden" if op == "add_constraints" else "add_constraints"
                new = second(cons, rng, task=task)
            return {"operator": op, "llm": False, "constraints": new, "task": task, "rng": rng}
        # breadth: the fresh constraints are sampled once the new task is known (keywords come from it)
        return {"operator": op, "llm": True, "constraints": None if op == "breadth" else cons, "task": None,
                "rng": rng}

    def _finish(self, C: Any, parent: Prompt, k: int, draft: dict[str, Any], res: CallResult | None,
                iteration: int, seen: set[str]) -> Variant:
        op = draft["operator"]
        cons = draft["constraints"]
        parent_task = parent.task or parent.text
        raw = ""
        attempts = 0
        if draft["llm"]:
            assert res is not None
            attempts = res.attempts
            if res.error is not None:
                return Variant(parent.id, op, k, "", False, "error", None, "", attempts, res.error, cons, "")
            raw = res.text or ""
            task = " ".join(clean_output(raw).split())  # render_prompt puts the task on one line anyway
            reason = screen_text(task, max_chars=self.max_chars)
            if reason is None and is_copy(parent_task, task):
                reason = "copy"
            if reason:
                return Variant(parent.id, op, k, task, False, reason, None, raw, attempts, None, cons, task)
            if op == "breadth":  # as many fresh constraints as the parent had, keywords from the new task
                cons = []
                for _ in range(len(parent.constraints)):
                    cons = C.add_constraint(cons, draft["rng"], task=task)
                    if cons is None:
                        break
        else:
            task = draft["task"]
        if cons is None:  # add_constraint and harden (or relax) could not change the list: nothing new to offer
            return Variant(parent.id, op, k, parent.text, False, "copy", None, raw, attempts, None,
                           parent.constraints, task)
        bad = C.validate_constraints(cons)
        if bad is not None:
            return Variant(parent.id, op, k, task, False, "broken_constraints", None, raw, attempts,
                           f"constraints: {bad}", cons, task)
        text = C.render_prompt(task, cons)
        if len(text) > self.max_chars:
            return Variant(parent.id, op, k, text, False, "over_long", None, raw, attempts, None, cons, task)
        if not draft["llm"] and task == parent_task and _canon(cons) == _canon(parent.constraints):
            return Variant(parent.id, op, k, text, False, "copy", None, raw, attempts, None, cons, task)
        key = normalize_text(text)
        if key in seen:
            return Variant(parent.id, op, k, text, False, "duplicate", None, raw, attempts, None, cons, task)
        seen.add(key)
        prompt = _accept(parent, op, k, iteration, text, task, cons)
        return Variant(parent.id, op, k, text, True, ACCEPTED, prompt, raw, attempts, None, cons, task)


# =====================================================================================================
# Factory
# =====================================================================================================

def make_creator(cfg: EvaConfig, **overrides: Any) -> Creator:
    """The creator an EvaConfig asks for: ``cfg.evolver`` ("structured" | "evol_instruct") with ``cfg.creator``
    (litellm model string), ``cfg.evolution`` ("chained" | "independent"), ``cfg.n_variants``, ``cfg.creator_concurrency``, ``cfg.creator_max_tokens`` and
    ``cfg.max_prompt_chars``. ``overrides`` go to the constructor (e.g. ``llm_rewrite=False``, ``api_base=``)."""
    kw: dict[str, Any] = dict(concurrency=cfg.creator_concurrency, max_tokens=cfg.creator_max_tokens,
                              max_chars=cfg.max_prompt_chars, n_variants=cfg.n_variants, evolution=cfg.evolution)
    kw.update(overrides)
    if cfg.evolver == "structured":
        return StructuredEvolver(cfg.creator, **kw)
    if cfg.evolver == "evol_instruct":
        if "llm_rewrite" in kw:
            raise ValueError("llm_rewrite applies only to evolver='structured'")
        return EvolInstructCreator(cfg.creator, **kw)
    raise ValueError(f"EvaConfig.evolver={cfg.evolver!r}: choose 'structured' or 'evol_instruct'")


__all__ = [
    "OPERATORS", "IN_DEPTH", "IN_BREADTH", "REASONS", "Variant", "Creator", "EvolInstructCreator",
    "StructuredEvolver", "make_creator", "variants_to_frame", "validate_variant", "clean_output",
    "normalize_text", "is_copy", "screen_text", "markup_share", "build_messages", "redact", "run_sync",
    "EVOLUTIONS", "response_cost",
]
