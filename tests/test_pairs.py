"""build_pairs: best-vs-worst selection, ties, all-equal, NaN and ragged rows; TRL conversational rows.

    python -m pytest tests/test_pairs.py -q
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalab.pairs import PAIR_COLUMNS, build_pairs, check_pairs_frame, select_pair, to_conversational
from evalab.prompts import Prompt


def _prompts(n: int) -> list[Prompt]:
    return [Prompt(id=f"p{i}", text=f"Question {i}?") for i in range(n)]


def _responses(n_prompts: int, n: int) -> list[list[str]]:
    return [[f"p{i}-r{j}" for j in range(n)] for i in range(n_prompts)]


def test_best_and_worst_are_chosen_and_rejected() -> None:
    rewards = np.array([[0.2, 0.9, 0.1, 0.5],
                        [1.0, 0.0, 0.3, 0.7]])
    df, stats = build_pairs(_prompts(2), _responses(2, 4), rewards)
    assert list(df.columns) == list(PAIR_COLUMNS)
    assert stats == {"n_pairs": 2, "n_all_equal": 0, "n_missing": 0}
    assert df.loc[0, ["chosen", "rejected"]].tolist() == ["p0-r1", "p0-r2"]
    assert df.loc[1, ["chosen", "rejected"]].tolist() == ["p1-r0", "p1-r1"]
    assert df.loc[0, "prompt"] == "Question 0?" and df.loc[1, "prompt_id"] == "p1"
    assert df.loc[0, "chosen_reward"] == pytest.approx(0.9) and df.loc[0, "rejected_reward"] == pytest.approx(0.1)


def test_ties_break_on_first_index() -> None:
    rewards = np.array([[0.0, 1.0, 1.0, 0.0, 0.5]])
    df, _ = build_pairs(_prompts(1), _responses(1, 5), rewards)
    assert df.loc[0, "chosen"] == "p0-r1"  # first of the two maxima
    assert df.loc[0, "rejected"] == "p0-r0"  # first of the two minima


def test_all_equal_rows_are_skipped_within_tol() -> None:
    rewards = np.array([[0.5, 0.5, 0.5],
                        [0.5, 0.5 + 1e-12, 0.5],   # below the default tol: no pair
                        [0.0, 1.0, 0.5]])
    df, stats = build_pairs(_prompts(3), _responses(3, 3), rewards)
    assert stats == {"n_pairs": 1, "n_all_equal": 2, "n_missing": 0}
    assert df["prompt_id"].tolist() == ["p2"]
    # a larger tol also skips a small real gap
    _, stats = build_pairs(_prompts(3), _responses(3, 3), rewards, tol=2.0)
    assert stats["n_all_equal"] == 3 and stats["n_pairs"] == 0


def test_nan_rewards_are_ignored_and_counted() -> None:
    nan = np.nan
    rewards = np.array([[nan, 0.2, nan, 0.8],    # two valid: pair (3, 1)
                        [nan, nan, 0.4, nan],    # one valid: missing
                        [nan, nan, nan, nan],    # none: missing
                        [0.3, nan, 0.3, nan]])   # two valid but equal: all_equal
    df, stats = build_pairs(_prompts(4), _responses(4, 4), rewards)
    assert stats == {"n_pairs": 1, "n_all_equal": 1, "n_missing": 2}
    assert df.loc[0, ["chosen", "rejected"]].tolist() == ["p0-r3", "p0-r1"]
    assert np.isfinite(df[["chosen_reward", "rejected_reward"]].to_numpy()).all()


def test_ragged_responses_and_rewards() -> None:
    responses = [["a0", "a1"], ["b0", "b1", "b2"], ["c0"]]
    # padded (P, N) rewards: entries past a row's responses must not be used even if finite
    rewards = np.array([[0.1, 0.2, 9.0],
                        [0.5, 0.0, 1.0],
                        [0.3, 5.0, 5.0]])
    df, stats = build_pairs(_prompts(3), responses, rewards)
    assert stats == {"n_pairs": 2, "n_all_equal": 0, "n_missing": 1}
    assert df.loc[0, ["chosen", "rejected"]].tolist() == ["a1", "a0"]
    assert df.loc[1, ["chosen", "rejected"]].tolist() == ["b2", "b1"]
    # ragged reward lists work too
    df2, stats2 = build_pairs(_prompts(3), responses, [[0.1, 0.2], [0.5, 0.0, 1.0], [0.3]])
    assert stats2 == stats and df2.equals(df)


def test_non_string_response_counts_as_unscored() -> None:
    df, stats = build_pairs(_prompts(1), [["ok", None, "bad"]], np.array([[0.5, 1.0, 0.0]]))  # type: ignore[list-item]
    assert df.loc[0, ["chosen", "rejected"]].tolist() == ["ok", "bad"]


def test_never_a_pair_of_equal_rewards_random() -> None:
    rng = np.random.default_rng(0)
    rewards = rng.integers(0, 3, size=(200, 4)).astype(float) / 2
    rewards[rng.random(rewards.shape) < 0.2] = np.nan
    df, stats = build_pairs(_prompts(200), _responses(200, 4), rewards)
    assert (df["chosen_reward"] > df["rejected_reward"]).all()
    assert stats["n_pairs"] + stats["n_all_equal"] + stats["n_missing"] == 200
    for _, row in df.iterrows():  # chosen/rejected are really the row's max/min
        i = int(row["prompt_id"][1:])
        assert row["chosen_reward"] == np.nanmax(rewards[i]) and row["rejected_reward"] == np.nanmin(rewards[i])


def test_select_pair_reasons() -> None:
    assert select_pair(np.array([1.0]), 1) == "missing"
    assert select_pair(np.array([1.0, 1.0]), 2) == "all_equal"
    assert select_pair(np.array([0.0, 1.0]), 2) == (1, 0)


def test_shape_errors_name_the_input() -> None:
    with pytest.raises(ValueError, match="responses"):
        build_pairs(_prompts(2), _responses(1, 3), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="rewards"):
        build_pairs(_prompts(2), _responses(2, 3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="rewards"):
        build_pairs(_prompts(2), _responses(2, 3), np.zeros(6))
    with pytest.raises(ValueError, match="tol"):
        build_pairs(_prompts(2), _responses(2, 3), np.zeros((2, 3)), tol=-1)
    with pytest.raises(ValueError, match="one string"):
        build_pairs(_prompts(1), ["abc"], np.zeros((1, 3)))  # type: ignore[list-item]


def test_empty_input_gives_empty_frame_with_columns() -> None:
    df, stats = build_pairs([], [], np.zeros((0, 4)))
    assert len(df) == 0 and list(df.columns) == list(PAIR_COLUMNS)
    assert stats == {"n_pairs": 0, "n_all_equal": 0, "n_missing": 0}


def test_conversational_rows_match_trl_format() -> None:
    from trl.data_utils import is_conversational

    df, _ = build_pairs(_prompts(2), _responses(2, 2), np.array([[0.0, 1.0], [1.0, 0.0]]))
    rows = to_conversational(df)
    assert rows[0] == {"prompt": [{"role": "user", "content": "Question 0?"}],
                       "chosen": [{"role": "assistant", "content": "p0-r1"}],
                       "rejected": [{"role": "assistant", "content": "p0-r0"}]}
    assert all(is_conversational(r) for r in rows)


def test_pairs_frame_roundtrips_through_parquet(tmp_path) -> None:
    df, _ = build_pairs(_prompts(3), _responses(3, 3), np.array([[0, 1, 2], [2, 1, 0], [1, 1, 1]], dtype=float))
    df.to_parquet(tmp_path / "pairs.parquet")
    back = pd.read_parquet(tmp_path / "pairs.parquet")
    pd.testing.assert_frame_equal(back, df)


def test_check_pairs_frame_errors() -> None:
    with pytest.raises(ValueError, match="missing column"):
        check_pairs_frame(pd.DataFrame({"prompt": ["a"], "chosen": ["b"]}))
    with pytest.raises(ValueError, match="no rows"):
        check_pairs_frame(pd.DataFrame(columns=list(PAIR_COLUMNS)))
    with pytest.raises(ValueError, match=r"pairs\.chosen: row 0"):
        check_pairs_frame(pd.DataFrame({"prompt": ["a"], "chosen": [None], "rejected": ["c"]}))
