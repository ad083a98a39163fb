"""Validation of creator outputs (step 4): clean an answer into a prompt, then accept it or name why not.

    from evalab.validation import clean_output, validate_variant
    text = clean_output('Rewritten prompt: "Explain tides to a child."')   # -> 'Explain tides to a child.'
    validate_variant(parent, text, max_chars=2000, seen=set())             # None (accepted) or a reason

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
    meta                text about the prompt ("The original prompt asks ...") instead of a prompt
    copy                equal to the parent after normalisation, or a near-copy (word-level similarity ratio
                        >= 0.9 with at most a few words changed)
    duplicate           already produced (in ``seen``: the batch's inputs and earlier accepted variants)
    broken_constraints  structured: ``constraints.validate_constraints`` rejects the new constraint list
    error               the creator call failed after all retries (set by the creators, not by validation)
    not_novel           ROUGE-L F against X_t or an earlier accepted variant above ``novelty_max_rougeL`` (set by
                        the loop's step 4, ``evalab.curricula.novelty_reject``; off by default)
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata

from .prompts import Prompt

REASONS = ("empty", "over_long", "injection", "refusal", "markup", "meta", "copy", "duplicate",
           "broken_constraints", "error", "not_novel")
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


__all__ = [
    "REASONS", "ACCEPTED", "clean_output", "normalize_text", "is_copy", "screen_text", "markup_share",
    "validate_variant",
]
