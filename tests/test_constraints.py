"""Constraint kinds: hand-checked true/false cases, partial credit, conflicts, hardening, add_constraint."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evalab import constraints as C

# (constraint, a response that satisfies it, a response that does not) — each checked by hand.
CASES = [
    ({"kind": "word_count_max", "n": 5}, "One two three four five.", "One two three four five six."),
    ({"kind": "word_count_max", "n": 5}, "- **Bold** move, _really_ fast ok\n", "It's a **very** long one, sadly."),  # markdown is not a word
    ({"kind": "word_count_min", "n": 4}, "Lava is very hot.", "Lava is hot."),
    ({"kind": "sentence_count_max", "n": 2}, "First one. Second one!", "One. Two. Three?"),
    ({"kind": "sentence_count_max", "n": 2}, "# Title\n\nIt costs 3.5 dollars. Cheap.", "- a\n- b\n- c"),
    ({"kind": "include_keywords", "words": ["lava", "magma"]}, "Magma becomes LAVA.", "Magma cools slowly."),
    ({"kind": "include_keywords", "words": ["eruption"]}, "Two eruptions happened.", "It erupted twice."),
    ({"kind": "exclude_keywords", "words": ["very"]}, "Everything is fine.", "It is Very fine."),
    ({"kind": "exclude_keywords", "words": ["thing"]}, "Nothing here.", "Many things here."),
    ({"kind": "keyword_frequency", "word": "rain", "n": 2}, "Rain, rain, go away.", "Rain stopped. Raining now."),
    ({"kind": "lowercase"}, "all quiet here, 42 times.", "all quiet here, Mostly."),
    ({"kind": "uppercase"}, "ALL CAPS, 42 TIMES!", "ALL CAPS, almost."),
    ({"kind": "bullet_count", "n": 2}, "Intro:\n- one\n* two\n", "- one\n- two\n- three"),
    ({"kind": "bullet_count", "n": 1}, "**Bold** text\n- only\n***", "1. numbered\n2. items"),
    ({"kind": "start_with", "phrase": "Here is"}, "**Here is** the plan.", "So here is the plan."),
    ({"kind": "start_with", "phrase": "In short"}, '"In short, yes."', "In shortest terms, yes."),
    ({"kind": "end_with", "phrase": "Stay curious!"}, "Read more. *Stay curious!*  \n", "Stay curious! Read more."),
    ({"kind": "end_with", "phrase": "That is all."}, "Done. that is all", "Done. That is all folks."),
    ({"kind": "no_commas"}, "No commas at all here.", "Well, one comma."),
    ({"kind": "json_format"}, '```json\n{"a": 1, "b": [2, 3]}\n```', 'Here you go: {"a": 1}'),
    ({"kind": "json_format"}, '[{"x": "y"}]', '"just a string"'),
    ({"kind": "title"}, "<<Ode to Lava>>\nHot rock flows.", "# Ode to Lava\nHot rock flows."),
    ({"kind": "quotation"}, '"The whole answer, quoted."', 'The "answer" is partly quoted.'),
    ({"kind": "quotation"}, "\u201cCurly quotes count.\u201d", '"Only opened.'),
    ({"kind": "paragraph_count", "n": 2}, "First part.\n***\nSecond part.", "First.\n\nSecond."),
    ({"kind": "paragraph_count", "n": 3}, "A.\n* * *\nB.\n***\nC.", "A.\n***\nB.\n***\n***"),
    ({"kind": "postscript"}, "Hi Sam.\n\nP.S. Bring snacks.", "P.S. only a postscript."),
    ({"kind": "postscript"}, "hi sam.\np.s. bring snacks.", "Hi Sam. P.S. inline does not count."),
    ({"kind": "placeholder_count", "n": 2}, "Dear [name], meet me at [place].", "Dear [name], see [link](http://x)."),
]


@pytest.mark.parametrize("c,good,bad", CASES, ids=[f"{c['kind']}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_hand_checked_true_and_false(c, good, bad):
    assert C.validate_constraints([c]) is None
    assert C.check(c, good) == (True, 1.0)
    ok, partial = C.check(c, bad)
    assert ok is False and 0.0 <= partial < 1.0


def test_every_kind_has_hand_checked_cases_and_at_least_14_kinds():
    assert len(C.KINDS) >= 14
    assert {c["kind"] for c, _, _ in CASES} == set(C.KINDS)


@pytest.mark.parametrize("kind", C.KIND_NAMES)
def test_describe_is_one_short_sentence(kind):
    c = C.sample_constraint(kind, np.random.default_rng(0), "Explain how volcanoes form.")
    text = C.describe(c)
    assert 10 < len(text) <= 90 and text[0].isupper() and text.rstrip('"')[-1] in ".!?"


@pytest.mark.parametrize("kind", C.KIND_NAMES)
def test_silence_satisfies_nothing(kind):
    c = C.sample_constraint(kind, np.random.default_rng(0))
    for empty in ("", "   \n", "** -- **"):
        assert C.check(c, empty) == (False, 0.0)


def test_partial_credit_values():
    assert C.check({"kind": "word_count_max", "n": 50}, "w " * 60)[1] == pytest.approx(50 / 60)
    assert C.check({"kind": "word_count_min", "n": 40}, "w " * 10)[1] == pytest.approx(0.25)
    assert C.check({"kind": "sentence_count_max", "n": 1}, "A. B. C. D.")[1] == pytest.approx(0.25)
    assert C.check({"kind": "include_keywords", "words": ["lava", "ash"]}, "lava")[1] == pytest.approx(0.5)
    assert C.check({"kind": "exclude_keywords", "words": ["lava", "ash"]}, "lava")[1] == pytest.approx(0.5)
    assert C.check({"kind": "keyword_frequency", "word": "lava", "n": 4}, "lava lava")[1] == pytest.approx(0.5)
    assert C.check({"kind": "lowercase"}, "abC")[1] == pytest.approx(2 / 3)
    assert C.check({"kind": "bullet_count", "n": 3}, "- a\n- b\n- c\n- d")[1] == pytest.approx(0.75)
    assert C.check({"kind": "no_commas"}, "a, b, c")[1] == pytest.approx(1 / 3)
    assert C.check({"kind": "start_with", "phrase": "Let me explain"}, "Let me think.")[1] == pytest.approx(2 / 3)
    assert C.check({"kind": "placeholder_count", "n": 3}, "[a] only")[1] == pytest.approx(1 / 3)
    # closeness is capped below 1 for an unsatisfied constraint, even when the kind's own ratio is ~1
    assert C.check({"kind": "word_count_max", "n": 500}, "w " * 501)[1] == pytest.approx(0.99)


def test_partial_in_unit_interval_and_one_iff_satisfied():
    texts = [c[1] for c in CASES] + [c[2] for c in CASES]
    for seed in range(30):
        rng = np.random.default_rng(seed)
        for kind in C.KIND_NAMES:
            c = C.sample_constraint(kind, rng, "Write a poem about rain and lava")
            t = texts[int(rng.integers(len(texts)))] * int(rng.integers(1, 4))
            ok, p = C.check(c, t)
            assert 0.0 <= p <= 1.0 and (p == 1.0) == ok, (seed, c, t)


def test_score_response_formula_and_ordering():
    cs = [{"kind": "word_count_max", "n": 5}, {"kind": "no_commas"}, {"kind": "include_keywords", "words": ["lava"]}]
    s = C.score_response(cs, "Hot lava flows, slowly, down the hill today.")  # 8 words, 2 commas, has lava
    assert s["satisfied"] == [False, False, True]
    assert s["frac"] == pytest.approx(1 / 3)
    assert s["partial"] == pytest.approx((5 / 8 + 1 / 3 + 1) / 3)
    assert s["reward"] == pytest.approx(0.9 * s["frac"] + 0.1 * s["partial"])
    full = C.score_response(cs, "Hot lava flows downhill.")
    assert full["reward"] == 1.0 and all(full["satisfied"])
    # more satisfied constraints always score higher, whatever the partial credit
    nearly = C.score_response(cs, "Hot lava flows down the hill")  # 6 words: fails only the limit, closely
    assert nearly["reward"] < 1.0 and nearly["reward"] > s["reward"]
    # ties in frac are broken by closeness
    far = C.score_response(cs, "Hot lava " + "word " * 40)
    assert nearly["frac"] == far["frac"] and nearly["reward"] > far["reward"]


def test_score_response_missing_is_nan():
    cs = [{"kind": "no_commas"}]
    assert math.isnan(C.score_response(cs, None)["reward"])
    assert math.isnan(C.score_response([], "text")["reward"])


def test_render_prompt():
    cs = [{"kind": "word_count_max", "n": 50}, {"kind": "end_with", "phrase": "Stay curious!"}]
    assert C.render_prompt("  Explain   volcanoes ", cs) == (
        'Explain volcanoes. Answer in at most 50 words. End your answer with "Stay curious!"')
    assert C.render_prompt("Why is the sky blue?", []) == "Why is the sky blue?"


@pytest.mark.parametrize("cs,fragment", [
    ([{"kind": "lowercase"}, {"kind": "uppercase"}], "conflict: lowercase vs uppercase"),
    ([{"kind": "json_format"}, {"kind": "bullet_count", "n": 3}], "conflict: json_format vs bullet_count"),
    ([{"kind": "json_format"}, {"kind": "title"}], "conflict"),
    ([{"kind": "json_format"}, {"kind": "start_with", "phrase": "Here is"}], "conflict"),
    ([{"kind": "json_format"}, {"kind": "end_with", "phrase": "The end."}], "conflict"),
    ([{"kind": "json_format"}, {"kind": "quotation"}], "conflict"),
    ([{"kind": "json_format"}, {"kind": "paragraph_count", "n": 2}], "conflict"),
    ([{"kind": "include_keywords", "words": ["lava"]}, {"kind": "exclude_keywords", "words": ["lava"]}], "forbidden"),
    ([{"kind": "keyword_frequency", "word": "ash", "n": 2}, {"kind": "exclude_keywords", "words": ["ash"]}], "forbidden"),
    ([{"kind": "word_count_min", "n": 80}, {"kind": "word_count_max", "n": 50}], "word_count_min"),
    ([{"kind": "word_count_max", "n": 10}, {"kind": "bullet_count", "n": 5}], "too few"),
    ([{"kind": "sentence_count_max", "n": 2}, {"kind": "paragraph_count", "n": 3}], "sentence"),
    ([{"kind": "start_with", "phrase": "Good question"}, {"kind": "exclude_keywords", "words": ["good"]}], "phrase"),
    ([{"kind": "no_commas"}, {"kind": "start_with", "phrase": "Well, yes"}], "comma"),
    ([{"kind": "no_commas"}, {"kind": "no_commas"}], "two no_commas"),
    ([{"kind": "no_such_kind"}], "unknown kind 'no_such_kind'"),
    ([{"kind": "word_count_max", "n": "50"}], "integer"),
    ([{"kind": "word_count_max", "n": 50, "extra": 1}], "unknown parameter"),
    ([{"kind": "include_keywords", "words": []}], "list of 1-5"),
    ([{"kind": k} for k in ("no_commas", "title", "quotation", "postscript", "lowercase")]
     + [{"kind": "placeholder_count", "n": 1}, {"kind": "word_count_min", "n": 10}], "7 constraints; at most 6"),
    ("not a list", "must be a list"),
])
def test_conflicts_and_bad_params_detected(cs, fragment):
    why = C.validate_constraints(cs)
    assert why is not None and fragment in why


def test_declared_kind_conflicts_are_symmetric():
    for pair in C.KIND_CONFLICTS:
        a, b = ({"kind": k, **C.sample_constraint(k, np.random.default_rng(0))} for k in sorted(pair))
        assert C.conflicts(a, b) and C.conflicts(b, a)


# --- hardening -----------------------------------------------------------------------------------------

# A response meeting the original but not the hardened constraint (the hardening really bites).
def _witness(c: dict, h: dict) -> str:
    k = c["kind"]
    if k == "word_count_max":
        return "w " * c["n"]
    if k == "word_count_min":
        return "w " * c["n"]
    if k == "sentence_count_max":
        return "S. " * c["n"]
    if k == "include_keywords":
        return " ".join(c["words"])
    if k == "exclude_keywords":
        return "fine text " + " ".join(w for w in h["words"] if w not in c["words"])
    if k == "keyword_frequency":
        return (c["word"] + " ") * c["n"]
    if k == "bullet_count":
        return "\n".join("- item" for _ in range(c["n"]))
    if k == "paragraph_count":
        return "\n***\n".join("Part." for _ in range(c["n"]))
    if k == "placeholder_count":
        return " ".join("[x]" for _ in range(c["n"]))
    raise AssertionError(k)


_DEMAND = {"word_count_max": lambda c: -c["n"], "sentence_count_max": lambda c: -c["n"]}


@pytest.mark.parametrize("kind", C.KIND_NAMES)
@pytest.mark.parametrize("seed", range(5))
def test_harden_is_strictly_stricter(kind, seed):
    rng = np.random.default_rng(seed)
    c = C.sample_constraint(kind, rng, "Write a story about a fox in the snow")
    h = C.harden_one(c, rng, ["fox", "snow", "winter", "tracks"])
    if kind not in C.HARDENABLE:
        assert h is None
        return
    assert h is not None and h["kind"] == kind and C.validate_constraints([h]) is None
    # demanded more: a larger count / more words, or a smaller limit
    for p in ("n", "words"):
        if p in c:
            grow = len if p == "words" else (lambda v: v)
            sign = -1 if kind in _DEMAND else 1
            assert sign * grow(h[p]) > sign * grow(c[p])
    if kind in ("include_keywords", "exclude_keywords"):
        assert set(c["words"]) < set(h["words"])
    # a response that met the original fails the hardened one; for limits and keyword lists meeting the hardened
    # one implies meeting the original
    _assert_looser(c, h, monotone=kind not in ("bullet_count", "paragraph_count"))


def _assert_looser(easy: dict, hard: dict, monotone: bool = True) -> None:
    """Some response meets ``easy`` and not ``hard`` (``_witness``); with ``monotone``, every response of the test
    corpus that meets ``hard`` meets ``easy``."""
    w = _witness(easy, hard)
    assert C.check(easy, w)[0] and not C.check(hard, w)[0]
    if monotone:
        for t in [x for case in CASES for x in case[1:]] + [w, "w " * 3, "w " * 200]:
            if C.check(hard, t)[0]:
                assert C.check(easy, t)[0]


def test_harden_rules_and_limits():
    rng = np.random.default_rng(0)
    assert C.harden_one({"kind": "word_count_max", "n": 50}, rng) == {"kind": "word_count_max", "n": 35}
    assert C.harden_one({"kind": "word_count_max", "n": 12}, rng) == {"kind": "word_count_max", "n": 10}
    assert C.harden_one({"kind": "word_count_max", "n": 10}, rng) is None  # at the floor
    assert C.harden_one({"kind": "word_count_min", "n": 40}, rng) == {"kind": "word_count_min", "n": 52}
    assert C.harden_one({"kind": "sentence_count_max", "n": 1}, rng) is None
    assert C.harden_one({"kind": "bullet_count", "n": 3}, rng) == {"kind": "bullet_count", "n": 4}
    assert C.harden_one({"kind": "lowercase"}, rng) is None
    assert C.harden_one({"kind": "include_keywords", "words": list("abcde")}, rng) is None


@pytest.mark.parametrize("seed", range(0, 200, 20))
def test_harden_list_stays_valid(seed):
    for seed in range(seed, seed + 20):
        _check_harden_list(np.random.default_rng(seed))


def _check_harden_list(rng):
    cs = []
    for _ in range(int(rng.integers(1, 4))):
        cs = C.add_constraint(cs, rng, task="Write an email about a camping trip") or cs
    h = C.harden(cs, rng, task="Write an email about a camping trip")
    if h is None:  # then no single hardening keeps the list valid
        for i, c in enumerate(cs):
            hc = C.harden_one(c, np.random.default_rng(0), ["tent", "fire"])
            assert hc is None or C.validate_constraints(cs[:i] + [hc] + cs[i + 1:]) is not None
        return
    assert C.validate_constraints(h) is None
    assert len(h) == len(cs) and sum(a != b for a, b in zip(cs, h)) == 1
    assert cs != h  # the input list is not modified in place
    assert C.render_prompt("Task.", h) != C.render_prompt("Task.", cs)


def test_harden_returns_none_when_nothing_can_be_tightened():
    assert C.harden([{"kind": "lowercase"}, {"kind": "no_commas"}], np.random.default_rng(0)) is None
    # 16 words hold 5 bullets (>= 15 words) but neither 11 words nor 6 bullets (18 words) would: no valid hardening
    cs = [{"kind": "word_count_max", "n": 16}, {"kind": "bullet_count", "n": 5}]
    assert C.harden(cs, np.random.default_rng(0)) is None
    cs = [{"kind": "word_count_max", "n": 30}, {"kind": "bullet_count", "n": 5}]  # 21 words still hold 5 bullets
    for seed in range(10):
        h = C.harden(cs, np.random.default_rng(seed))
        assert h is not None and C.validate_constraints(h) is None


# --- add_constraint and sampling ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(0, 500, 50))
def test_add_constraint_never_adds_a_conflict(seed):
    for seed in range(seed, seed + 50):
        _check_add_chain(np.random.default_rng(seed))


def _check_add_chain(rng):
    cs: list[dict] = []
    for _ in range(C.MAX_CONSTRAINTS + 1):
        nxt = C.add_constraint(cs, rng, task="Describe a busy train station")
        if nxt is None:
            assert len(cs) == C.MAX_CONSTRAINTS or len(cs) >= 3
            break
        assert len(nxt) == len(cs) + 1 and nxt[:-1] == cs
        assert C.validate_constraints(nxt) is None
        assert nxt[-1]["kind"] not in {c["kind"] for c in cs}
        json.dumps(nxt)  # JSON-safe (no numpy scalars)
        cs = nxt


def test_add_constraint_respects_kinds_and_gives_up_cleanly():
    rng = np.random.default_rng(1)
    assert C.add_constraint([{"kind": "lowercase"}], rng, kinds=["uppercase"]) is None
    got = C.add_constraint([], rng, kinds=["title"])
    assert got == [{"kind": "title"}]


def test_sampling_is_deterministic_and_uses_task_words():
    a = [C.sample_constraint(k, np.random.default_rng(7), "Explain photosynthesis") for k in C.KIND_NAMES]
    b = [C.sample_constraint(k, np.random.default_rng(7), "Explain photosynthesis") for k in C.KIND_NAMES]
    assert a == b
    inc = C.sample_constraint("include_keywords", np.random.default_rng(0), "Explain photosynthesis")
    assert inc["words"] == ["photosynthesis"]
    inc = C.sample_constraint("include_keywords", np.random.default_rng(0), vocab=["Leaves"])
    assert inc["words"] == ["leaves"]


# --- relaxing (creator_aim="frontier") ------------------------------------------------------------------------

_RELAXABLE = ("word_count_max", "word_count_min", "sentence_count_max", "include_keywords", "exclude_keywords",
              "keyword_frequency")


@pytest.mark.parametrize("kind", C.KIND_NAMES)
@pytest.mark.parametrize("seed", range(5))
def test_relax_is_strictly_looser(kind, seed):
    """relax_one is harden_one's inverse where the parameter is monotone: every response meeting the original
    meets the relaxed constraint, and some response meets the relaxed one only (the relaxing gives something)."""
    rng = np.random.default_rng(seed)
    c = C.sample_constraint(kind, rng, "Write a story about a fox in the snow")
    if kind in ("include_keywords", "exclude_keywords"):  # a list of one word cannot lose one
        c = C.harden_one(c, rng, ["fox", "snow", "winter"]) or c
    r = C.relax_one(c, rng)
    if kind not in _RELAXABLE:
        assert r is None
        return
    assert r is not None and r["kind"] == kind and C.validate_constraints([r]) is None and c != r
    _assert_looser(r, c)  # r plays the original, c the hardened one


def test_relax_rules_and_limits():
    rng = np.random.default_rng(0)
    assert C.relax_one({"kind": "word_count_max", "n": 35}, rng) == {"kind": "word_count_max", "n": 50}
    assert C.relax_one({"kind": "word_count_min", "n": 52}, rng) == {"kind": "word_count_min", "n": 40}
    assert C.relax_one({"kind": "word_count_min", "n": 1}, rng) is None          # nothing below one word
    assert C.relax_one({"kind": "sentence_count_max", "n": 50}, rng) is None     # at the kind's bound
    assert C.relax_one({"kind": "keyword_frequency", "word": "fox", "n": 1}, rng) is None
    assert C.relax_one({"kind": "include_keywords", "words": ["fox"]}, rng) is None
    assert C.relax_one({"kind": "bullet_count", "n": 3}, rng) is None  # an exact count is not monotone
    assert C.relax_one({"kind": "lowercase"}, rng) is None


@pytest.mark.parametrize("seed", range(0, 100, 20))
def test_relax_list_drops_one_constraint_or_loosens_the_only_one(seed):
    for seed in range(seed, seed + 20):
        rng = np.random.default_rng(seed)
        cs = []
        for _ in range(int(rng.integers(1, 5))):
            cs = C.add_constraint(cs, rng, task="Write an email about a camping trip") or cs
        before = [dict(c) for c in cs]
        r = C.relax(cs, rng)
        assert cs == before  # the input list is not modified in place
        if len(cs) >= 2:
            assert r is not None and len(r) == len(cs) - 1 and all(c in cs for c in r)
        elif r is None:
            assert C.relax_one(cs[0]) is None
        else:
            assert len(r) == 1 and r[0]["kind"] == cs[0]["kind"] and r != cs
        assert r is None or C.validate_constraints(r) is None


def test_relax_returns_none_when_nothing_can_be_relaxed():
    rng = np.random.default_rng(0)
    assert C.relax([], rng) is None
    assert C.relax([{"kind": "lowercase"}], rng) is None
    assert C.relax([{"kind": "lowercase"}, {"kind": "no_commas"}], rng) in ([{"kind": "lowercase"}],
                                                                              [{"kind": "no_commas"}])
