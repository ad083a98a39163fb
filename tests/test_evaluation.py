"""Held-out scoring and the judge verdict parser (the judge itself runs through litellm's mock)."""

import pytest

from evalab.evaluation import judge_winrate, parse_verdict, score_constraint_responses
from evalab.prompts import Prompt

P = [Prompt(id="a", text="Hi. Use all lowercase letters.", constraints=[{"kind": "lowercase"}]),
     Prompt(id="b", text="Hi. Do not use any commas.", constraints=[{"kind": "no_commas"}]),
     Prompt(id="c", text="Tell me anything.")]


def test_rates_by_hand_and_unscorable_prompts_left_out():
    report, df = score_constraint_responses(P, ["all lowercase here", "Yes, a comma", "whatever"])
    assert report["n"] == 2 and report["n_unscorable"] == 1
    assert report["full_rate"] == 0.5 and report["constraint_rate"] == 0.5
    assert report["per_kind"] == {"lowercase": 1.0, "no_commas": 0.0}
    assert df.prompt_id.tolist() == ["a", "b"]


def test_errors():
    with pytest.raises(ValueError, match="3 prompts but 2 responses"):
        score_constraint_responses(P, ["x", "y"])
    with pytest.raises(ValueError, match="no evaluation prompt has constraints"):
        score_constraint_responses(P[2:], ["x"])


@pytest.mark.parametrize("text,v", [("Verdict: A", "A"), ("verdict: **b**", "B"), ("Verdict: tie.", "tie"),
                                    ("I like A", None), ("", None)])
def test_parse_verdict(text, v):
    assert parse_verdict(text) == v


def test_judge_winrate_counts_both_orders():
    # the mock judge always says "A": the candidate wins when shown first, loses when shown second
    r = judge_winrate("openai/mock-judge", P[:2], ["x", "y"], ["u", "v"], mock_response="Verdict: A")
    assert r["n_verdicts"] == 4 and r["winrate"] == 0.5 and r["n_invalid"] == 0
    bad = judge_winrate("openai/mock-judge", P[:1], ["x"], ["u"], mock_response="no idea")
    assert bad["n_invalid"] == 2 and bad["winrate"] != bad["winrate"]  # NaN
