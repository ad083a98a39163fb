"""Constraint checkers: the exact edges that mutation testing (scripts/mutation.sh) found unpinned.

The English each kind adds to the prompt (the solver reads it verbatim), every conflict's reason, parameter
bounds at the limit and one past it, hardening at each cap, partial credit of the format kinds, and the
parameter distribution that ``sample_constraint`` draws from (it defines the task mix of every run).
"""

from __future__ import annotations

import numpy as np
import pytest

from evalab import constraints as C


# --- the instruction text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("c,text", [
    ({"kind": "word_count_max", "n": 5}, "Answer in at most 5 words."),
    ({"kind": "word_count_min", "n": 1}, "Answer in at least 1 words."),
    ({"kind": "sentence_count_max", "n": 1}, "Use at most 1 sentence."),
    ({"kind": "sentence_count_max", "n": 3}, "Use at most 3 sentences."),
    ({"kind": "include_keywords", "words": ["lava"]}, 'Include the word "lava".'),
    ({"kind": "include_keywords", "words": ["lava", "ash"]}, 'Include the words "lava" and "ash".'),
    ({"kind": "include_keywords", "words": ["lava", "ash", "rock"]}, 'Include the words "lava", "ash" and "rock".'),
    ({"kind": "exclude_keywords", "words": ["very"]}, 'Do not use the word "very".'),
    ({"kind": "exclude_keywords", "words": ["very", "good"]}, 'Do not use the words "very" or "good".'),
    ({"kind": "exclude_keywords", "words": ["very", "good", "thing"]},
     'Do not use the words "very", "good" or "thing".'),
    ({"kind": "keyword_frequency", "word": "rain", "n": 1}, 'Use the word "rain" at least 1 time.'),
    ({"kind": "keyword_frequency", "word": "rain", "n": 3}, 'Use the word "rain" at least 3 times.'),
    ({"kind": "bullet_count", "n": 1}, 'Use exactly 1 bullet point, each on a line starting with "- ".'),
    ({"kind": "bullet_count", "n": 4}, 'Use exactly 4 bullet points, each on a line starting with "- ".'),
    ({"kind": "paragraph_count", "n": 1}, "Write exactly 1 paragraph, separated by a line with ***."),
    ({"kind": "paragraph_count", "n": 2}, "Write exactly 2 paragraphs, separated by a line with ***."),
    ({"kind": "placeholder_count", "n": 1}, "Include at least 1 placeholder in square brackets, like [name]."),
    ({"kind": "placeholder_count", "n": 2}, "Include at least 2 placeholders in square brackets, like [name]."),
    ({"kind": "start_with", "phrase": "Here is"}, 'Start your answer with "Here is".'),
    ({"kind": "end_with", "phrase": "That is all"}, 'End your answer with "That is all".'),
    ({"kind": "end_with", "phrase": "Stay curious!"}, 'End your answer with "Stay curious!"'),
    ({"kind": "end_with", "phrase": "Stay curious! "}, 'End your answer with "Stay curious! "'),  # as typed
    ({"kind": "end_with", "phrase": "Yours, X"}, 'End your answer with "Yours, X".'),
    ({"kind": "lowercase"}, "Write everything in lowercase letters, with no capitals."),
    ({"kind": "uppercase"}, "Write everything in capital letters."),
    ({"kind": "no_commas"}, "Do not use any commas."),
    ({"kind": "json_format"}, "Format the whole answer as valid JSON."),
    ({"kind": "title"}, "Give your answer a title in double angular brackets, like <<my title>>."),
    ({"kind": "quotation"}, "Wrap your whole answer in double quotation marks."),
    ({"kind": "postscript"}, 'End with a postscript that starts with "P.S."'),
])
def test_instruction_text(c, text):
    assert C.describe(c) == text
    assert C.render_prompt("Explain volcanoes", [c]) == "Explain volcanoes. " + text


