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


# --------------------------------------------------------------------------------------------------
# open prompts, a fixed reference, length control, invalid judge evaluations (issue 10 #8, issue 14)
# --------------------------------------------------------------------------------------------------

import json  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402

from evalab.evaluation import (  # noqa: E402
    evaluate_solver,
    judge_summary,
    length_controlled_winrate,
)
from evalab.testing_server import FakeChatServer  # noqa: E402

OPEN = [Prompt(id=f"o{i}", text=f"Tell me about topic {i}.") for i in range(6)]


class EchoBackend:
    def __init__(self, answers):
        self.answers = answers

    def generate(self, prompts, n=1, **kw):
        return [[self.answers[i % len(self.answers)]] * n for i in range(len(prompts))]


def test_evaluate_solver_on_open_prompts_keeps_answers_instead_of_raising():
    report, df = evaluate_solver(EchoBackend(["a", "bb"]), OPEN[:3], progress=False)
    assert report["n"] == 0 and report["n_unscorable"] == 3 and np.isnan(report["full_rate"])
    assert df.response.tolist() == ["a", "bb", "a"] and df.full.isna().all() and df.frac.isna().all()


def longer_wins(request: dict) -> str:
    """Fake judge: prefers the longer answer (a pure length bias)."""
    text = request["messages"][-1]["content"]
    a = re.search(r"\[Answer A\]\n(.*?)\n\n\[Answer B\]", text, re.S).group(1)
    b = re.search(r"\[Answer B\]\n(.*?)\n\nReply", text, re.S).group(1)
    return "Verdict: A" if len(a) > len(b) else "Verdict: B" if len(b) > len(a) else "Verdict: tie"


def test_length_controlled_winrate():
    # preference unrelated to length: LC ≈ raw win rate
    rng = np.random.default_rng(0)
    d = rng.normal(0, 50, 400)
    y = (rng.random(400) < 0.7).astype(float)
    lc, slope = length_controlled_winrate(y, d)
    assert abs(lc - y.mean()) < 0.03 and abs(slope) < 0.5
    # a judge that mostly prefers the longer answer, candidate longer in 75% of pairs: raw 0.7, LC near 0.5
    d = np.where(rng.random(400) < 0.75, 40.0, -40.0) + rng.normal(0, 5, 400)
    y = ((d > 0) ^ (rng.random(400) < 0.1)).astype(float)
    lc, slope = length_controlled_winrate(y, d)
    assert y.mean() > 0.65 and abs(lc - 0.5) < 0.08 and slope > 1
    assert np.isnan(length_controlled_winrate([np.nan], [1.0])[0])


def test_judge_vs_reference_through_fake_server_valid_and_invalid():
    cand = ["a long and detailed answer", "short", "another long detailed answer", "ok"]
    ref = ["medium answer", "medium answer", "medium answer", "medium answer"]
    with FakeChatServer(responses=longer_wins) as srv:
        r = judge_winrate("openai/fake-judge", OPEN[:4], cand, ref, api_base=srv.api_base, api_key="sk-fake")
    assert r["valid"] and r["n_verdicts"] == 8 and r["n_invalid"] == 0
    assert r["winrate"] == 0.5 and 0 <= r["lc_winrate"] <= 1  # wins exactly where it is longer, both orders
    with FakeChatServer(responses=longer_wins, failure_rate=0.6, failure_kinds=("400",), seed=0) as srv:
        bad = judge_winrate("openai/fake-judge", OPEN[:4], cand, ref, api_base=srv.api_base, api_key="sk-fake",
                            num_retries=0)
    assert not bad["valid"] and np.isnan(bad["winrate"]) and bad["n_verdicts"] > 0  # some verdicts came back
    assert "max_invalid_verdicts=0.2" in bad["invalid_reason"] and "BadRequestError" in bad["invalid_reason"]
    assert judge_summary({"reference": bad})["ref_status"].startswith("invalid: ")
    assert np.isnan(judge_summary({"reference": bad})["ref_winrate"])


