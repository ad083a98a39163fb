"""The creator (step 4 of eva): evolve informative prompts EvolInstruct-style; validate every variant.

    from evalab.creator import StructuredEvolver, EvolInstructCreator, variants_to_frame
    variants = StructuredEvolver(llm_rewrite=False).evolve(selected, n_variants=4, iteration=1, seed=42)
    df = variants_to_frame(variants)          # every variant, accepted or not, with its reject reason
    EvolInstructCreator("evalab/smollm2-135m").evolve(selected, 4, iteration=1)   # free text via litellm

Operators (Xu et al. 2023, EvolInstruct; used by eva, Ye et al. 2024 §3.2):

- in-depth: ``add_constraints`` (one or two more requirements), ``deepen`` (ask for more depth),
  ``concretize`` (general -> specific), ``reasoning`` (needs several explicit reasoning steps);
- in-breadth: ``breadth`` (a new prompt of the same domain, similar length and difficulty, other topic);
- structured only: ``harden`` (one constraint made stricter, in code).

Every creator output goes through :func:`clean_output` (drops "Rewritten prompt:"-style prefixes, wrapping
quotes and markdown fences, trailing chatter) and :func:`validate_variant`, which returns one stable reject
reason (used by plots and tests) or None:

    empty               blank, or no readable content (fewer than 3 letters, or under half of the visible
                        characters are letters/digits: unicode junk, symbol soup)
    over_long           longer than ``max_chars``
    injection           tells the solver to ignore its instructions / reveal its system prompt, or carries
                        chat role tags ("<|im_start|>", "[INST]", a line starting "system:")
    refusal             the creator refused ("I'm sorry", "As an AI", "I cannot ...")
    markup              mostly HTML / code fences / tables / JSON instead of a prompt
    copy                equal to the parent after normalisation, or a near-copy (word-level similarity ratio
                        >= 0.9 with at most a few words changed)
    duplicate           already produced (in ``seen``: the batch's inputs and earlier accepted variants)
    broken_constraints  structured: ``constraints.validate_constraints`` rejects the new constraint list
    error               the creator call failed after all retries (set by the creators, not by validation)

Calls go through ``litellm.acompletion`` with a semaphore (``concurrency``), exponential backoff with jitter
on failures (timeouts, 429, 5xx, connection errors, empty answers), a per-call timeout, and never raise for a
single failed variant (it becomes a rejected ``Variant`` with reason "error"). Only when *every* call of a
batch failed does ``evolve`` raise ``RuntimeError``, after the batch, so a run loop stops cleanly. API keys
are never logged nor stored: error texts are redacted. Works inside Jupyter (a running event loop) by
running the batch in a worker thread. The model string "evalab/<name>" is the embedded local model
(``evalab.llm`` registers it as a litellm provider).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy as _copy
import difflib
import hashlib
import json
import logging
import math
import os
import random
import re
import time
import unicodedata
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import LOCAL_CREATOR, EvaConfig
from .prompts import Prompt, child_id

log = logging.getLogger("evalab.creator")

IN_DEPTH = ("add_constraints", "deepen", "concretize", "reasoning")
IN_BREADTH = ("breadth",)
STRUCTURED_ONLY = ("harden",)
OPERATORS = IN_DEPTH + IN_BREADTH + STRUCTURED_ONLY
FREE_TEXT_OPERATORS = IN_DEPTH + IN_BREADTH  # what EvolInstructCreator can apply
CODE_OPERATORS = ("add_constraints", "harden")  # StructuredEvolver applies these without an LLM

REASONS = ("empty", "over_long", "injection", "refusal", "markup", "meta", "copy", "duplicate",
           "broken_constraints", "error")
ACCEPTED = "ok"

# near-copy: word-level SequenceMatcher ratio >= NEAR_COPY_RATIO and at most
# max(NEAR_COPY_MAX_WORDS, NEAR_COPY_MAX_SHARE * len(parent words)) words changed
NEAR_COPY_RATIO = 0.9
NEAR_COPY_MAX_WORDS = 3
NEAR_COPY_MAX_SHARE = 0.03
# markup: a text is "markup" when it is a JSON value, or when more than MARKUP_SHARE of its visible characters
# sit in markup (fences, tags, tables, rules) and fewer than MARKUP_MIN_PROSE_WORDS words of instruction lie
# outside code fences (a prompt may quote code), or when tags/tables alone cover more than MARKUP_SHARE_HARD
# of the text outside code fences (HTML soup that happens to contain words)
MARKUP_SHARE = 0.5
MARKUP_MIN_PROSE_WORDS = 4
MARKUP_SHARE_HARD = 0.7


# =====================================================================================================
# Operator templates (our own wording). The creator must answer with the new prompt only.
# =====================================================================================================

_IN_DEPTH_INSTRUCTIONS = {
    "add_constraints": (
        "Make it more demanding by adding one or two specific requirements the answer has to meet, for "
        "example a format, a length limit, a detail that must appear, or something to avoid. Keep the "
        "original request intact."),
    "deepen": (
        "Make it ask for more depth on the same subject: for example the reasons behind something, the "
        "trade-offs between options, or the cases where the usual answer stops being true."),
    "concretize": (
        "Make it more specific: replace general wording with a particular situation, a named example, a "
        "definite audience or concrete numbers, so that the request becomes narrower and more precise."),
    "reasoning": (
        "Change it so that a good answer has to work through several explicit steps of reasoning, such as "
        "comparing, calculating or deducing, instead of stating a single fact."),
}

_FREE_RULES = (
    "Rules:\n"
    "- The result must be one self-contained prompt that a person could send to an assistant.\n"
    "- Do not answer the prompt and do not explain what you changed.\n"
    "- Do not refer to 'the original prompt', 'the rewritten prompt' or anything similar.\n"
    "- {length_rule}\n"
    "- Reply with the text of the new prompt and nothing else.")

_TASK_ONLY_RULE = ("- Do not add rules about the form of the answer (word or sentence limits, bullet points, "
                   "capital letters, keywords, titles); those are added separately.\n")

_IN_DEPTH_TEMPLATE = (
    "You write prompts used to train an AI assistant. Here is an existing prompt:\n\n"
    "\"\"\"\n{text}\n\"\"\"\n\n"
    "{instruction}\n\n{rules}\n\nNew prompt:")

_BREADTH_TEMPLATE = (
    "You write prompts used to train an AI assistant. Here is an example prompt{domain_part}:\n\n"
    "\"\"\"\n{text}\n\"\"\"\n\n"
    "Write one new prompt for the same kind of use, on a clearly different topic, about as long and as "
    "difficult as the example.\n\n{rules}\n\nNew prompt:")


def build_messages(operator: str, text: str, *, domain: str = "", task_only: bool = False) -> list[dict[str, str]]:
    """The chat messages asking the creator to apply ``operator`` to ``text`` (a prompt or a bare task).

    ``task_only`` (structured evolver) adds a rule that keeps answer-format requirements out of the task,
    since those live in the checkable constraints.
    """
    if operator not in FREE_TEXT_OPERATORS:
        raise ValueError(f"operator={operator!r}: no LLM template; choose one of {FREE_TEXT_OPERATORS}")
    n_words = len(text.split())
    if operator == "breadth":
        length_rule = f"Keep it roughly as long as the example (about {max(n_words, 5)} words)."
    else:
        length_rule = "Add no more than 25 words to the existing prompt."
    rules = _FREE_RULES.format(length_rule=length_rule)
    if task_only:
        rules = rules.replace("- Reply with", _TASK_ONLY_RULE + "- Reply with")
    if operator == "breadth":
        domain_part = f" from the domain '{domain}'" if domain else ""
        content = _BREADTH_TEMPLATE.format(text=text.strip(), domain_part=domain_part, rules=rules)
    else:
        content = _IN_DEPTH_TEMPLATE.format(text=text.strip(), instruction=_IN_DEPTH_INSTRUCTIONS[operator],
                                            rules=rules)
    return [{"role": "user", "content": content}]


# =====================================================================================================
# Post-processing of a creator answer
# =====================================================================================================

_LEAD_IN_RE = re.compile(r"^\s*(?:sure|certainly|of course|okay|ok|absolutely|great)\b[!.,:]*\s*", re.I)
_HERE_IS_RE = re.compile(r"^\s*here(?:'s|’s| is| are)\b[^:\n]{0,80}:[ \t]*\n?", re.I)
_LABEL_RE = re.compile(
    r"^\s*[#*_>\s]*(?:(?:new|rewritten|evolved|revised|improved|updated|modified|created|generated|final|"
    r"harder|deeper|more\s+\w+|concrete|specific|deepened|concretized)\s+(?:prompt|instruction|question|task)"
    r"|(?:the\s+)?prompt|instruction)\s*[#*_]*\s*:\s*[#*_]*[ \t]*\n?", re.I)
_FENCE_RE = re.compile(r"^```[ \t]*([\w+-]*)[ \t]*\n(.*?)\n?[ \t]*```\s*$", re.S)
_PLAIN_FENCE_LANGS = {"", "text", "txt", "markdown", "md", "plaintext", "prompt"}
_CHATTER_RE = re.compile(
    r"^\s*[(*_]*\s*(?:note\b|explanation\b|changes?\s*(?:made)?\s*:|this\s+(?:new\s+|rewritten\s+|evolved\s+|"
    r"revised\s+|updated\s+)?(?:prompt|version|question|instruction)\b|the\s+(?:new\s+|rewritten\s+|evolved\s+|"
    r"revised\s+)?prompt\s+(?:now|adds|asks|requires|is)\b|i\s+(?:have|hope|added|made|changed|rewrote|kept)\b|"
    r"let me know\b|hope this\b|feel free\b|in this (?:version|prompt)\b)", re.I)
_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "`": "`"}


def _strip_quotes(s: str) -> str:
    s = s.strip()
    for _ in range(3):
        if s.startswith('"""') and s.endswith('"""') and len(s) >= 6:
            s = s[3:-3].strip()
            continue
        if len(s) >= 2 and s[0] in _QUOTE_PAIRS and s[-1] == _QUOTE_PAIRS[s[0]]:
            inner = s[1:-1]
            if s[0] not in inner:  # don't cut '"a" and "b"' to 'a" and "b'
                s = inner.strip()
                continue
        break
    return s


def _strip_prefixes(s: str) -> str:
    for _ in range(4):
        before = s
        s = _LEAD_IN_RE.sub("", s, count=1)
        s = _HERE_IS_RE.sub("", s, count=1)
        s = _LABEL_RE.sub("", s, count=1)
        s = s.strip()
        if s == before:
            break
    return s


def _cut_trailing_chatter(s: str) -> str:
    lines = s.split("\n")
    for i in range(1, len(lines)):
        if _CHATTER_RE.match(lines[i]) and "".join(lines[:i]).strip():
            return "\n".join(lines[:i]).strip()
    return s


def clean_output(raw: str | None) -> str:
    """The prompt inside a creator answer: no label prefix, wrapping quotes, plain fences or chatter.

    Only *plain* fences (no language, or text/markdown) are unwrapped; a fence tagged json/html/python is kept
    so that validation can reject it as markup. A JSON object with a single prompt-like string field
    (``{"prompt": "..."}``) is unwrapped too.
    """
    if raw is None:
        return ""
    s = str(raw).replace("\r\n", "\n").strip()
    s = s.replace("<<<", "").replace(">>>", "").strip() if s.startswith("<<<") else s
    s = _strip_prefixes(s)
    s = _cut_trailing_chatter(s)
    m = _FENCE_RE.match(s)
    if m and m.group(1).lower() in _PLAIN_FENCE_LANGS:
        s = _strip_prefixes(m.group(2).strip())
    if s.startswith("{") and s.endswith("}"):
        try:
            obj = json.loads(s)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and len(obj) == 1:
            (key, value), = obj.items()
            if isinstance(value, str) and key.lower() in {"prompt", "new_prompt", "instruction", "question", "text"}:
                s = value.strip()
    return _strip_quotes(s)


# =====================================================================================================
# Validation
# =====================================================================================================

_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs"}


def _strip_invisible(s: str) -> str:
    return "".join(ch for ch in s if ch in "\n\t " or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)


def normalize_text(s: str) -> str:
    """Comparison key: NFKC, invisible characters dropped, lower case, punctuation -> space, single spaces."""
    s = _strip_invisible(unicodedata.normalize("NFKC", s)).lower()
    s = re.sub(r"[^\w\s]", " ", s)
    return " ".join(s.split())


_REFUSAL_START_RE = re.compile(
    r"^\W*(?:i'?m\s+(?:so\s+|very\s+|really\s+)?sorry|i\s+am\s+(?:so\s+|very\s+)?sorry|sorry\b|"
    r"my\s+apologies|i\s+apologi[sz]e|unfortunately,?\s+i\b|"
    r"i\s+(?:can\s*not|can'?t|could\s*not|couldn'?t|won'?t|will\s+not|must\s+decline|am\s+unable|'?m\s+unable|"
    r"am\s+not\s+able|'?m\s+not\s+able|do\s+not\s+feel\s+comfortable|don'?t\s+feel\s+comfortable|"
    r"am\s+not\s+comfortable|'?m\s+not\s+comfortable)|"
    r"as\s+an\s+ai\b|as\s+a\s+(?:large\s+)?language\s+model|i(?:'m|\s+am)\s+afraid\s+i)", re.I)
_REFUSAL_ANYWHERE_RE = re.compile(
    r"\bas\s+an\s+ai(?:\s+language)?\s+model\b|\bi(?:'m|\s+am)\s+(?:just\s+|only\s+)?an\s+ai\b|"
    r"\bi\s+(?:cannot|can'?t|won'?t)\s+(?:help|assist|comply|fulfil+|create|provide|generate|do)\s+"
    r"(?:with\s+)?(?:that|this|your)\b", re.I)

_INJECTION_RES = [
    re.compile(r"<\|[a-z_ ]{2,30}\|>", re.I),                                     # <|im_start|>, <|system|>, ...
    re.compile(r"\[/?INST\]|<<\s*/?SYS\s*>>|</?s>\s*\[", re.I),                    # llama-2 chat tags
    re.compile(r"^\s*[#>*_\[]*\s*(?:system|assistant|developer)\s*[\]*_]*\s*:", re.I | re.M),  # role lines
    re.compile(r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?"
               r"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:previous|prior|above|earlier|preceding|"
               r"foregoing|system|original|initial)\s+(?:instructions?|prompts?|rules|"
               r"messages?|directions|guidelines|context)", re.I),
    re.compile(r"\b(?:ignore|disregard|forget)\s+(?:all|everything)\s+(?:you\s+(?:were|have\s+been)\s+told|"
               r"above|before|previously|instructions?)", re.I),
    re.compile(r"\b(?:reveal|print|show|repeat|output|leak|display|dump|expose|tell\s+me)\b[^.\n]{0,40}?"
               r"\b(?:system|hidden|initial|secret|developer)\s+(?:prompt|instructions?|message|rules)", re.I),
    re.compile(r"\byou\s+are\s+now\b[^.\n]{0,30}\b(?:DAN|unfiltered|unrestricted|jailbroken|uncensored|"
               r"free\s+of\s+(?:all\s+)?(?:rules|restrictions))", re.I),
    re.compile(r"\bdo\s+anything\s+now\b|\bdeveloper\s+mode\s+(?:enabled|on)\b", re.I),
]

_FENCED_BLOCK_RE = re.compile(r"```.*?(?:```|\Z)", re.S)
_HTML_TAG_RE = re.compile(r"</?[A-Za-z!][^<>\n]{0,300}>")
_HTML_ENTITY_RE = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,6});")
_TABLE_LINE_RE = re.compile(r"^\s*\|.*\|\s*$", re.M)
_RULE_LINE_RE = re.compile(r"^\s*(?:[-*_=~]\s*){3,}$", re.M)
_MD_LINK_TARGET_RE = re.compile(r"\]\([^)\s]*\)")
_JSON_KEY_RE = re.compile(r'"[^"\n]{1,60}"\s*:')


def _nonspace(s: str) -> int:
    return sum(1 for ch in s if not ch.isspace())


def _is_blank(text: str) -> bool:
    """Nothing but whitespace, invisible characters, quotes or backticks (an empty fence)."""
    return not _strip_invisible(unicodedata.normalize("NFKC", text)).strip(" \n\t\r`\"'“”‘’")


def _is_junk(text: str) -> bool:
    """Fewer than 3 letters, or under half of the visible characters are letters/digits."""
    s = _strip_invisible(unicodedata.normalize("NFKC", text))
    visible = [ch for ch in s if not ch.isspace()]
    if not visible:
        return True
    letters = sum(ch.isalpha() for ch in visible)
    alnum = sum(ch.isalnum() for ch in visible)
    return letters < 3 or alnum < 0.5 * len(visible)


def _is_refusal(text: str) -> bool:
    s = text.replace("’", "'").strip()
    return bool(_REFUSAL_START_RE.match(s[:200]) or _REFUSAL_ANYWHERE_RE.search(s))


# "meta": the creator talked about the prompt instead of writing one ("The original prompt asks ...",
# "Here's the rewritten prompt", "This prompt is about ..."), a common failure of small creators.
_META_RE = re.compile(
    r"\b(?:the|this|that|your|my|an?)\s+(?:original|rewritten|revised|given|new|above|following|previous|"
    r"evolved|modified|example)?\s*(?:prompt|instruction)s?\b\s*(?::|was|is|asks|has been|above|below)",
    re.IGNORECASE)


def _is_meta(text: str) -> bool:
    return bool(_META_RE.search(text[:300]))


def _is_injection(text: str) -> bool:
    s = text.replace("’", "'")
    return any(r.search(s) for r in _INJECTION_RES)


def _strip_inline_markup(s: str) -> str:
    for r in (_HTML_TAG_RE, _HTML_ENTITY_RE, _TABLE_LINE_RE, _RULE_LINE_RE, _MD_LINK_TARGET_RE):
        s = r.sub(" ", s)
    return s


def _is_json(s: str) -> bool:
    s = s.strip()
    if s[:1] not in ("{", "["):
        return False
    try:
        json.loads(s)
        return True
    except json.JSONDecodeError:
        return bool(_JSON_KEY_RE.search(s[:200]))  # truncated JSON


def markup_share(text: str) -> float:
    """Share of the visible characters that sit in markup (fenced blocks, HTML tags/entities, table rows,
    horizontal rules, link targets); 1.0 for a text that is a JSON object or array."""
    if _is_json(text):
        return 1.0
    total = _nonspace(text)
    if total == 0:
        return 0.0
    return 1.0 - _nonspace(_strip_inline_markup(_FENCED_BLOCK_RE.sub(" ", text))) / total


def _is_markup(text: str) -> bool:
    share = markup_share(text)
    if share <= MARKUP_SHARE:
        return False
    if share >= 1.0:
        return True
    outside = _FENCED_BLOCK_RE.sub(" ", text)  # the instruction around quoted code
    prose = _strip_inline_markup(outside)
    if len(re.findall(r"[^\W\d_]{2,}", prose)) < MARKUP_MIN_PROSE_WORDS:
        return True
    n_outside = _nonspace(outside)
    return n_outside > 0 and 1.0 - _nonspace(prose) / n_outside > MARKUP_SHARE_HARD


def is_copy(reference: str, text: str) -> bool:
    """True iff ``text`` equals ``reference`` after :func:`normalize_text`, or is a near-copy of it
    (word-level similarity ratio >= NEAR_COPY_RATIO with at most a few words changed)."""
    a, b = normalize_text(reference).split(), normalize_text(text).split()
    if a == b:
        return True
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if sm.ratio() < NEAR_COPY_RATIO:
        return False
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal")
    return changed <= max(NEAR_COPY_MAX_WORDS, math.ceil(NEAR_COPY_MAX_SHARE * len(a)))


def screen_text(text: str, *, max_chars: int) -> str | None:
    """The checks that need no parent, first failure wins: empty (blank), over_long, injection, refusal,
    markup, meta (text about the prompt rather than a prompt), empty (unicode junk / symbol soup)."""
    if not isinstance(text, str) or _is_blank(text):
        return "empty"
    if len(text) > max_chars:
        return "over_long"
    if _is_injection(text):
        return "injection"
    if _is_refusal(text):
        return "refusal"
    if _is_markup(text):
        return "markup"
    if _is_meta(text):
        return "meta"
    if _is_junk(text):
        return "empty"
    return None


def validate_variant(parent: Prompt, text: str, *, max_chars: int, seen: set[str] | None = None) -> str | None:
    """Reject reason for a (cleaned) creator output, or None if it is an acceptable new prompt.

    Checks, first failure wins: :func:`screen_text` (empty, over_long, injection, refusal, markup), copy (of ``parent.text``, or of
    ``parent.task`` when that differs), duplicate (``normalize_text(text)`` in ``seen``). ``seen`` is not
    modified; callers add the keys of accepted variants.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars={max_chars!r}: must be >= 1")
    reason = screen_text(text, max_chars=max_chars)
    if reason:
        return reason
    if is_copy(parent.text, text) or (parent.task and parent.task != parent.text and is_copy(parent.task, text)):
        return "copy"
    if seen is not None and normalize_text(text) in seen:
        return "duplicate"
    return None


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