def test_render_prompt_keeps_final_punctuation_and_an_empty_task():
    for task in ("Why?", "Go!", "Stop."):
        assert C.render_prompt(task, [{"kind": "no_commas"}]) == f"{task} Do not use any commas."
    assert C.render_prompt("", []) == ""


# --- reading a response -----------------------------------------------------------------------------------

def test_sentences_skip_headings_and_bullet_markers():
    assert C.sentences("Intro.\n# Heading\nA lava flow. Ash falls!") == ["Intro.", "A lava flow.", "Ash falls!"]
    assert C.sentences("- Lava flows.\n2) Ash falls.\n* * *\n<<Title>>") == ["Lava flows.", "Ash falls."]


def test_paragraphs_keep_their_lines():
    assert C.paragraphs("A\nB\n***\n\nC\n") == ["A\nB", "C"]


def test_fenced_json_over_several_lines():
    text = '```json\n{\n  "a": 1,\n  "b": [2, 3]\n}\n```'
    assert C.json_payload(text) == {"a": 1, "b": [2, 3]}
    assert C.check({"kind": "json_format"}, text) == (True, 1.0)


def test_phrase_in_markdown_emphasis_before_the_period():
    assert C.check({"kind": "end_with", "phrase": "That is all."}, "Done. **That is all**.")[0]
    assert C.check({"kind": "start_with", "phrase": "Here is"}, "**Here is**, the plan.")[0]


# --- parameters -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("c,problems", [
    ({"kind": "word_count_max", "n": 5}, []),
    ({"kind": "word_count_max", "n": 2000}, []),
    ({"kind": "word_count_max", "n": 4}, ["n=4 must be an integer in [5, 2000]"]),
    ({"kind": "word_count_max", "n": 2001}, ["n=2001 must be an integer in [5, 2000]"]),
    ({"kind": "word_count_max", "n": True}, ["n=True must be an integer in [5, 2000]"]),
    ({"kind": "word_count_max", "n": 50.0}, ["n=50.0 must be an integer in [5, 2000]"]),
    ({"kind": "keyword_frequency", "n": 0}, ["missing parameter 'word'", "n=0 must be an integer in [1, 20]"]),
    ({"kind": "keyword_frequency", "word": "two words", "n": 2}, ["word='two words' must be one lowercase word"]),
    ({"kind": "keyword_frequency", "word": "rock-solid", "n": 2}, []),
    ({"kind": "lowercase", "n": 3}, ["unknown parameter 'n'"]),
    ({"kind": "word_count_max", "m": 3}, ["missing parameter 'n'", "unknown parameter 'm'"]),
    ({"kind": "start_with", "phrase": "a" * 80}, []),
    ({"kind": "start_with", "phrase": "a" * 81}, [f"phrase={'a' * 81!r} must be a non-empty phrase of at most 80 characters"]),
    ({"kind": "start_with", "phrase": "..."}, ["phrase='...' must be a non-empty phrase of at most 80 characters"]),
    ({"kind": "start_with", "phrase": 5}, ["phrase=5 must be a non-empty phrase of at most 80 characters"]),
    ({"kind": "include_keywords", "words": list("abcde")}, []),
    ({"kind": "include_keywords", "words": list("abcdef")},
     ["words=['a', 'b', 'c', 'd', 'e', 'f'] must be a list of 1-5 lowercase words"]),
    ({"kind": "include_keywords", "words": [1]}, ["words=[1] must be a list of 1-5 lowercase words"]),
    ({"kind": "include_keywords", "words": ["Lava"]}, ["words=['Lava'] must be a list of 1-5 lowercase words"]),
    ({"kind": "include_keywords", "words": "lava"}, ["words='lava' must be a list of 1-5 lowercase words"]),
    ({"kind": "exclude_keywords", "words": ["lava", "lava"]}, ["words=['lava', 'lava'] repeats a word"]),
])
def test_parameter_problems(c, problems):
    assert C.constraint_problems([c]) == [f"constraint #0 ({c['kind']}): {p}" for p in problems]


