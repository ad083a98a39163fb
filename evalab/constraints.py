"""Verifiable constraints: the instruction-following task whose reward needs no reward model.

    import numpy as np; from evalab import constraints as C
    cs = [{"kind": "word_count_max", "n": 50}, {"kind": "no_commas"}]
    C.render_prompt("Explain how volcanoes form", cs)
    # 'Explain how volcanoes form. Answer in at most 50 words. Do not use any commas.'
    C.score_response(cs, "Magma rises and erupts.")["reward"]          # -> 1.0
    C.harden(cs, np.random.default_rng(0))          # -> [{'kind': 'word_count_max', 'n': 35}, {'kind': 'no_commas'}]
    C.add_constraint(cs, np.random.default_rng(0))  # cs plus a third constraint that conflicts with neither

A constraint is a plain dict ``{"kind": <name>, **params}`` (JSON-serialisable, stored with each prompt).
Every kind (see ``KINDS``) defines

- ``describe``  one short English sentence that ``render_prompt`` appends to the task;
- ``check``     satisfied or not (the public ``check`` returns (satisfied, partial credit)) (whitespace-stripped; markdown bullets, emphasis, code
                fences and curly quotes handled; keywords match whole words, case-insensitively, with an
                optional plural "s"/"es");
- ``partial``   graded closeness in [0, 1): how near an unsatisfied response came (e.g. "at most 50 words"
                with 60 words gives 50/60); the public ``check`` gives exactly 1.0 when satisfied;
- ``sample``    random parameters (keywords from topic words or the task's own words);
- ``harden``    a strictly more demanding copy (``None`` for kinds with nothing to tighten; see ``harden_one``);
- conflicts     pairs that cannot (or should not) appear together: see ``conflict_reason``.

A response with no word at all satisfies nothing (otherwise silence would earn "at most 50 words",
"no commas", ...). ``score_response`` turns a constraint list into one reward:

    reward = 0.9 * frac_satisfied + 0.1 * mean_partial

Why: eva's A*_min = max - min needs *spread* among the N responses of a prompt. With the bare fraction,
N responses that each satisfy, say, 1 of 2 constraints all score 0.5 and the prompt looks uninformative
although one came much closer (55 words against "at most 50", not 200). The 0.1 partial term breaks such
ties, so A*_min sees progress before a constraint flips. It never reorders the fraction: a response that
satisfies all constraints scores exactly 1.0 and strictly beats every other one (an unsatisfied
constraint's partial credit is capped at 0.99), and with k <= 10 constraints (``MAX_CONSTRAINTS`` is 6)
satisfying m constraints always beats satisfying m - 1: the first scores >= m/k, the second
< 0.9 (m-1)/k + 0.1, and m/k >= 0.9 (m-1)/k + 0.1 iff m + 9 >= k. Pure Python: no model, no I/O.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

Constraint = dict[str, Any]

MAX_CONSTRAINTS = 6  # per prompt; more is rejected by validate_constraints
FRAC_WEIGHT, PARTIAL_WEIGHT = 0.9, 0.1  # reward = 0.9 * frac_satisfied + 0.1 * mean_partial
_BELOW_ONE = 0.99  # an unsatisfied constraint's partial credit is capped here, so only success gives 1.0

# Words for keyword constraints when the caller gives no topic vocabulary.
DEFAULT_VOCAB = (
    "simple", "future", "water", "people", "history", "example", "energy", "friend", "idea", "change",
    "light", "story", "world", "journey", "balance", "practice", "nature", "question", "patience", "home",
)
# Words a fluent answer uses without thinking: excluding them makes a hard constraint.
COMMON_WORDS = ("also", "very", "really", "important", "many", "good", "thing", "people", "just", "great")
START_PHRASES = ("Here is", "In short", "Good question", "Let me explain", "Dear reader", "To begin",
                 "Once upon a time", "Simply put", "My answer")
END_PHRASES = ("Is there anything else I can help with?", "Thank you for reading.", "That is all.",
               "Stay curious!", "The end.", "Hope this helps.")

# ----------------------------------------------------------------------------------------------------
# Text helpers (the robust reading of a response)

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_DIVIDER = re.compile(r"^\s*(?:\*\s*){3,}$")  # a markdown divider line: *** or * * *
_BULLET = re.compile(r"^\s*[-*+\u2022]\s+\S")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s+.*|<<[^<>\n]*>>\s*)$")  # "# Heading" or a title-only line
_TITLE = re.compile(r"<<[^<>\n]*[^\W_][^<>\n]*>>")
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]*[^\W_][^\[\]\n]*\](?!\()")  # [name], not a markdown link [x](url)
_POSTSCRIPT = re.compile(r"^\s*[*_>#]*\s*p\.\s?s\.", re.IGNORECASE)
_EDGE_CHARS = " \t\r\n*_#>`\"'\u201c\u201d\u2018\u2019"  # markdown emphasis, quotes, headings at the edges
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def words(text: str) -> list[str]:
    """Words of a response: runs of letters/digits (apostrophes inside a word allowed); markdown ignored."""
    return _WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


def sentences(text: str) -> list[str]:
    """Sentences: split at . ! ? followed by a space and at line breaks; divider, heading and title-only
    lines and bullet markers are not text. A fragment counts only if it holds a word."""
    out: list[str] = []
    for line in text.splitlines():
        if _DIVIDER.match(line) or _HEADING.match(line):
            continue
        line = re.sub(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+", "", line)
        out += [s for s in re.split(r"(?<=[.!?])\s+", line) if _WORD.search(s)]
    return out


def count_sentences(text: str) -> int:
    return len(sentences(text))


@functools.lru_cache(maxsize=4096)
def _keyword_re(word: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(w) for w in word.split())
    return re.compile(rf"(?<![^\W_]){body}(?:s|es)?(?![^\W_])", re.IGNORECASE)


def count_keyword(text: str, word: str) -> int:
    """Whole-word, case-insensitive occurrences of ``word`` (plural "s"/"es" also counts)."""
    return len(_keyword_re(word).findall(text.translate(_QUOTES)))


def bullets(text: str) -> list[str]:
    """Markdown bullet lines ("- x", "* x", "+ x", "\u2022 x"); numbered items are not bullets."""
    return [ln for ln in text.splitlines() if _BULLET.match(ln) and not _DIVIDER.match(ln)]


def paragraphs(text: str) -> list[str]:
    """Non-empty chunks between markdown divider lines (***)."""
    chunks, cur = [], []
    for line in text.splitlines():
        if _DIVIDER.match(line):
            chunks.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    chunks.append("\n".join(cur))
    return [c.strip() for c in chunks if _WORD.search(c)]


def _norm(text: str) -> str:
    """Lowercase, straight quotes, single spaces."""
    return " ".join(text.translate(_QUOTES).lower().split())


def _norm_phrase(text: str) -> str:
    """``_norm`` plus markdown/quote characters and closing punctuation removed at both edges."""
    return _norm(text).strip(_EDGE_CHARS).rstrip(".!?;:,").strip(_EDGE_CHARS)


def _cased_letters(text: str) -> list[str]:
    return [ch for ch in text if ch.lower() != ch.upper()]


def json_payload(text: str) -> Any:
    """The JSON value of a response that is JSON (optionally inside one ``` fence); raises ValueError."""
    s = text.strip()
    m = re.fullmatch(r"```[\w-]*\s*\n?(.*?)\n?\s*```", s, re.DOTALL)
    if m:
        s = m.group(1).strip()
    return json.loads(s)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _quoted_list(ws: Sequence[str], joiner: str) -> str:
    q = [f'"{w}"' for w in ws]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + f" {joiner} " + q[-1]


def _ratio(a: float, b: float) -> float:
    """min/max closeness of two non-negative counts (1.0 when equal)."""
    return 1.0 if a == b else min(a, b) / max(a, b)


def _choice(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    """One element (a plain Python value, JSON-safe) chosen uniformly."""
    return options[int(rng.integers(len(options)))]


def _pick_words(rng: np.random.Generator, pool: Sequence[str], k: int, avoid: Iterable[str] = ()) -> list[str]:
    avoid = {a.lower() for a in avoid}
    cand = sorted({w.lower() for w in pool} - avoid)
    return [cand[int(i)] for i in rng.permutation(len(cand))[:k]]


def _drop_word(c: Constraint, rng: np.random.Generator) -> Constraint | None:
    """A keyword-list constraint with one randomly chosen word left out (None when one word is left)."""
    ws = list(c["words"])
    if len(ws) < 2:
        return None
    ws.pop(int(rng.integers(len(ws))))
    return {**c, "words": ws}


# ----------------------------------------------------------------------------------------------------
# The kinds. Each is a small class; ``KINDS`` maps a name to its (stateless) instance.

class ConstraintKind:
    """Base class of a constraint kind. Subclasses set ``name``/``params`` and override the methods."""

    name: str = ""
    params: dict[str, type] = {}  # parameter name -> type (int / str / list of words)
    bounds: tuple[int, int] = (1, 1000)  # allowed range of an int parameter "n"
    hardenable: bool = False

    def describe(self, c: Constraint) -> str:
        raise NotImplementedError

    def check(self, text: str, c: Constraint) -> bool:
        raise NotImplementedError

    def partial(self, text: str, c: Constraint) -> float:
        """Closeness of an unsatisfied response; any value, clipped to [0, 0.99] by partial_credit."""
        return 0.0

    def sample(self, rng: np.random.Generator, vocab: Sequence[str]) -> dict[str, Any]:
        return {}

    def harden(self, c: Constraint, rng: np.random.Generator, vocab: Sequence[str]) -> Constraint | None:
        return None

    def relax(self, c: Constraint, rng: np.random.Generator) -> Constraint | None:
        """A strictly looser copy (every response meeting ``c`` meets it), or None (kinds without a monotone
        parameter, or at the limit)."""
        return None

    def param_problems(self, c: Constraint) -> list[str]:
        out = [f"missing parameter {p!r}" for p in self.params if p not in c]
        out += [f"unknown parameter {p!r}" for p in c if p != "kind" and p not in self.params]
        for p, typ in self.params.items():
            v = c.get(p)
            if p not in c:
                continue
            if typ is int:
                lo, hi = self.bounds
                if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                    out.append(f"{p}={v!r} must be an integer in [{lo}, {hi}]")
            elif typ is str:
                if not isinstance(v, str) or not _WORD.search(v) or len(v) > 80:
                    out.append(f"{p}={v!r} must be a non-empty phrase of at most 80 characters")
            elif typ is list:
                if (not isinstance(v, list) or not 1 <= len(v) <= 5
                        or not all(isinstance(w, str) and re.fullmatch(r"[a-z0-9]+(?:[-' ][a-z0-9]+){0,2}", w)
                                   for w in v)):
                    out.append(f"{p}={v!r} must be a list of 1-5 lowercase words")
                elif len(set(v)) != len(v):
                    out.append(f"{p}={v!r} repeats a word")
        return out


class WordCountMax(ConstraintKind):
    name, params, bounds, hardenable = "word_count_max", {"n": int}, (5, 2000), True
    FLOOR = 10

    def describe(self, c):
        return f"Answer in at most {c['n']} words."

    def check(self, text, c):
        return count_words(text) <= c["n"]

    def partial(self, text, c):
        return c["n"] / count_words(text)

    def sample(self, rng, vocab):
        return {"n": _choice(rng, [15, 20, 25, 30, 40, 50, 60])}

    def harden(self, c, rng, vocab):
        n = max(self.FLOOR, round(0.7 * c["n"]))
        return {**c, "n": n} if n < c["n"] else None

    def relax(self, c, rng):
        n = min(self.bounds[1], math.ceil(c["n"] / 0.7))
        return {**c, "n": n} if n > c["n"] else None


class WordCountMin(ConstraintKind):
    name, params, bounds, hardenable = "word_count_min", {"n": int}, (1, 2000), True
    CAP = 1000

    def describe(self, c):
        return f"Answer in at least {c['n']} words."

    def check(self, text, c):
        return count_words(text) >= c["n"]

    def partial(self, text, c):
        return count_words(text) / c["n"]

    def sample(self, rng, vocab):
        return {"n": _choice(rng, [20, 30, 40, 60, 80, 100])}

    def harden(self, c, rng, vocab):
        n = min(self.CAP, math.ceil(1.3 * c["n"]))
        return {**c, "n": n} if n > c["n"] else None

    def relax(self, c, rng):
        n = max(1, math.floor(c["n"] / 1.3))
        return {**c, "n": n} if n < c["n"] else None


class SentenceCountMax(ConstraintKind):
    name, params, bounds, hardenable = "sentence_count_max", {"n": int}, (1, 50), True

    def describe(self, c):
        return f"Use at most {_plural(c['n'], 'sentence')}."

    def check(self, text, c):
        return count_sentences(text) <= c["n"]

    def partial(self, text, c):
        return c["n"] / count_sentences(text)

    def sample(self, rng, vocab):
        return {"n": _choice(rng, [1, 2, 3, 4, 5])}

    def harden(self, c, rng, vocab):
        return {**c, "n": c["n"] - 1} if c["n"] > 1 else None

    def relax(self, c, rng):
        return {**c, "n": c["n"] + 1} if c["n"] < self.bounds[1] else None


class IncludeKeywords(ConstraintKind):
    name, params, hardenable = "include_keywords", {"words": list}, True
    MAX_WORDS = 5

    def describe(self, c):
        ws = c["words"]
        return f"Include the word{'s' if len(ws) > 1 else ''} {_quoted_list(ws, 'and')}."

    def check(self, text, c):
        return all(count_keyword(text, w) > 0 for w in c["words"])

    def partial(self, text, c):
        return sum(count_keyword(text, w) > 0 for w in c["words"]) / len(c["words"])

    def sample(self, rng, vocab):
        return {"words": _pick_words(rng, vocab or DEFAULT_VOCAB, _choice(rng, [1, 1, 2]))}

    def harden(self, c, rng, vocab):
        if len(c["words"]) >= self.MAX_WORDS:
            return None
        new = _pick_words(rng, list(vocab) + list(DEFAULT_VOCAB), 1, avoid=c["words"])
        return {**c, "words": c["words"] + new} if new else None

    def relax(self, c, rng):
        return _drop_word(c, rng)


class ExcludeKeywords(ConstraintKind):
    name, params, hardenable = "exclude_keywords", {"words": list}, True
    MAX_WORDS = 5

    def describe(self, c):
        ws = c["words"]
        return f"Do not use the word{'s' if len(ws) > 1 else ''} {_quoted_list(ws, 'or')}."

    def check(self, text, c):
        return not any(count_keyword(text, w) for w in c["words"])

    def partial(self, text, c):
        return sum(count_keyword(text, w) == 0 for w in c["words"]) / len(c["words"])

    def sample(self, rng, vocab):
        pool = COMMON_WORDS if (float(rng.random()) < 0.5 or not vocab) else vocab
        return {"words": _pick_words(rng, pool, _choice(rng, [1, 1, 2]))}

    def harden(self, c, rng, vocab):
        if len(c["words"]) >= self.MAX_WORDS:
            return None
        new = _pick_words(rng, list(vocab) + list(COMMON_WORDS), 1, avoid=c["words"])
        return {**c, "words": c["words"] + new} if new else None

    def relax(self, c, rng):
        return _drop_word(c, rng)


class KeywordFrequency(ConstraintKind):
    name, params, bounds, hardenable = "keyword_frequency", {"word": str, "n": int}, (1, 20), True
    CAP = 10

    def describe(self, c):
        return f'Use the word "{c["word"]}" at least {_plural(c["n"], "time")}.'

    def check(self, text, c):
        return count_keyword(text, c["word"]) >= c["n"]

    def partial(self, text, c):
        return count_keyword(text, c["word"]) / c["n"]

    def sample(self, rng, vocab):
        return {"word": _pick_words(rng, vocab or DEFAULT_VOCAB, 1)[0], "n": _choice(rng, [2, 3, 4])}

    def harden(self, c, rng, vocab):
        return {**c, "n": c["n"] + 1} if c["n"] < self.CAP else None

    def relax(self, c, rng):
        return {**c, "n": c["n"] - 1} if c["n"] > 1 else None

    def param_problems(self, c):
        out = super().param_problems(c)
        if isinstance(c.get("word"), str) and not re.fullmatch(r"[a-z0-9]+(?:[-'][a-z0-9]+)?", c["word"]):
            out.append(f"word={c['word']!r} must be one lowercase word")
        return out


class Lowercase(ConstraintKind):
    name = "lowercase"

    def describe(self, c):
        return "Write everything in lowercase letters, with no capitals."

    def check(self, text, c):
        letters = _cased_letters(text)
        return bool(letters) and not any(ch.isupper() for ch in letters)

    def partial(self, text, c):
        letters = _cased_letters(text)
        return sum(ch.islower() for ch in letters) / max(1, len(letters))


class Uppercase(ConstraintKind):
    name = "uppercase"

    def describe(self, c):
        return "Write everything in capital letters."

    def check(self, text, c):
        letters = _cased_letters(text)
        return bool(letters) and not any(ch.islower() for ch in letters)

    def partial(self, text, c):
        letters = _cased_letters(text)
        return sum(ch.isupper() for ch in letters) / max(1, len(letters))


class BulletCount(ConstraintKind):
    name, params, bounds, hardenable = "bullet_count", {"n": int}, (1, 20), True
    CAP = 10

    def describe(self, c):
        return f'Use exactly {_plural(c["n"], "bullet point")}, each on a line starting with "- ".'

    def check(self, text, c):
        return len(bullets(text)) == c["n"]

    def partial(self, text, c):
        return _ratio(len(bullets(text)), c["n"])

    def sample(self, rng, vocab):
        return {"n": _choice(rng, [2, 3, 4, 5])}

    def harden(self, c, rng, vocab):
        return {**c, "n": c["n"] + 1} if c["n"] < self.CAP else None


class StartWith(ConstraintKind):
    name, params = "start_with", {"phrase": str}

    def describe(self, c):
        return f'Start your answer with "{c["phrase"]}".'

    def check(self, text, c):
        t, p = _norm(text).lstrip(_EDGE_CHARS), _norm_phrase(c["phrase"])
        return t.startswith(p) and not t[len(p):len(p) + 1].isalnum()

    def partial(self, text, c):
        got, want = words(_norm(text)), words(_norm(c["phrase"]))
        k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        elsewhere = 0.5 if _norm_phrase(c["phrase"]) in _norm(text) else 0.0
        return max(k / len(want), elsewhere)

    def sample(self, rng, vocab):
        return {"phrase": _choice(rng, START_PHRASES)}


class EndWith(ConstraintKind):
    name, params = "end_with", {"phrase": str}

    def describe(self, c):
        end = "" if c["phrase"].rstrip()[-1:] in ".!?" else "."
        return f'End your answer with "{c["phrase"]}"{end}'

    def check(self, text, c):
        t, p = _norm_phrase(text), _norm_phrase(c["phrase"])
        return t.endswith(p) and not t[-len(p) - 1:-len(p)].isalnum()

    def partial(self, text, c):
        got, want = words(_norm(text))[::-1], words(_norm(c["phrase"]))[::-1]
        k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        elsewhere = 0.5 if _norm_phrase(c["phrase"]) in _norm(text) else 0.0
        return max(k / len(want), elsewhere)

    def sample(self, rng, vocab):
        return {"phrase": _choice(rng, END_PHRASES)}


class NoCommas(ConstraintKind):
    name = "no_commas"

    def describe(self, c):
        return "Do not use any commas."

    def check(self, text, c):
        return "," not in text and "\uff0c" not in text

    def partial(self, text, c):
        return 1.0 / (1 + text.count(",") + text.count("\uff0c"))


class JsonFormat(ConstraintKind):
    name = "json_format"

    def describe(self, c):
        return "Format the whole answer as valid JSON."

    def check(self, text, c):
        try:
            return isinstance(json_payload(text), (dict, list))
        except ValueError:
            return False

    def partial(self, text, c):
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                json.loads(text[start:end + 1])
                return 0.5  # valid JSON inside other text
            except ValueError:
                return 0.2  # JSON-looking but broken
        return 0.0


class Title(ConstraintKind):
    name = "title"

    def describe(self, c):
        return "Give your answer a title in double angular brackets, like <<my title>>."

    def check(self, text, c):
        return bool(_TITLE.search(text))

    def partial(self, text, c):
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        looks_like_title = first.startswith("#") or re.fullmatch(r"\*\*[^*]+\*\*:?", first) or "<" in first
        return 0.5 if looks_like_title else 0.0


class Quotation(ConstraintKind):
    name = "quotation"

    def describe(self, c):
        return "Wrap your whole answer in double quotation marks."

    def check(self, text, c):
        s = text.strip()
        return len(s) >= 2 and s[0] in '"\u201c' and s[-1] in '"\u201d'

    def partial(self, text, c):
        s = text.strip()
        return 0.5 * (s[:1] in ('"', "\u201c")) + 0.5 * (s[-1:] in ('"', "\u201d"))


class ParagraphCount(ConstraintKind):
    name, params, bounds, hardenable = "paragraph_count", {"n": int}, (1, 10), True
    CAP = 8

    def describe(self, c):
        return f"Write exactly {_plural(c['n'], 'paragraph')}, separated by a line with ***."

    def check(self, text, c):
        return len(paragraphs(text)) == c["n"]

    def partial(self, text, c):
        return _ratio(len(paragraphs(text)), c["n"])

    def sample(self, rng, vocab):
        return {"n": _choice(rng, [2, 3, 4])}

    def harden(self, c, rng, vocab):
        return {**c, "n": c["n"] + 1} if c["n"] < self.CAP else None


class Postscript(ConstraintKind):
    name = "postscript"

    def describe(self, c):
        return 'End with a postscript that starts with "P.S."'

    def check(self, text, c):
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        for i, ln in enumerate(lines):
            m = _POSTSCRIPT.match(ln)
            if m and i > 0 and (_WORD.search(ln[m.end():]) or any(_WORD.search(x) for x in lines[i + 1:])):
                return True
        return False

    def partial(self, text, c):
        return 0.5 if re.search(r"p\.\s?s\b", text, re.IGNORECASE) else 0.0


class PlaceholderCount(ConstraintKind):
    name, params, bounds, hardenable = "placeholder_count", {"n": int}, (1, 10), True
    CAP = 8

    def describe(self, c):
        return f"Include at least {_plural(c['n'], 'placeholder')} in square brackets, like [name]."

    def check(self, text, c):
        return len(_PLACEHOLDER.findall(text)) >= c["n"]

    def partial(self, text, c):
        return len(_PLACEHOLDER.findall(text)) / c["n"]

    def sample(self, rng, vocab):
        return {"n": _choice(rng, [1, 2, 3])}

    def harden(self, c, rng, vocab):
        return {**c, "n": c["n"] + 1} if c["n"] < self.CAP else None


KINDS: dict[str, ConstraintKind] = {k.name: k for k in (
    WordCountMax(), WordCountMin(), SentenceCountMax(), IncludeKeywords(), ExcludeKeywords(),
    KeywordFrequency(), Lowercase(), Uppercase(), BulletCount(), StartWith(), EndWith(), NoCommas(),
    JsonFormat(), Title(), Quotation(), ParagraphCount(), Postscript(), PlaceholderCount(),
)}
KIND_NAMES = tuple(KINDS)
HARDENABLE = tuple(k for k, v in KINDS.items() if v.hardenable)

# ----------------------------------------------------------------------------------------------------
# Conflicts

# Kinds that never go together, whatever their parameters.
_JSON_INCOMPATIBLE = ("bullet_count", "title", "start_with", "end_with", "quotation", "paragraph_count",
                      "postscript", "no_commas")
KIND_CONFLICTS: dict[frozenset[str], str] = {
    frozenset(("lowercase", "uppercase")): "all lowercase and all capitals contradict each other",
    frozenset(("postscript", "end_with")): "a postscript and a fixed closing phrase both claim the ending",
    **{frozenset(("json_format", k)): f"a JSON answer cannot also satisfy {k}" for k in _JSON_INCOMPATIBLE},
}


def _kw_set(c: Constraint) -> set[str]:
    if c["kind"] in ("include_keywords", "exclude_keywords"):
        return {w.lower() for w in c["words"]}
    if c["kind"] == "keyword_frequency":
        return {c["word"].lower()}
    return set()


def conflict_reason(a: Constraint, b: Constraint) -> str | None:
    """Why constraints ``a`` and ``b`` cannot be asked together (None if they can). Symmetric."""
    ka, kb = a["kind"], b["kind"]
    if ka == kb:
        return f"two {ka} constraints (use one, or harden it)"
    why = KIND_CONFLICTS.get(frozenset((ka, kb)))
    if why:
        return why
    by = {ka: a, kb: b}
    pair = frozenset((ka, kb))
    # keywords: required vs forbidden words, and a counted word that is also listed elsewhere
    if "exclude_keywords" in by:
        other = b if ka == "exclude_keywords" else a
        banned = _kw_set(by["exclude_keywords"])
        clash = banned & _kw_set(other)
        if clash:
            return f"word(s) {sorted(clash)} both required and forbidden"
        if other["kind"] in ("start_with", "end_with"):
            hit = [w for w in banned if count_keyword(other["phrase"], w)]
            if hit:
                return f"the {other['kind']} phrase uses forbidden word(s) {hit}"
    if pair == {"include_keywords", "keyword_frequency"} and _kw_set(a) & _kw_set(b):
        return "the counted word is already required by include_keywords"
    if "no_commas" in by:
        other = b if ka == "no_commas" else a
        if other["kind"] in ("start_with", "end_with") and "," in other["phrase"]:
            return f"the {other['kind']} phrase contains a comma"
    # capacities: too few words or sentences for the structure asked for
    if pair == {"word_count_min", "word_count_max"} and by["word_count_min"]["n"] >= by["word_count_max"]["n"]:
        return "word_count_min must be smaller than word_count_max"
    if "word_count_max" in by:
        n = by["word_count_max"]["n"]
        for kind, per in (("bullet_count", 3), ("paragraph_count", 8), ("keyword_frequency", 3),
                          ("placeholder_count", 2)):
            if kind in by and n < per * by[kind]["n"]:
                return f"{n} words are too few for {kind} n={by[kind]['n']} (needs >= {per * by[kind]['n']})"
    if "sentence_count_max" in by:
        s = by["sentence_count_max"]["n"]
        for kind in ("bullet_count", "paragraph_count"):
            if kind in by and s < by[kind]["n"]:
                return f"at most {s} sentence(s) cannot hold {kind} n={by[kind]['n']}"
        if "postscript" in by and s < 2:
            return "a postscript needs a sentence of its own besides the answer"
    return None


def conflicts(a: Constraint, b: Constraint) -> bool:
    return conflict_reason(a, b) is not None



# ----------------------------------------------------------------------------------------------------
# The public functions (the contract in docs/contracts.md)

def _kind(c: Constraint) -> ConstraintKind:
    if not isinstance(c, dict) or "kind" not in c:
        raise ValueError(f"a constraint is a dict with a 'kind'; got {c!r}")
    try:
        return KINDS[c["kind"]]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kind {c['kind']!r}; known kinds: {', '.join(KIND_NAMES)}") from None


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


_STOPWORDS = frozenset(
    "about above after again also answer because before being below between both could does doing down during "
    "each every explain from give have here into just like list make more most much only other over same should "
    "short some such than that their them then there these they this those through under very what when where "
    "which while with would write your beginner friend simple words".split())


def task_vocab(task: str) -> list[str]:
    """Content words of a task (lowercase, >= 4 letters, no stopwords): keyword candidates for it."""
    seen: dict[str, None] = {}
    for w in words(task.lower()):
        if len(w) >= 4 and w.isalpha() and w not in _STOPWORDS:
            seen[w] = None
    return list(seen)


def describe(c: Constraint) -> str:
    """The English instruction for one constraint, e.g. "Answer in at most 50 words."."""
    return _kind(c).describe(c)


def check(c: Constraint, response: str) -> tuple[bool, float]:
    """(satisfied, partial credit). Partial credit is 1.0 iff satisfied, else the kind's graded closeness
    clipped to [0, 0.99]. A response without any word satisfies nothing and earns 0."""
    kind = _kind(c)
    text = response or ""
    if not _WORD.search(text):
        return False, 0.0
    if kind.check(text, c):
        return True, 1.0
    return False, float(min(_BELOW_ONE, max(0.0, kind.partial(text, c))))


def score_response(constraints: Sequence[Constraint], response: str | None) -> dict[str, Any]:
    """{"satisfied": [bool], "frac": float, "partial": float, "reward": float} for one response.

    reward = 0.9 * frac + 0.1 * partial (frac: share satisfied; partial: mean partial credit), in [0, 1]
    and 1.0 iff every constraint holds (module docstring: why the 0.1 tie-breaker). NaN scores (= missing,
    see ``evalab.informativeness``) when the response is None (satisfied all False) or there is nothing to
    check (no constraints).
    """
    if response is None or not constraints:
        return {"satisfied": [False] * len(constraints), "frac": math.nan, "partial": math.nan, "reward": math.nan}
    res = [check(c, response) for c in constraints]
    frac = sum(ok for ok, _ in res) / len(res)
    partial = sum(p for _, p in res) / len(res)
    return {"satisfied": [ok for ok, _ in res], "frac": frac, "partial": partial,
            "reward": FRAC_WEIGHT * frac + PARTIAL_WEIGHT * partial}


def constraint_problems(constraints: Any) -> list[str]:
    """Every problem of a constraint list (empty = valid); ``validate_constraints`` reports them."""
    if not isinstance(constraints, list):
        return [f"constraints must be a list; got {type(constraints).__name__}"]
    problems: list[str] = []
    if len(constraints) > MAX_CONSTRAINTS:
        problems.append(f"{len(constraints)} constraints; at most {MAX_CONSTRAINTS} allowed")
    ok: list[Constraint] = []
    for i, c in enumerate(constraints):
        try:
            kind = _kind(c)
        except ValueError as e:
            problems.append(f"constraint #{i}: {e}")
            continue
        bad = kind.param_problems(c)
        problems += [f"constraint #{i} ({c['kind']}): {p}" for p in bad]
        if not bad:
            ok.append(c)
    for i in range(len(ok)):
        for j in range(i + 1, len(ok)):
            why = conflict_reason(ok[i], ok[j])
            if why:
                problems.append(f"conflict: {ok[i]['kind']} vs {ok[j]['kind']} ({why})")
    return problems


def validate_constraints(constraints: Any) -> str | None:
    """None if the list is usable, else the reason(s), "; "-joined: an unknown kind, bad parameters, a
    repeated kind, a declared conflict ("conflict: lowercase vs uppercase (...)"), too many constraints."""
    problems = constraint_problems(constraints)
    return "; ".join(problems) if problems else None


def render_prompt(task: str, constraints: Sequence[Constraint]) -> str:
    """The text the solver sees: the task (one line, final punctuation added), then one sentence per
    constraint."""
    task = " ".join(task.split())
    if task and task[-1] not in ".!?":
        task += "."
    return " ".join([task] + [describe(c) for c in constraints])


def sample_constraint(kind: str, rng: np.random.Generator, task: str = "", *,
                      vocab: Sequence[str] = ()) -> Constraint:
    """A ``kind`` constraint with random parameters. Keywords come from ``vocab`` (e.g. topic words) or,
    if empty, from the content words of ``task``, or else from ``DEFAULT_VOCAB``."""
    k = _kind({"kind": kind})
    pool = [w.lower() for w in vocab] or task_vocab(task)
    return {"kind": kind, **k.sample(_as_rng(rng), pool)}


def harden_one(c: Constraint, rng: np.random.Generator | None = None, vocab: Sequence[str] = ()) -> Constraint | None:
    """A strictly more demanding copy of one constraint, or None (nothing to tighten, or at its limit).

    word_count_max n -> max(10, round(0.7 n)); word_count_min n -> ceil(1.3 n) (<= 1000);
    sentence_count_max n -> n - 1 (>= 1); include / exclude_keywords: one more word (<= 5);
    keyword_frequency, bullet_count, paragraph_count, placeholder_count: n + 1 (capped).
    For limits and keyword lists every response meeting the hardened constraint meets the original; for
    the exact counts (bullets, paragraphs) "stricter" means that more structure is demanded.
    """
    return _kind(c).harden(dict(c), _as_rng(rng), [w.lower() for w in vocab])


def harden(constraints: Sequence[Constraint], rng: np.random.Generator, *, task: str = "",
           vocab: Sequence[str] = ()) -> list[Constraint] | None:
    """A new list with one randomly chosen constraint made stricter (``harden_one``) such that the list
    stays valid; None if no constraint can be hardened."""
    rng = _as_rng(rng)
    pool = list(vocab) or task_vocab(task)
    for i in rng.permutation(len(constraints)):
        h = harden_one(constraints[int(i)], rng, pool)
        if h is None:
            continue
        out = [dict(c) for c in constraints]
        out[int(i)] = h
        if not constraint_problems(out):
            return out
    return None


def relax_one(c: Constraint, rng: np.random.Generator | None = None) -> Constraint | None:
    """A strictly looser copy of one constraint, or None: the inverse steps of ``harden_one`` where the kind's
    parameter is monotone (every response meeting ``c`` meets the copy).

    word_count_max n -> ceil(n / 0.7); word_count_min n -> floor(n / 1.3) (>= 1); sentence_count_max n -> n + 1;
    include / exclude_keywords: one word fewer (>= 1); keyword_frequency n -> n - 1 (>= 1). Exact counts
    (bullets, paragraphs, placeholders) and the kinds without a parameter are not relaxed.
    """
    return _kind(c).relax(dict(c), _as_rng(rng))


def relax(constraints: Sequence[Constraint], rng: np.random.Generator, *, task: str = "") -> list[Constraint] | None:
    """A new list that is strictly easier to satisfy (the creator's "relax" operator, ``creator_aim="frontier"``):
    with two or more constraints one randomly chosen constraint is dropped; with one, it is loosened
    (``relax_one``). None when there is nothing to relax (one constraint that cannot be loosened, or none).
    Every response that meets the old list meets the new one. ``task`` is unused (the signature of
    ``harden`` / ``add_constraint``, so the creator calls the three alike)."""
    rng = _as_rng(rng)
    if len(constraints) >= 2:
        i = int(rng.integers(len(constraints)))
        return [dict(c) for j, c in enumerate(constraints) if j != i]
    if len(constraints) == 1:
        loose = relax_one(constraints[0], rng)
        if loose is not None and not constraint_problems([loose]):
            return [loose]
    return None


def add_constraint(constraints: Sequence[Constraint], rng: np.random.Generator, *, task: str = "",
                   vocab: Sequence[str] = (), kinds: Sequence[str] | None = None,
                   tries: int = 4) -> list[Constraint] | None:
    """A new list with one more constraint, of a kind not yet present that conflicts with none of the
    others (``kinds`` restricts the candidates); None if no kind fits or the list is full."""
    if len(constraints) >= MAX_CONSTRAINTS:
        return None
    rng = _as_rng(rng)
    present = {c["kind"] for c in constraints}
    cand = [k for k in (kinds if kinds is not None else KIND_NAMES) if k not in present]
    for i in rng.permutation(len(cand)):
        for _ in range(tries):
            new = [dict(c) for c in constraints] + [sample_constraint(cand[int(i)], rng, task, vocab=vocab)]
            if not constraint_problems(new):
                return new
    return None