VARIANT_COLUMNS = ("parent_id", "operator", "k", "text", "accepted", "reason", "id", "attempts", "error",
                   "constraints", "raw", "task", "domain", "iteration")


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

    def __init__(self, model: str = LOCAL_CREATOR, *, concurrency: int = 8, max_retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 30.0, timeout: float = 60.0, max_tokens: int = 256,
                 temperature: float = 0.7, top_p: float = 0.95, max_chars: int = 2000, n_variants: int = 4,
                 operators: Sequence[str] | None = None, api_base: str | None = None,
                 api_key: str | None = None, completion_kwargs: dict[str, Any] | None = None) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"model={model!r}: give a litellm model string, e.g. 'evalab/smollm2-135m'")
        for name, value in (("concurrency", concurrency), ("max_tokens", max_tokens),
                            ("max_chars", max_chars), ("n_variants", n_variants)):
            if int(value) < 1:
                raise ValueError(f"{name}={value!r}: must be >= 1")
        if max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r}: must be >= 0")
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
        self.last_stats: dict[str, Any] = {}

    def __repr__(self) -> str:  # no api key in reprs
        return (f"{type(self).__name__}(model={self.model!r}, operators={self.operators}, "
                f"concurrency={self.concurrency}, max_retries={self.max_retries}, timeout={self.timeout})")

    # --- public ---------------------------------------------------------------------------------
    def evolve(self, prompts: Sequence[Prompt], n_variants: int | None = None, *, iteration: int, seed: int = 42,
               progress: bool = True, existing: Iterable[str] = ()) -> list[Variant]:
        """``n_variants`` variants of every prompt, in input order (parent, then k), accepted or rejected.

        ``existing``: texts already in the pool (e.g. the whole X_t); a variant equal to one is "duplicate".
        Raises RuntimeError after the batch if every creator call failed.
        """
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
        retries = sum(max(r.attempts - 1, 0) for r in results)
        self.last_stats = {"calls": len(results), "failed_calls": n_fail, "retries": retries,
                           "attempts": sum(r.attempts for r in results),
                           "seconds": round(time.perf_counter() - t0, 3)}
        if n_fail == len(results):
            last = next((r.error for r in reversed(results) if r.error), "unknown error")
            raise RuntimeError(f"creator {self.model!r} failed on all {len(results)} calls: {last}")
        return results

    async def _acall_all(self, requests: Sequence[tuple[list[dict[str, str]], int]], progress: bool,
                         desc: str) -> list[CallResult]:
        from tqdm.auto import tqdm

        # the embedded model serializes its generations (one CPU model, one lock): more calls in flight would
        # only queue behind the lock and eat into each call's timeout
        sem = asyncio.Semaphore(1 if self.model.startswith("evalab/") else self.concurrency)
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
        for attempt in range(1, self.max_retries + 2):
            try:
                # litellm enforces ``timeout`` on the HTTP exchange; this outer guard only catches calls that
                # hang elsewhere (a custom provider). It is generous because litellm's first call in a process
                # does seconds of lazy imports that must not count as a timeout.
                resp = await asyncio.wait_for(litellm.acompletion(seed=seed + attempt - 1, **kwargs),
                                              timeout=self.timeout * 2 + 60.0)
                text = resp.choices[0].message.content or ""
                if text.strip():
                    return CallResult(text, attempt, None, time.perf_counter() - t0)
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
            return CallResult("", attempt, None, time.perf_counter() - t0)  # the call worked: reason "empty"
        log.error("creator call %d failed after %d attempt(s): %s", call_id, attempt, last_error)
        return CallResult(None, attempt, last_error, time.perf_counter() - t0)