def test_validate_joins_every_problem():
    assert C.validate_constraints([{"kind": "lowercase"}, {"kind": "nope"}, {"kind": "uppercase"}]) == (
        "constraint #1: unknown kind 'nope'; known kinds: " + ", ".join(C.KIND_NAMES)
        + "; conflict: lowercase vs uppercase (all lowercase and all capitals contradict each other)")
    assert C.constraint_problems([{"kind": "no_commas"}] * 6 + [{"kind": 3}])[:2] == [
        "7 constraints; at most 6 allowed", "constraint #6: unknown kind 3; known kinds: " + ", ".join(C.KIND_NAMES)]
    assert C.constraint_problems(["word_count_max"]) == [
        "constraint #0: a constraint is a dict with a 'kind'; got 'word_count_max'"]


# --- conflicts --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,why", [
    ({"kind": "no_commas"}, {"kind": "no_commas"}, "two no_commas constraints (use one, or harden it)"),
    ({"kind": "postscript"}, {"kind": "end_with", "phrase": "The end."},
     "a postscript and a fixed closing phrase both claim the ending"),
    *[({"kind": "json_format"}, {"kind": k, **C.sample_constraint(k, np.random.default_rng(0))},
       f"a JSON answer cannot also satisfy {k}") for k in
      ("bullet_count", "title", "start_with", "end_with", "quotation", "paragraph_count", "postscript", "no_commas")],
    ({"kind": "exclude_keywords", "words": ["lava", "ash"]}, {"kind": "include_keywords", "words": ["ash", "lava"]},
     "word(s) ['ash', 'lava'] both required and forbidden"),
    ({"kind": "exclude_keywords", "words": ["Rain"]}, {"kind": "keyword_frequency", "word": "rain", "n": 2},
     "word(s) ['rain'] both required and forbidden"),
    ({"kind": "exclude_keywords", "words": ["good"]}, {"kind": "start_with", "phrase": "Good question"},
     "the start_with phrase uses forbidden word(s) ['good']"),
    ({"kind": "exclude_keywords", "words": ["end"]}, {"kind": "end_with", "phrase": "The end."},
     "the end_with phrase uses forbidden word(s) ['end']"),
    ({"kind": "include_keywords", "words": ["rain"]}, {"kind": "keyword_frequency", "word": "rain", "n": 2},
     "the counted word is already required by include_keywords"),
    ({"kind": "no_commas"}, {"kind": "end_with", "phrase": "Well, bye"}, "the end_with phrase contains a comma"),
    ({"kind": "no_commas"}, {"kind": "start_with", "phrase": "Well, yes"}, "the start_with phrase contains a comma"),
    ({"kind": "word_count_min", "n": 50}, {"kind": "word_count_max", "n": 50},
     "word_count_min must be smaller than word_count_max"),
    ({"kind": "word_count_max", "n": 14}, {"kind": "bullet_count", "n": 5},
     "14 words are too few for bullet_count n=5 (needs >= 15)"),
    ({"kind": "word_count_max", "n": 15}, {"kind": "paragraph_count", "n": 2},
     "15 words are too few for paragraph_count n=2 (needs >= 16)"),
    ({"kind": "word_count_max", "n": 8}, {"kind": "keyword_frequency", "word": "rain", "n": 3},
     "8 words are too few for keyword_frequency n=3 (needs >= 9)"),
    ({"kind": "word_count_max", "n": 5}, {"kind": "placeholder_count", "n": 3},
     "5 words are too few for placeholder_count n=3 (needs >= 6)"),
    ({"kind": "sentence_count_max", "n": 2}, {"kind": "bullet_count", "n": 3},
     "at most 2 sentence(s) cannot hold bullet_count n=3"),
    ({"kind": "sentence_count_max", "n": 2}, {"kind": "paragraph_count", "n": 3},
     "at most 2 sentence(s) cannot hold paragraph_count n=3"),
    ({"kind": "sentence_count_max", "n": 1}, {"kind": "postscript"},
     "a postscript needs a sentence of its own besides the answer"),
])
def test_conflict_reasons_in_both_orders(a, b, why):
    assert C.conflict_reason(a, b) == why
    assert C.conflict_reason(b, a) == why
    assert C.conflicts(a, b) and C.conflicts(b, a)