def _open_run(tmp_path, name, srv, reference, monkeypatch, seed=42):
    from evalab.config import profile_config
    from evalab.loop import EvaRun
    from tests.test_loop import TableBackend

    tmp_path.mkdir(parents=True, exist_ok=True)
    eval_set = tmp_path / "open.jsonl"
    eval_set.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in OPEN))
    monkeypatch.setenv("OPENAI_API_BASE", srv.api_base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    cfg = profile_config("ci", run_dir=str(tmp_path / name / f"seed{seed}"), eval_set=str(eval_set), n_eval=0,
                         judge="openai/fake-judge", eval_reference=str(reference), seed=seed)
    run = EvaRun(cfg, backend_factory=TableBackend, progress=False)
    run.run_stage(0, "eval")
    return run


def test_open_prompt_run_judged_against_a_stored_reference_and_invalid_in_summary_and_compare(tmp_path, monkeypatch):
    from evalab.ablation import compare_arms, load_ablation

    reference = tmp_path / "ref.jsonl"
    reference.write_text("".join(json.dumps({"prompt_id": p.id, "response": "a medium reference answer"}) + "\n"
                                 for p in OPEN))
    with FakeChatServer(responses=longer_wins) as srv:
        good = _open_run(tmp_path / "abl", "good", srv, reference, monkeypatch)
    reference.write_text("changed later")  # the run keeps the answers it was judged against
    stored = json.loads(json.dumps(good.store.read_json(0, "eval")["reference"]))
    assert stored["valid"] and stored["n_verdicts"] == 12 and 0 <= stored["winrate"] <= 1
    assert (good.store.root / "eval_reference.parquet").exists()
    s = good.summary()
    assert s.ref_status.tolist() == ["ok"] and s.ref_winrate.iloc[0] == stored["winrate"]
    with FakeChatServer(responses=longer_wins, failure_rate=0.7, failure_kinds=("400",), seed=1) as srv:
        bad_ref = tmp_path / "ref2.jsonl"
        bad_ref.write_text("".join(json.dumps({"prompt_id": p.id, "response": "x"}) + "\n" for p in OPEN))
        bad = _open_run(tmp_path / "abl", "bad", srv, bad_ref, monkeypatch)
    s = bad.summary()
    assert np.isnan(s.ref_winrate.iloc[0]) and s.ref_status.iloc[0].startswith("invalid: ")
    arms = compare_arms(load_ablation(tmp_path / "abl"), n_boot=10).set_index("arm")
    assert arms.loc["good", "ref_status"] == "ok" and arms.loc["good", "ref_winrate"] == stored["winrate"]
    assert arms.loc["bad", "ref_status"].startswith("invalid: seed 42:") and np.isnan(arms.loc["bad", "ref_winrate"])


@pytest.mark.slow
def test_local_embedded_judge_against_reference_answers():
    # the embedded model behind litellm's local 'evalab/' provider judges (no network, no key); a 135M judge
    # often answers without a verdict: either way every verdict is accounted for, and an evaluation with no
    # valid verdict is invalid with the judge's answer as the reason, never a win rate
    from evalab.evaluation import judge_verdicts, summarize_verdicts

    v = judge_verdicts("evalab/smollm2-135m", OPEN[:2], ["Topic 0 is about cats.", "Topic 1 is the sea."],
                       ["No idea.", "Topic 1 is about the sea at night, dark and calm."], max_tokens=8)
    assert len(v) == 4 and v.order.tolist() == ["cb", "bc", "cb", "bc"]
    assert (v.score.isna() == v.error.notna()).all()
    r = summarize_verdicts(v, "evalab/smollm2-135m", max_invalid=1.0)
    assert r["n_verdicts"] + r["n_invalid"] == 4
    assert r["valid"] == (r["n_verdicts"] > 0)
    assert (0 <= r["winrate"] <= 1) if r["valid"] else ("unparsable verdict" in r["invalid_reason"])
