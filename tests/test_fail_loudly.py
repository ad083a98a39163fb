"""Fail loudly (issue 14): a scoring stage whose missing-reward share exceeds ``max_missing_reward`` stops with one
line naming the reward and its first error, and the store stays resumable; an online step does the same unless
``on_missing_reward="skip"``; a judge evaluation with too many invalid verdicts is stored as invalid.

The failing judge is the project's fake OpenAI-compatible server with a failure rate (no model, seconds)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from evalab.config import profile_config
from evalab.loop import EvaRun
from evalab.rewards import LLMJudgeReward, MissingRewardError, check_missing_rewards
from evalab.testing_server import FakeChatServer
from tests.test_loop import TableBackend


def judge_reward(srv: FakeChatServer) -> LLMJudgeReward:
    return LLMJudgeReward("openai/fake-judge", max_workers=4, max_tokens=8,
                          completion_kwargs={"api_base": srv.api_base, "api_key": "sk-fake", "num_retries": 0})


def score_seven(request: dict) -> str:
    return "Score: 7"


def test_failing_judge_stops_the_scoring_stage_with_one_line_and_the_store_resumes(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"), n_prompts=4)
    with FakeChatServer(failure_rate=0.5, failure_kinds=("400",), responses=score_seven, seed=1) as srv:
        run = EvaRun(cfg, backend_factory=TableBackend, reward=judge_reward(srv), progress=False)
        with pytest.raises(MissingRewardError) as err:
            run.run_stage(0, "responses")
    msg = str(err.value)
    assert "\n" not in msg
    assert "reward 'judge:openai/fake-judge'" in msg and "max_missing_reward=0.05" in msg
    assert "first error: BadRequestError" in msg and "injected failure 400" in msg
    assert not run.store.has(0, "responses") and run.store.has(0, "prompts")  # nothing half-written
    # after the fix (a healthy judge) the same run directory continues
    with FakeChatServer(responses=score_seven) as srv:
        run2 = EvaRun(cfg, backend_factory=TableBackend, reward=judge_reward(srv), progress=False)
        run2.run_stage(0, "responses")
    df = run2.store.read_table(0, "responses")
    assert len(df) == 4 * cfg.n_responses and np.allclose(df.reward, 6 / 9)


def test_missing_share_threshold_and_skip(tmp_path):
    class Half:
        name = "half"
        first_error = "ValueError: boom\nsecond line"

    r = np.array([[0.1, np.nan], [0.2, 0.3]])
    assert check_missing_rewards(Half(), r, 0.25) == 0.25  # at the threshold: goes on
    with pytest.raises(MissingRewardError, match=r"^reward 'half' left 1 of 4 .* first error: ValueError: boom "
                                                 r"second line$"):
        check_missing_rewards(Half(), r, 0.2)
    with pytest.raises(ValueError, match=r"EvaConfig.max_missing_reward=1.5: must be a share"):
        profile_config("ci", max_missing_reward=1.5)
    with pytest.raises(ValueError, match=r"EvaConfig.on_missing_reward='drop'"):
        profile_config("ci", on_missing_reward="drop")


def test_online_step_over_the_threshold_stops_unless_skip():
    from evalab.online import EvaPromptPool, make_trl_reward
    from evalab.prompts import Prompt

    pool = EvaPromptPool([Prompt(id="a", text="A?"), Prompt(id="b", text="B?")])
    ids = ["a", "a", "b", "b"]
    with FakeChatServer(failure_rate=0.6, failure_kinds=("400",), responses=score_seven, seed=2) as srv:
        stop = make_trl_reward(judge_reward(srv), pool, num_generations=2, max_missing_reward=0.05)
        with pytest.raises(MissingRewardError, match=r"judge:openai/fake-judge.* at step 1 .*BadRequestError"):
            stop(prompts=["p"] * 4, completions=["x", "y", "z", "w"], prompt_id=ids,
                 trainer_state=SimpleNamespace(global_step=0))
        skip = make_trl_reward(judge_reward(srv), pool, num_generations=2, max_missing_reward=0.05,
                               on_missing_reward="skip")
        logged: dict[str, float] = {}
        out = skip(prompts=["p"] * 4, completions=["x", "y", "z", "w"], prompt_id=ids,
                   trainer_state=SimpleNamespace(global_step=0), log_metric=logged.__setitem__)
    assert np.isnan(out).any() and skip.n_skipped == 1
    assert logged["missing_reward_skipped"] == 1.0