@pytest.mark.parametrize("a,b", [  # each at the limit of a conflict above: allowed
    ({"kind": "word_count_min", "n": 49}, {"kind": "word_count_max", "n": 50}),
    ({"kind": "word_count_max", "n": 15}, {"kind": "bullet_count", "n": 5}),
    ({"kind": "word_count_max", "n": 16}, {"kind": "paragraph_count", "n": 2}),
    ({"kind": "word_count_max", "n": 9}, {"kind": "keyword_frequency", "word": "rain", "n": 3}),
    ({"kind": "word_count_max", "n": 6}, {"kind": "placeholder_count", "n": 3}),
    ({"kind": "sentence_count_max", "n": 3}, {"kind": "bullet_count", "n": 3}),
    ({"kind": "sentence_count_max", "n": 3}, {"kind": "paragraph_count", "n": 3}),
    ({"kind": "sentence_count_max", "n": 2}, {"kind": "postscript"}),
    ({"kind": "exclude_keywords", "words": ["lava"]}, {"kind": "include_keywords", "words": ["ash"]}),
    ({"kind": "exclude_keywords", "words": ["good"]}, {"kind": "start_with", "phrase": "Here is"}),
    ({"kind": "exclude_keywords", "words": ["good"]}, {"kind": "word_count_max", "n": 20}),
    ({"kind": "include_keywords", "words": ["ash"]}, {"kind": "keyword_frequency", "word": "rain", "n": 2}),
    ({"kind": "no_commas"}, {"kind": "end_with", "phrase": "That is all."}),
    ({"kind": "no_commas"}, {"kind": "bullet_count", "n": 2}),
    ({"kind": "sentence_count_max", "n": 1}, {"kind": "word_count_max", "n": 5}),
])
def test_allowed_pairs_at_the_limit(a, b):
    assert C.conflict_reason(a, b) is None and C.conflict_reason(b, a) is None


# --- hardening --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("c,n", [
    ({"kind": "word_count_min", "n": 1}, 2),
    ({"kind": "word_count_min", "n": 800}, 1000),
    ({"kind": "word_count_min", "n": 1000}, None),
    ({"kind": "sentence_count_max", "n": 2}, 1),
    ({"kind": "sentence_count_max", "n": 5}, 4),
    ({"kind": "keyword_frequency", "word": "rain", "n": 9}, 10),
    ({"kind": "keyword_frequency", "word": "rain", "n": 10}, None),
    ({"kind": "bullet_count", "n": 9}, 10),
    ({"kind": "bullet_count", "n": 10}, None),
    ({"kind": "paragraph_count", "n": 7}, 8),
    ({"kind": "paragraph_count", "n": 8}, None),
    ({"kind": "placeholder_count", "n": 7}, 8),
    ({"kind": "placeholder_count", "n": 8}, None),
])
def test_harden_steps_and_caps(c, n):
    before = dict(c)
    assert C.harden_one(c, np.random.default_rng(0)) == (None if n is None else {**c, "n": n})
    assert c == before  # the input is not modified


