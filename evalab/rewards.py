"""Reward functions: score N responses for each of P prompts, as a (P, N) float array; NaN = not scored.

    from evalab.rewards import make_reward
    reward = make_reward("constraints")                       # verifiable constraints (default; no model)
    r = reward(prompts, [["resp 1", "resp 2"], ["resp 3", None]])   # -> (2, 2) array, NaN where None
    make_reward("rm:OpenAssistant/reward-model-deberta-v3-large-v2")   # HF sequence-classification RM
    make_reward("judge:gemini/gemini-1.5-pro")                # LLM judge through litellm, 1-10 -> [0, 1]

Contract (``RewardFunction``): ``reward(prompts, responses)`` with ``prompts`` a sequence of
``evalab.prompts.Prompt`` (a plain string or a dict with "text"/"constraints" also works) and ``responses``
P lists of responses (ragged lists are padded with NaN; a ``None`` response is NaN). NaN means *missing*,
never zero (TRL lets a reward function decline a sample the same way): ``evalab.informativeness``
skips NaN entries.

- ``ConstraintReward``: ``constraints.score_response`` = 0.9 frac satisfied + 0.1 mean partial credit
  (why: ``evalab.constraints``); a prompt without constraints gets NaN.
- ``HFRewardModel``: ``AutoModelForSequenceClassification`` scoring the decoded text with the reward
  model's *own* tokenizer and chat template (the solver's template may differ: a template mismatch is a
  classic source of silent garbage or IndexErrors), batched, no gradients. A tokenizer without a chat
  template gets (prompt, response) as a text pair, as encoder RMs expect.
- ``LLMJudgeReward``: one ``litellm.completion`` per (prompt, response), concurrent; the judge answers
  "Score: <1-10>", mapped to (s - 1) / 9; a failed call or an unparsable answer is NaN (counted in
  ``n_failed``).
- ``PairwiseJudgeReward`` (``"pairwise:<litellm model>"``): a pairwise judge inside each group, a response's
  reward = its win share against the others (both orders; OAIF's preference oracle when N = 2).
- ``CallableReward``: any ``fn(prompt_text, response) -> float | None``.

Fail loudly: a reward may keep ``first_error`` (the judge keeps its first failed call, one line) and a
``pass_threshold`` (reward >= it counts as a pass; 1.0 for the constraint reward, none for RMs and judges).
:func:`check_missing_rewards` stops a scoring stage whose NaN share exceeds ``EvaConfig.max_missing_reward``
with one :class:`MissingRewardError` line naming the reward and that first error. Why 5% by default: with
retries, a healthy hosted judge loses well under 1% of calls and the constraint reward none on constraint
prompts, so a larger share points at something systematic (a revoked key, a quota, a prompt set the reward cannot
score) whose numbers would be built on the responses that happened to be scored; below it, a NaN is left out of
the informativeness of its prompt only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import numpy as np

from . import constraints as C

log = logging.getLogger(__name__)

PromptLike = Any  # evalab.prompts.Prompt, a dict with "text" (and "constraints"), or a plain string


@runtime_checkable
class RewardFunction(Protocol):
    name: str

    def __call__(self, prompts: Sequence[PromptLike], responses: Sequence[Sequence[str | None]]) -> np.ndarray: ...


def prompt_text(p: PromptLike) -> str:
    if isinstance(p, str):
        return p
    if isinstance(p, dict):
        return str(p["text"])
    return str(p.text)


def prompt_constraints(p: PromptLike) -> list[dict]:
    cs = p.get("constraints", []) if isinstance(p, dict) else getattr(p, "constraints", [])
    if isinstance(cs, str):
        cs = json.loads(cs)
    return list(cs or [])


def _check_shapes(prompts: Sequence[PromptLike], responses: Sequence[Sequence[str | None]]) -> int:
    """Validate the batch; return N (the longest response list)."""
    if isinstance(responses, str) or len(prompts) != len(responses):
        raise ValueError(f"responses must be one list per prompt: got {len(prompts)} prompts and "
                         f"{'a string' if isinstance(responses, str) else len(responses)} response lists")
    for i, row in enumerate(responses):
        if isinstance(row, str):
            raise ValueError(f"responses[{i}] is a string; expected a list of responses for prompt #{i}")
    return max((len(row) for row in responses), default=0)


class _GridReward:
    """Shared batching: flatten the non-None (prompt, response) cells, score them, scatter into (P, N)."""

    name = "reward"

    def __call__(self, prompts: Sequence[PromptLike], responses: Sequence[Sequence[str | None]]) -> np.ndarray:
        n = _check_shapes(prompts, responses)
        out = np.full((len(prompts), n), np.nan)
        cells = [(i, j) for i, row in enumerate(responses) for j, r in enumerate(row) if r is not None]
        if cells:
            scores = self.score_pairs([prompts[i] for i, _ in cells], [responses[i][j] for i, j in cells])
            for (i, j), s in zip(cells, scores):
                out[i, j] = s if s is not None and math.isfinite(s) else np.nan
        return out

    def score_pairs(self, prompts: Sequence[PromptLike], responses: Sequence[str]) -> list[float | None]:
        raise NotImplementedError


class ConstraintReward(_GridReward):
    """Reward = ``constraints.score_response`` of each response (pure Python, no model).

    Composite: 0.9 ``frac`` + 0.1 ``partial``. ``components`` returns each part as its own (P, N) matrix —
    ``full`` (1.0 iff every constraint holds, else 0.0), ``frac`` (share satisfied), ``partial`` (mean partial
    credit) — so informativeness can be defined on one of them (``EvaConfig.informativeness_reward``)."""

    name = "constraints"
    pass_threshold = 1.0  # a response "passes" when it satisfies every constraint (online all-fail/all-pass shares)

    COMPONENTS = ("full", "frac", "partial")

    def components(self, prompts: Sequence[PromptLike], responses: Sequence[Sequence[str | None]]
                   ) -> dict[str, np.ndarray]:
        """{component: (P, N) array} for ``COMPONENTS``; NaN where the reward is NaN."""
        n = _check_shapes(prompts, responses)
        out = {k: np.full((len(prompts), n), np.nan) for k in self.COMPONENTS}
        for i, row in enumerate(responses):
            cs = prompt_constraints(prompts[i])
            for j, r in enumerate(row):
                s = C.score_response(cs, r)
                if math.isnan(s["reward"]):
                    continue
                out["full"][i, j] = 1.0 if all(s["satisfied"]) else 0.0
                out["frac"][i, j], out["partial"][i, j] = s["frac"], s["partial"]
        return out

    def score_pairs(self, prompts, responses):
        return [C.score_response(prompt_constraints(p), r)["reward"] for p, r in zip(prompts, responses)]

    def breakdown(self, prompts: Sequence[PromptLike], responses: Sequence[Sequence[str | None]]) -> "Any":
        """One row per (prompt, response, constraint): prompt, sample, kind, satisfied, partial (a DataFrame),
        e.g. for the pass rate per constraint kind."""
        import pandas as pd

        _check_shapes(prompts, responses)
        rows = []
        for i, (p, row) in enumerate(zip(prompts, responses)):
            for j, r in enumerate(row):
                if r is None:
                    continue
                for c in prompt_constraints(p):
                    ok, partial = C.check(c, r)
                    rows.append({"prompt": i, "sample": j, "kind": c["kind"], "satisfied": ok, "partial": partial})
        return pd.DataFrame(rows, columns=["prompt", "sample", "kind", "satisfied", "partial"])


def reward_components(reward: Any) -> tuple[str, ...]:
    """Names of the components of a composite reward (``reward.COMPONENTS``), () for a plain one."""
    return tuple(getattr(reward, "COMPONENTS", ()) or ()) if callable(getattr(reward, "components", None)) else ()


class CallableReward(_GridReward):
    """Wrap a per-response ``fn(prompt_text, response) -> float | None``; None or NaN = not scored."""

    def __init__(self, fn: Callable[[str, str], float | None], name: str | None = None):
        if not callable(fn):
            raise ValueError(f"CallableReward needs a callable; got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "callable")

    def score_pairs(self, prompts, responses):
        out = []
        for p, r in zip(prompts, responses):
            v = self.fn(prompt_text(p), r)
            out.append(None if v is None else float(v))
        return out


class HFRewardModel(_GridReward):
    """A Hugging Face sequence-classification reward model (``num_labels == 1``: the logit is the reward;
    more labels: the probability of label ``positive_label``).

    The text is built with the RM's own tokenizer: its chat template (user = prompt, assistant = response)
    if it has one, else the (prompt, response) text pair. Inputs longer than ``max_length`` tokens are
    truncated from the end. Batches are formed from length-sorted inputs (less padding)."""

    def __init__(self, model: str, *, batch_size: int = 8, max_length: int = 1024, device: str | None = None,
                 dtype: str = "float32", positive_label: int = -1, progress: bool = False):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from .models import resolve_model_path

        if batch_size < 1 or max_length < 8:
            raise ValueError(f"HFRewardModel: batch_size={batch_size} must be >= 1, max_length={max_length} >= 8")
        path = resolve_model_path(model)
        self.name = f"rm:{model}"
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        self.model = AutoModelForSequenceClassification.from_pretrained(path, dtype=getattr(torch, dtype))
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.batch_size, self.max_length = batch_size, max_length
        self.positive_label, self.progress = positive_label, progress
        self.uses_chat_template = bool(getattr(self.tokenizer, "chat_template", None))

    def format(self, prompt: str, response: str) -> str | tuple[str, str]:
        """What the RM reads: its chat-template text, or the (prompt, response) pair."""
        if self.uses_chat_template:
            msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
            return self.tokenizer.apply_chat_template(msgs, tokenize=False)
        return prompt, response

    def score_pairs(self, prompts, responses):
        import torch
        from tqdm.auto import tqdm

        texts = [self.format(prompt_text(p), r) for p, r in zip(prompts, responses)]
        order = sorted(range(len(texts)), key=lambda k: len(texts[k]) if isinstance(texts[k], str)
                       else len(texts[k][0]) + len(texts[k][1]))
        scores: list[float | None] = [None] * len(texts)
        starts = range(0, len(order), self.batch_size)
        for s in tqdm(starts, desc=self.name, disable=not self.progress):
            idx = order[s:s + self.batch_size]
            batch = [texts[k] for k in idx]
            kw = dict(padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            if self.uses_chat_template:  # the template already holds the special tokens
                enc = self.tokenizer(batch, add_special_tokens=False, **kw)
            else:
                enc = self.tokenizer([a for a, _ in batch], [b for _, b in batch], **kw)
            with torch.no_grad():
                logits = self.model(**enc.to(self.device)).logits.float()
            if logits.shape[-1] == 1:
                vals = logits[:, 0]
            else:
                vals = torch.softmax(logits, dim=-1)[:, self.positive_label]
            for k, v in zip(idx, vals.cpu().tolist()):
                scores[k] = v
        return scores


JUDGE_TEMPLATE = """Rate the assistant's response to the user's request below.
Judge how well it follows every instruction in the request, and how helpful, correct and clear it is.

