"""Informativeness weights: the exact edges that mutation testing (scripts/mutation.sh) found unpinned.

Each test states a behaviour a caller relies on: shapes of empty and ragged inputs, which rewards count as
already on [0, 1], the error messages that name the prompt and the metric, and the whole-set normalisation of
inv_avg on large sets.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from evalab.informativeness import (
    _CHUNK,
    all_metrics,
    as_reward_matrix,
    informativeness,
    reward_stats,
    sampling_weights,
    unit_rewards,
    weights_from_values,
)

R = np.array([[0.2, 0.9, 0.5], [1.0, 1.0, 1.0], [0.0, 0.4, 0.4], [0.3, 0.1, 0.2]])
IDS = ["a", "b", "c", "d"]


# --- as_reward_matrix: shapes and messages ---------------------------------------------------------------

def test_empty_and_missing_rows_keep_their_shape():
    assert as_reward_matrix([]).shape == (0, 0)
    assert as_reward_matrix([None, []]).shape == (2, 0)  # a prompt with no rewards (None) is an empty row
    m = as_reward_matrix([None, [0.1, 0.2]])
    assert m.shape == (2, 2) and np.isnan(m[0]).all()
    np.testing.assert_array_equal(as_reward_matrix([0.5, [0.1, 0.2]]), [[0.5, np.nan], [0.1, 0.2]])  # a bare number
    np.testing.assert_array_equal(as_reward_matrix([[None, 0.5]]), [[np.nan, 0.5]])  # None = missing


def test_matrix_errors_name_the_prompt_and_the_counts():
    with pytest.raises(ValueError, match=r"^rewards for prompt #1 \(id='b'\) must be 1-D; got shape \(2, 1\)$"):
        as_reward_matrix([[0.1, 0.2], [[0.1], [0.2]]], ["a", "b"])
    with pytest.raises(ValueError, match=r"^got 2 prompt ids for 3 reward rows$"):
        as_reward_matrix(np.zeros((3, 2)), ["a", "b"])


# --- unit_rewards: which sets are already on [0, 1] ------------------------------------------------------

@pytest.mark.parametrize("r", [[[0.2, 0.4], [0.3, 0.3]],   # inside, not touching either end
                               [[0.0, 0.5], [0.25, 0.25]],  # touching 0
                               [[0.5, 1.0], [0.75, 0.75]]])  # touching 1
def test_rewards_on_the_unit_interval_are_used_as_they_are(r):
    r = np.array(r)
    np.testing.assert_array_equal(unit_rewards(r), r)
    np.testing.assert_allclose(sampling_weights(r, "avg"), r.mean(axis=1))
    np.testing.assert_allclose(informativeness(r, "inv_avg"), 1 / (r.mean(axis=1) + 1e-3))


def test_rewards_beyond_one_are_rescaled():
    r = np.array([[1.0, 2.0], [1.5, 1.5]])  # judge-like scores in [1, 2]
    np.testing.assert_allclose(unit_rewards(r), [[0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(sampling_weights(r, "avg"), [0.5, 0.5])


def test_a_set_with_one_reward_value_maps_to_zeros_and_nan_stays_missing():
    r = np.array([[5.0, np.nan], [5.0, 5.0]])
    np.testing.assert_array_equal(unit_rewards(r), [[0.0, np.nan], [0.0, 0.0]])
    np.testing.assert_array_equal(sampling_weights(r, "avg"), [0.0, 0.0])
    np.testing.assert_allclose(informativeness(r, "inv_avg"), [1e3, 1e3])


def test_all_missing_set_is_unchanged_and_finite():
    r = np.full((2, 3), np.nan)
    assert np.isnan(unit_rewards(r)).all()
    np.testing.assert_allclose(informativeness(r, "inv_avg"), [1e3, 1e3])


# --- informativeness: empty sets, callables, large sets -------------------------------------------------

def test_no_prompts_and_no_samples():
    out = informativeness(np.empty((0, 3)))
    assert out.shape == (0,)
    for m in ("a_min", "a_avg", "a_dts", "var", "avg"):  # prompts without any sample: 0, never NaN
        np.testing.assert_array_equal(informativeness(np.empty((3, 0)), m), [0.0, 0.0, 0.0], err_msg=m)
    np.testing.assert_allclose(informativeness(np.empty((3, 0)), "inv_a_min"), [1e3] * 3)


def my_metric(r):
    return np.zeros(2)


def test_callable_metric_errors_name_the_metric_and_the_prompt():
    with pytest.raises(ValueError, match=r"^metric 'my_metric' returned shape \(2,\); expected \(4,\)$"):
        informativeness(R, my_metric)
    nameless = functools.partial(lambda r, k: np.zeros(k), k=2)  # no __name__
    with pytest.raises(ValueError, match=r"^metric 'callable' returned shape \(2,\); expected \(4,\)$"):
        informativeness(R, nameless)
    # a callable that declines to score one prompt (None) gets one ValueError naming that prompt
    with pytest.raises(ValueError, match=r"^metric '<lambda>' returned nan for prompt #1 \(id='b'\)$"):
        informativeness(R, lambda r: [0.1, None, 0.2, 0.3], prompt_ids=IDS)
    with pytest.raises(ValueError, match=r"^metric '<lambda>' returned inf for prompt #3$"):
        informativeness(R, lambda r: np.array([0.1, 0.2, 0.3, np.inf]))
    with pytest.raises(ValueError, match=r"for prompt #2 \(id='c'\)$"):
        sampling_weights(R, lambda r: np.array([0.1, 0.2, np.nan, 0.3]), prompt_ids=IDS)


def test_inv_avg_normalises_over_the_whole_large_set():
    rng = np.random.default_rng(0)
    r = rng.uniform(0.0, 1.0, size=(_CHUNK * 2 + 17, 4))
    r[-1] = 5.0  # one large reward in the last row block: the whole set is rescaled by it
    u = (r - r.min()) / (r.max() - r.min())
    np.testing.assert_allclose(informativeness(r, "inv_avg"), 1 / (u.mean(axis=1) + 1e-3), rtol=1e-12)


# --- the metric-by-name helpers: defaults, prompt ids, messages -----------------------------------------

def test_sampling_weights_default_metric_is_a_min():
    np.testing.assert_allclose(sampling_weights(R), informativeness(R, "a_min"))
    np.testing.assert_allclose(sampling_weights(R), [0.7, 0.0, 0.4, 0.2])


def test_set_helpers_name_the_prompt_of_an_infinite_reward():
    bad = R.copy()
    bad[1, 2] = np.inf
    for fn in (all_metrics, sampling_weights):
        with pytest.raises(ValueError, match=r"^reward of prompt #1 \(id='b'\) is infinite"):
            fn(bad, prompt_ids=IDS)


def test_avg_weights_need_the_rewards():
    with pytest.raises(ValueError, match=r"^metric 'avg': its sampling weights need the rewards "
                                         r"\(mean of the rewards on \[0, 1\]\)$"):
        weights_from_values(np.ones(3), "avg")


def test_callable_values_that_are_not_negative_are_the_weights():
    """Only a callable metric with a negative value is min-shifted; values >= 0 are used as they are."""
    np.testing.assert_array_equal(weights_from_values(np.array([0.5, 2.0]), lambda r: r), [0.5, 2.0])
    np.testing.assert_array_equal(weights_from_values(np.array([0.0, 2.0]), lambda r: r), [0.0, 2.0])
    np.testing.assert_array_equal(weights_from_values(np.array([-1.0, 2.0]), lambda r: r), [0.0, 3.0])
    np.testing.assert_allclose(sampling_weights(R, lambda r: np.nanmax(r, axis=1)), [0.9, 1.0, 0.4, 0.3])


def test_reward_stats_of_a_prompt_with_one_valid_reward():
    s = reward_stats([[0.3, np.nan], [np.nan, np.nan]])
    np.testing.assert_array_equal(s["n_valid"], [1, 0])
    np.testing.assert_array_equal(s["reward_max"], [0.3, np.nan])
    np.testing.assert_array_equal(s["reward_min"], [0.3, np.nan])
    np.testing.assert_array_equal(s["reward_mean"], [0.3, 0.0])


def test_reward_stats_counts_are_integers_and_one_sample_is_its_own_max_and_min():
    s = reward_stats(np.array([[0.3], [np.nan]]))
    assert s["n_valid"].dtype.kind == "i" and s["n_valid"].tolist() == [1, 0]
    np.testing.assert_array_equal(s["reward_max"], [0.3, np.nan])
    np.testing.assert_array_equal(s["reward_min"], [0.3, np.nan])


def test_a_spread_of_at_most_tol_is_no_information_as_in_pairs():
    """A prompt gets A*_min > 0 exactly when build_pairs would make a pair of it (both: max - min > tol)."""
    from evalab.informativeness import a_min
    from evalab.pairs import select_pair

    r = np.array([[0.0, 0.5]])
    assert a_min(r, tol=0.5).tolist() == [0.0] and select_pair(r[0], 2, tol=0.5) == "all_equal"
    assert a_min(r, tol=0.4999).tolist() == [0.5] and select_pair(r[0], 2, tol=0.4999) == (1, 0)