@pytest.mark.parametrize("kind,pool", [("include_keywords", C.DEFAULT_VOCAB), ("exclude_keywords", C.COMMON_WORDS)])
def test_harden_keywords_adds_exactly_one_new_word_up_to_five(kind, pool):
    for seed in range(20):
        c = {"kind": kind, "words": ["fox"]}
        h = C.harden_one(c, np.random.default_rng(seed), vocab=["Fox", "Snow"])
        assert h["words"][0] == "fox" and len(h["words"]) == 2
        assert h["words"][1] in {"snow", *pool} and c["words"] == ["fox"]
    full = {"kind": kind, "words": ["a", "b", "c", "d", "e"]}
    assert C.harden_one(full, np.random.default_rng(0), vocab=["snow"]) is None
    assert C.harden_one({"kind": kind, "words": list("abcd")}, np.random.default_rng(0))["words"][4] in pool


# --- partial credit of the format kinds -------------------------------------------------------------------

@pytest.mark.parametrize("c,text,partial", [
    ({"kind": "title"}, "\n\n# Ode to lava\nHot rock.", 0.5),
    ({"kind": "title"}, "**Ode to lava**:\nHot rock.", 0.5),
    ({"kind": "title"}, "<Ode to lava>\nHot rock.", 0.5),
    ({"kind": "title"}, "Ode to lava\n# Hot rock.", 0.0),
    ({"kind": "quotation"}, '"Opened only.', 0.5),
    ({"kind": "quotation"}, "Closed only.\u201d", 0.5),
    ({"kind": "quotation"}, 'Closed only."', 0.5),
    ({"kind": "quotation"}, "\u201cOpened only.", 0.5),
    ({"kind": "quotation"}, "Not quoted.", 0.0),
    ({"kind": "json_format"}, 'Here: {"a": 1}', 0.5),
    ({"kind": "json_format"}, '{"a": 1} and more', 0.5),
    ({"kind": "json_format"}, 'It is {"a": {"b": 1}}.', 0.5),  # nested: from the first { to the last }
    ({"kind": "json_format"}, 'Here: {"a": }', 0.2),
    ({"kind": "json_format"}, "no braces } here {", 0.0),
    ({"kind": "postscript"}, "Hi Sam. P.S. inline.", 0.5),
    ({"kind": "postscript"}, "Hi Sam. p. s later", 0.5),
    ({"kind": "postscript"}, "Hi Sam. Bye.", 0.0),
    ({"kind": "end_with", "phrase": "That is all."}, "It is all", 2 / 3),
    ({"kind": "end_with", "phrase": "That is all."}, "That is all folks", 0.5),
    ({"kind": "end_with", "phrase": "Stay curious!"}, "Be curious", 0.5),
    ({"kind": "end_with", "phrase": "Stay curious!"}, "Nothing alike", 0.0),
    ({"kind": "start_with", "phrase": "Here is"}, "So here is the plan.", 0.5),
    ({"kind": "start_with", "phrase": "Let me explain"}, "Let us go", 1 / 3),
    ({"kind": "start_with", "phrase": "Let me explain"}, "Nothing alike", 0.0),
    ({"kind": "start_with", "phrase": "Let me explain"}, "Let me", 2 / 3),  # a prefix of the phrase
    ({"kind": "end_with", "phrase": "Stay curious!"}, "curious", 0.5),  # an end of the phrase
    ({"kind": "no_commas"}, "a\uff0c b, c", 1 / 3),
    ({"kind": "uppercase"}, "AB1c", 2 / 3),
    ({"kind": "lowercase"}, "ab1C", 2 / 3),
    ({"kind": "exclude_keywords", "words": ["lava", "ash", "rock"]}, "lava lava", 2 / 3),
    ({"kind": "include_keywords", "words": ["lava", "ash", "rock"]}, "lava lava", 1 / 3),
])
def test_partial_credit_of_an_unsatisfied_response(c, text, partial):
    ok, p = C.check(c, text)
    assert not ok and p == pytest.approx(partial)