[Request]
{prompt}

[Response]
{response}

Give one short sentence of reasoning, then a last line of the form "Score: <1-10>"
(1 = useless or ignores the request, 10 = follows every instruction and is excellent)."""

_SCORE = re.compile(r"score\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?", re.IGNORECASE)


def parse_judge_score(text: str | None) -> float:
    """The last "Score: s" (1 <= s <= 10) of a judge answer mapped to (s - 1) / 9; NaN if there is none."""
    if not text:
        return math.nan
    found = _SCORE.findall(text)
    if not found:
        return math.nan
    s = float(found[-1])
    return (s - 1.0) / 9.0 if 1.0 <= s <= 10.0 else math.nan


class LLMJudgeReward(_GridReward):
    """An LLM judge through ``litellm.completion``: any model string litellm knows ("gemini/...",
    "openai/...", a local server, or "evalab/smollm2-135m" once ``evalab.llm.register_local_provider()`` ran).

    ``completion_kwargs`` go to every call (e.g. ``api_base``, ``num_retries``, ``timeout``; in tests
    ``mock_response``). Calls run on ``max_workers`` threads."""

    def __init__(self, model: str, *, max_workers: int = 8, temperature: float = 0.0, max_tokens: int = 256,
                 template: str = JUDGE_TEMPLATE, completion_kwargs: dict[str, Any] | None = None):
        if not model:
            raise ValueError("LLMJudgeReward: empty model string (expected e.g. 'gemini/gemini-1.5-pro')")
        if "{prompt}" not in template or "{response}" not in template:
            raise ValueError("LLMJudgeReward: template must contain {prompt} and {response}")
        self.model, self.name = model, f"judge:{model}"
        self.max_workers, self.temperature, self.max_tokens = max(1, max_workers), temperature, max_tokens
        self.template, self.completion_kwargs = template, dict(completion_kwargs or {})
        self.n_failed = 0  # calls that raised or answered without a parsable score, over this object's life
        self.first_error: str | None = None  # the first failure, one line ("RateLimitError: ..."), for fail-loudly
        self._lock = threading.Lock()

    def judge(self, prompt: str, response: str) -> float:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network for the cost map
        import litellm

        try:
            out = litellm.completion(
                model=self.model, temperature=self.temperature, max_tokens=self.max_tokens,
                messages=[{"role": "user", "content": self.template.format(prompt=prompt, response=response)}],
                **self.completion_kwargs)
            text = out.choices[0].message.content
            score = parse_judge_score(text)
            error = None if not math.isnan(score) else f"unparsable judge answer {str(text)[:80]!r}"
        except Exception as e:  # noqa: BLE001 — a judge failure is a missing reward, not a crash
            log.warning("judge %s failed: %s: %s", self.model, type(e).__name__, str(e)[:200])
            score, error = math.nan, f"{type(e).__name__}: {e}"
        if math.isnan(score):
            with self._lock:
                self.n_failed += 1
                if self.first_error is None:
                    self.first_error = one_line(error or "no score")
        return score

    def score_pairs(self, prompts, responses):
        texts = [prompt_text(p) for p in prompts]
        if self.max_workers == 1 or len(texts) == 1:
            return [self.judge(p, r) for p, r in zip(texts, responses)]
        with ThreadPoolExecutor(self.max_workers) as pool:
            return list(pool.map(self.judge, texts, responses))


class PairwiseJudgeReward:
    """A pairwise LLM judge as a reward (the preference oracle of OAIF, online DPO from AI feedback): within each
    prompt's group every two responses are compared by the judge in both orders (``evaluation.judge_verdicts``,
    Arena-Hard's template and verdict parser), and a response's reward is its win share over those comparisons
    (win 1, tie 0.5, loss 0; NaN when none of its verdicts came back). With N = 2 — online DPO — the preferred
    response gets 1 and the other 0 (a tie 0.5 each). Costs N(N-1) calls per prompt, one at a time. A failed or
    unparsable verdict is missing (NaN), never a loss; the first one is kept in ``first_error``.

        make_reward("pairwise:gemini/gemini-1.5-pro")           # or any litellm model, "evalab/smollm2-135m"
    """

    def __init__(self, model: str, *, max_tokens: int = 16, completion_kwargs: dict[str, Any] | None = None):
        if not model:
            raise ValueError("PairwiseJudgeReward: empty model string (expected e.g. 'gemini/gemini-1.5-pro')")
        self.model, self.name = model, f"pairwise:{model}"
        self.max_tokens, self.completion_kwargs = max_tokens, dict(completion_kwargs or {})
        self.n_failed = 0
        self.first_error: str | None = None

    def __call__(self, prompts: Sequence[PromptLike], responses: Sequence[Sequence[str | None]]) -> np.ndarray:
        from .evaluation import judge_verdicts
        from .prompts import Prompt

        n = _check_shapes(prompts, responses)
        out = np.full((len(prompts), n), np.nan)
        for i, (p, row) in enumerate(zip(prompts, responses)):
            prompt = Prompt(id=str(i), text=prompt_text(p))
            wins: list[list[float]] = [[] for _ in range(n)]
            for a in range(len(row)):
                for b in range(a + 1, len(row)):
                    if row[a] is None or row[b] is None:
                        continue
                    v = judge_verdicts(self.model, [prompt], [row[a]], [row[b]], max_tokens=self.max_tokens,
                                       **self.completion_kwargs)
                    for score, err in zip(v.score, v.error):
                        if err is not None:
                            self.n_failed += 1
                            self.first_error = self.first_error or one_line(err)
                            continue
                        wins[a].append(float(score))
                        wins[b].append(1.0 - float(score))
            for j, w in enumerate(wins):
                if w:
                    out[i, j] = float(np.mean(w))
        return out


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (newlines collapsed), cut at ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def first_reward_error(reward: Any) -> str | None:
    """The first underlying error a reward recorded (``reward.first_error``, e.g. the judge's first failed
    call), or None when the reward keeps none."""
    err = getattr(reward, "first_error", None)
    return one_line(err) if err else None


class MissingRewardError(RuntimeError):
    """A scoring stage (or an online step) left more responses unscored than ``EvaConfig.max_missing_reward``
    allows. The message is one line: the reward, the missing share, the threshold and the first error."""


def check_missing_rewards(reward: Any, rewards: np.ndarray, max_missing: float, *, where: str = "") -> float:
    """The share of NaN (missing) entries of ``rewards``; raises :class:`MissingRewardError` when it exceeds
    ``max_missing`` (one line naming the reward and its first underlying error)."""
    r = np.asarray(rewards, dtype=float)
    share = float(np.isnan(r).mean()) if r.size else 0.0
    if share > max_missing:
        name = getattr(reward, "name", type(reward).__name__)
        err = first_reward_error(reward) or "the reward returned NaN without recording an error"
        raise MissingRewardError(
            f"reward {name!r} left {int(np.isnan(r).sum())} of {r.size} responses unscored{where} "
            f"({share:.0%} > EvaConfig.max_missing_reward={max_missing:g}); first error: {err}")
    return share


def make_reward(spec: str | Callable[..., Any] | RewardFunction, **kwargs: Any) -> RewardFunction:
    """A reward function from a spec: "constraints" | "rm:<hf id or path>" | "judge:<litellm model>",
    or a callable ``fn(prompt_text, response) -> float | None``; ``kwargs`` go to the constructor."""
    if isinstance(spec, str):
        kind, _, arg = spec.partition(":")
        if spec == "constraints":
            return ConstraintReward(**kwargs)
        if kind == "rm" and arg:
            return HFRewardModel(arg, **kwargs)
        if kind == "judge" and arg:
            return LLMJudgeReward(arg, **kwargs)
        if kind == "pairwise" and arg:
            return PairwiseJudgeReward(arg, **kwargs)
        raise ValueError(f"unknown reward spec {spec!r}; use 'constraints', 'rm:<hf id or path>', "
                         "'judge:<litellm model>' (e.g. 'judge:gemini/gemini-1.5-pro'), 'pairwise:<litellm model>' "
                         "or pass a callable")
    if isinstance(spec, RewardFunction):  # an object with a name and a batch __call__: use as is
        return spec
    if callable(spec):
        return CallableReward(spec)
    raise ValueError(f"unknown reward spec {spec!r} ({type(spec).__name__}); use 'constraints', 'rm:<id>', "
                     "'judge:<model>' or a callable")