def _accept(parent: Prompt, operator: str, k: int, iteration: int, text: str, task: str,
            constraints: list[dict[str, Any]]) -> Prompt:
    return Prompt(id=child_id(parent.id, iteration, operator, k, text), text=text, task=task,
                  constraints=constraints, domain=parent.domain, parent_id=parent.id, iteration=int(iteration),
                  operator=operator)


def _seen_keys(prompts: Sequence[Prompt], existing: Iterable[str]) -> set[str]:
    return {normalize_text(p.text) for p in prompts} | {normalize_text(t) for t in existing}


# =====================================================================================================
# Free-text EvolInstruct
# =====================================================================================================

class EvolInstructCreator(Creator):
    """Free-text EvolInstruct through litellm: each variant applies one operator to the whole prompt text.

        creator = EvolInstructCreator("openai/gpt-4o-mini", concurrency=32)
        variants = creator.evolve(prompts, n_variants=4, iteration=1, seed=42)

    Evolved prompts carry no structured constraints (their text may state requirements in words); use
    :class:`StructuredEvolver` when the reward checks constraints.
    """

    operators = FREE_TEXT_OPERATORS

    def evolve(self, prompts: Sequence[Prompt], n_variants: int | None = None, *, iteration: int, seed: int = 42,
               progress: bool = True, existing: Iterable[str] = ()) -> list[Variant]:
        n = self._check_args(prompts, n_variants, iteration)
        plan = plan_variants(self, prompts, n, seed)
        requests = [(build_messages(op, p.text, domain=p.domain), _derive_seed(seed, p.id, k, "call"))
                    for p, k, op in plan]
        results = self._call_all(requests, progress, desc=f"creator t={iteration}")
        seen = _seen_keys(prompts, existing)
        variants = []
        for (parent, k, op), res in zip(plan, results):
            variants.append(self._finish(parent, k, op, res, iteration, seen))
        return variants

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
    add or harden) the other one is tried. ``llm_rewrite=False`` uses the code operators only.
    """

    operators = OPERATORS

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

    def evolve(self, prompts: Sequence[Prompt], n_variants: int | None = None, *, iteration: int, seed: int = 42,
               progress: bool = True, existing: Iterable[str] = ()) -> list[Variant]:
        n = self._check_args(prompts, n_variants, iteration)
        C = _constraints_module()
        plan = plan_variants(self, prompts, n, seed)
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
        results = self._call_all(requests, progress, desc=f"structured creator t={iteration}")
        by_index = dict(zip(need, results))
        # 3. assemble + validate in plan order (the duplicate check depends on order)
        seen = _seen_keys(prompts, existing)
        return [self._finish(C, parent, k, drafts[i], by_index.get(i), iteration, seen)
                for i, (parent, k, _op) in enumerate(plan)]

    def _draft(self, C: Any, parent: Prompt, op: str, rng: np.random.Generator) -> dict[str, Any]:
        """Constraint list and task plan of one variant (before any LLM call)."""
        cons = _copy.deepcopy(parent.constraints)
        task = parent.task or parent.text
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
        if cons is None:  # neither add_constraint nor harden could change the list: nothing new to offer
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
    (litellm model string), ``cfg.n_variants``, ``cfg.creator_concurrency``, ``cfg.creator_max_tokens`` and
    ``cfg.max_prompt_chars``. ``overrides`` go to the constructor (e.g. ``llm_rewrite=False``, ``api_base=``)."""
    kw: dict[str, Any] = dict(concurrency=cfg.creator_concurrency, max_tokens=cfg.creator_max_tokens,
                              max_chars=cfg.max_prompt_chars, n_variants=cfg.n_variants)
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
]