@pytest.mark.parametrize("c,text,ok", [
    ({"kind": "postscript"}, "Hi Sam.\nP.S.\nBring snacks.", True),  # the postscript's text on the next line
    ({"kind": "postscript"}, "Hi Sam.\nP.S.", False),  # nothing after it
    ({"kind": "postscript"}, "P.S. first.\nHi Sam.", False),  # not at the end of an answer
    ({"kind": "quotation"}, '"a"', True),
    ({"kind": "quotation"}, '"a', False),
    ({"kind": "quotation"}, 'X marks the spot"', False),
    ({"kind": "quotation"}, '"Tic tac X', False),
    ({"kind": "no_commas"}, "one\uff0ctwo", False),
    ({"kind": "start_with", "phrase": "Here is"}, "Here isn't it.", False),
    ({"kind": "end_with", "phrase": "That is all."}, "Done. That is tall.", False),
    ({"kind": "end_with", "phrase": "That is all."}, "That is all.", True),
    ({"kind": "end_with", "phrase": "The end."}, "Go to bathe end.", False),  # the phrase must start a word
    ({"kind": "end_with", "phrase": "The end."}, "It is athe end.", False),
    ({"kind": "end_with", "phrase": "The end."}, "Bathe end.", False),
    ({"kind": "end_with", "phrase": "The end."}, "It is over. The end.", True),
])
def test_format_checks_at_the_edges(c, text, ok):
    assert C.check(c, text)[0] is ok


def test_a_kind_without_closeness_gives_no_partial_credit():
    class Plain(C.ConstraintKind):
        name = "plain"

    assert Plain().partial("text", {"kind": "plain"}) == 0.0


# --- the parameter distribution of sampled constraints ----------------------------------------------------

SUPPORT = {
    "word_count_max": {15, 20, 25, 30, 40, 50, 60}, "word_count_min": {20, 30, 40, 60, 80, 100},
    "sentence_count_max": {1, 2, 3, 4, 5}, "keyword_frequency": {2, 3, 4}, "bullet_count": {2, 3, 4, 5},
    "paragraph_count": {2, 3, 4}, "placeholder_count": {1, 2, 3},
}


@pytest.mark.parametrize("kind", sorted(SUPPORT))
def test_sampled_counts_cover_exactly_their_range(kind):
    """The task mix of a run: a change to these ranges changes every run's prompts, so it is pinned here."""
    got = {C.sample_constraint(kind, np.random.default_rng(s))["n"] for s in range(300)}
    assert got == SUPPORT[kind]


def test_sampled_phrases_and_keyword_lists():
    rng = np.random.default_rng(0)
    assert {C.sample_constraint("start_with", rng)["phrase"] for _ in range(300)} == set(C.START_PHRASES)
    assert {C.sample_constraint("end_with", rng)["phrase"] for _ in range(300)} == set(C.END_PHRASES)
    vocab = ["lava", "ash", "rock", "magma"]
    inc = [C.sample_constraint("include_keywords", rng, vocab=vocab)["words"] for _ in range(600)]
    assert {len(w) for w in inc} == {1, 2} and 0.58 < np.mean([len(w) == 1 for w in inc]) < 0.75  # 2 in 3: one word
    assert set().union(*inc) == set(vocab)
    exc = [C.sample_constraint("exclude_keywords", rng, vocab=vocab)["words"] for _ in range(600)]
    assert {len(w) for w in exc} == {1, 2} and 0.58 < np.mean([len(w) == 1 for w in exc]) < 0.75
    from_vocab = np.mean([set(w) <= set(vocab) for w in exc])  # half from the topic, half common filler words
    assert 0.4 < from_vocab < 0.6 and set().union(*exc) == set(vocab) | set(C.COMMON_WORDS)
    assert all(set(C.sample_constraint("exclude_keywords", rng)["words"]) <= set(C.COMMON_WORDS) for _ in range(50))
    kf = [C.sample_constraint("keyword_frequency", rng, vocab=vocab)["word"] for _ in range(100)]
    assert set(kf) == set(vocab)
    assert {C.sample_constraint("keyword_frequency", rng)["word"] for _ in range(300)} == set(C.DEFAULT_VOCAB)


