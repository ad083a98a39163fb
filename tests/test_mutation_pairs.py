"""Preference pairs: the exact edges that mutation testing (scripts/mutation.sh) found unpinned: the tol
boundary, rewards past a prompt's responses, missing (None) rewards, and the messages that name the input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalab.pairs import build_pairs, check_pairs_frame, select_pair
from evalab.prompts import Prompt


def _prompts(n: int) -> list[Prompt]:
    return [Prompt(id=f"p{i}", text=f"Question {i}?") for i in range(n)]


def test_a_gap_of_exactly_tol_is_no_pair():
    assert select_pair(np.array([0.0, 0.5]), 2, tol=0.5) == "all_equal"  # max - min <= tol
    assert select_pair(np.array([0.0, 0.5]), 2, tol=0.4999) == (1, 0)


def test_tol_zero_pairs_any_difference():
    df, stats = build_pairs(_prompts(2), [["a", "b"], ["c", "d"]], np.array([[0.5, 0.5], [0.5, 0.5 + 1e-12]]), tol=0.0)
    assert stats == {"n_pairs": 1, "n_all_equal": 1, "n_missing": 0}
    assert df[["chosen", "rejected"]].values.tolist() == [["d", "c"]]


def test_select_pair_ignores_rewards_past_the_responses():
    assert select_pair(np.array([0.0, 1.0, 5.0, -5.0]), 2) == (1, 0)
    assert select_pair(np.array([0.0, 1.0, 5.0]), 1) == "missing"


def test_a_none_reward_is_unscored():
    df, stats = build_pairs(_prompts(2), [["a", "b", "c"], ["x"]], [[0.5, None, 0.1], 0.7])
    assert stats == {"n_pairs": 1, "n_all_equal": 0, "n_missing": 1}  # the second prompt: one reward (a number)
    assert df[["chosen", "rejected", "chosen_reward", "rejected_reward"]].values.tolist() == [["a", "c", 0.5, 0.1]]


@pytest.mark.parametrize("rewards,shape", [(np.zeros(6), r"\(6,\)"), (np.zeros((2, 3, 1)), r"\(2, 3, 1\)")])
def test_a_reward_array_that_is_not_2d_is_named(rewards, shape):
    with pytest.raises(ValueError, match=rf"^rewards: expected a \(P, N\) array, got shape {shape}$"):
        build_pairs(_prompts(2), [["a", "b", "c"]] * 2, rewards)


def test_pairs_frame_messages():
    with pytest.raises(ValueError, match=r"^pairs: no rows \(every prompt had equal or missing rewards\?\)$"):
        check_pairs_frame(pd.DataFrame(columns=["prompt", "chosen", "rejected"]))
    with pytest.raises(ValueError, match=r"^tol=-0\.1: must be >= 0$"):
        build_pairs(_prompts(1), [["a", "b"]], np.zeros((1, 2)), tol=-0.1)