# --- the list-level functions -----------------------------------------------------------------------------

def test_list_problems_name_each_constraint():
    assert C.constraint_problems("lowercase") == ["constraints must be a list; got str"]
    assert C.constraint_problems([{"n": 3}]) == ["constraint #0: a constraint is a dict with a 'kind'; got {'n': 3}"]
    assert C.constraint_problems([{"kind": "nope"}, {"kind": "word_count_max", "n": 1}]) == [
        "constraint #0: unknown kind 'nope'; known kinds: " + ", ".join(C.KIND_NAMES),
        "constraint #1 (word_count_max): n=1 must be an integer in [5, 2000]"]
    six = [{"kind": k} for k in ("no_commas", "title", "quotation", "postscript", "lowercase")] + [
        {"kind": "word_count_min", "n": 10}]
    assert C.constraint_problems(six) == []  # MAX_CONSTRAINTS is allowed


def test_task_vocab_keeps_content_words_of_four_letters_or_more():
    assert C.task_vocab("Explain why lava and hot ash flow, then lava cools") == ["lava", "flow", "cools"]


def test_render_prompt_adds_a_period_after_any_other_last_character():
    assert C.render_prompt("Draw an X", []) == "Draw an X."
    assert C.render_prompt("List 3", []) == "List 3."


def _keywords(cs):
    return [w for c in cs for w in c.get("words", [])]


def test_hardening_and_adding_are_seeded_and_use_the_given_words():
    base = [{"kind": "include_keywords", "words": ["water"]}]
    for seed in range(5):
        assert C.harden(base, np.random.default_rng(seed)) == C.harden(base, np.random.default_rng(seed))
        assert C.harden_one(base[0], np.random.default_rng(seed)) == C.harden_one(base[0], np.random.default_rng(seed))
        assert C.add_constraint([], np.random.default_rng(seed)) == C.add_constraint([], np.random.default_rng(seed))
    added = {_keywords(C.harden(base, np.random.default_rng(s)))[1] for s in range(150)}
    assert set(C.DEFAULT_VOCAB) - {"water"} == added  # no task, no vocab: the default words
    with_vocab = {_keywords(C.harden(base, np.random.default_rng(s), vocab=["fox"]))[1] for s in range(150)}
    assert "fox" in with_vocab and with_vocab <= {"fox", *C.DEFAULT_VOCAB}
    for s in range(20):
        kw = ["include_keywords"]
        assert set(_keywords(C.add_constraint([], np.random.default_rng(s), kinds=kw))) <= set(C.DEFAULT_VOCAB)
        assert _keywords(C.add_constraint([], np.random.default_rng(s), kinds=kw, task="Explain photosynthesis")) == [
            "photosynthesis"]
        assert _keywords(C.add_constraint([], np.random.default_rng(s), kinds=kw, vocab=["Lava"])) == ["lava"]


def test_add_constraint_tries_four_samples_of_a_kind_by_default():
    cs = [{"kind": "word_count_max", "n": 10}]  # holds 2 or 3 bullets, not the 4 or 5 that are sampled half the time
    outcomes = []
    for seed in range(60):
        got = C.add_constraint(cs, np.random.default_rng(seed), kinds=["bullet_count"])
        assert got == C.add_constraint(cs, np.random.default_rng(seed), kinds=["bullet_count"], tries=4)
        outcomes.append(got is None)
    assert 0 < sum(outcomes) < 20  # sometimes four draws in a row do not fit (1 in 16)


def test_harden_one_takes_a_seed_or_none():
    c = {"kind": "include_keywords", "words": ["water"]}
    assert C.harden_one(c, 3) == C.harden_one(c, 3) == C.harden_one(c, np.random.default_rng(3))
    assert len(C.harden_one(c)["words"]) == 2  # rng=None: fresh entropy, still one word more
