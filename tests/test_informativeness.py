"""Every informativeness metric against hand-computed values, and the edge cases the docs promise."""

import numpy as np
import pytest

import evalab
from evalab.informativeness import all_metrics, as_reward_matrix, informativeness, reward_stats, sampling_weights

R = np.array([
    [0.2, 0.9, 0.5],   # spread
    [1.0, 1.0, 1.0],   # all equal
    [0.0, 0.4, 0.4],   # tie at the top
    [0.3, 0.1, 0.2],
])


@pytest.mark.parametrize("metric,expected", [
    ("a_min", [0.7, 0.0, 0.4, 0.2]),
    ("a_avg", [0.9 - 1.6 / 3, 0.0, 0.4 - 0.8 / 3, 0.3 - 0.2]),
    ("a_dts", [0.4, 0.0, 0.0, 0.1]),
    ("var", [np.var([0.2, 0.9, 0.5]), 0.0, np.var([0.0, 0.4, 0.4]), np.var([0.3, 0.1, 0.2])]),
    ("avg", [1.6 / 3, 1.0, 0.8 / 3, 0.2]),
    ("inv_avg", [1 / (1.6 / 3 + 1e-3), 1 / (1.0 + 1e-3), 1 / (0.8 / 3 + 1e-3), 1 / (0.2 + 1e-3)]),
    ("inv_a_min", [1 / (0.7 + 1e-3), 1 / 1e-3, 1 / (0.4 + 1e-3), 1 / (0.2 + 1e-3)]),
    ("uniform", [1.0, 1.0, 1.0, 1.0]),
])
def test_metric_values_by_hand(metric, expected):
    np.testing.assert_allclose(informativeness(R, metric), expected, rtol=1e-9, atol=1e-12)


def test_default_is_a_min_and_exported():
    np.testing.assert_allclose(evalab.informativeness(R), [0.7, 0.0, 0.4, 0.2])


def test_all_equal_rows_are_exactly_zero_never_nan():
    r = np.full((3, 6), 0.3)
    r[1] += 1e-13  # float noise from a continuous reward does not count as informative
    for m in ("a_min", "a_avg", "a_dts", "var"):
        w = informativeness(r, m)
        assert np.all(w == 0.0), m
    assert np.all(np.isfinite(informativeness(r, "inv_a_min")))


def test_nan_is_missing_and_ragged_rows_are_padded():
    ragged = [[0.1, 0.5], [0.9], [], [0.2, float("nan"), 0.8]]
    m = as_reward_matrix(ragged)
    assert m.shape == (4, 3) and np.isnan(m[1, 1:]).all()
    np.testing.assert_allclose(informativeness(ragged, "a_min"), [0.4, 0.0, 0.0, 0.6])
    np.testing.assert_allclose(informativeness(ragged, "avg"), [0.3, 0.9, 0.0, 0.5])
    np.testing.assert_allclose(informativeness(ragged, "a_dts"), [0.4, 0.0, 0.0, 0.6])
    for w in all_metrics(ragged).values():
        assert np.isfinite(w).all()


def test_inf_names_the_prompt():
    r = R.copy()
    r[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"#2 \(id='p2'\)"):
        informativeness(r, prompt_ids=["p0", "p1", "p2", "p3"])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 2, 2))])
def test_wrong_shape(bad):
    with pytest.raises(ValueError, match="2-D"):
        informativeness(bad)


def test_ragged_nested_row_names_prompt():
    with pytest.raises(ValueError, match="prompt #1"):
        informativeness([[0.1, 0.2], [[0.1], [0.2]]])


def test_unknown_metric_lists_choices():
    with pytest.raises(ValueError, match="a_min"):
        informativeness(R, "regret")


# --- rewards of any sign (reward-model logits), issue 10 ------------------------------------------------

RM = np.random.default_rng(3).uniform(-10, 10, size=(40, 6))  # RM-like logits in [-10, 10]


def test_every_metric_runs_on_rm_logits_and_gives_weights_for_sampling():
    ms = all_metrics(RM)
    assert set(ms) == set(evalab.METRICS)  # inv_avg used to be left out (it raised on negative means)
    np.testing.assert_allclose(ms["avg"], RM.mean(axis=1))  # values stay as defined: raw mean, negative allowed
    assert (ms["avg"] < 0).any()
    for m in evalab.METRICS:
        w = sampling_weights(RM, m)
        assert np.isfinite(w).all() and (w >= 0).all(), m
        for strategy in ("weighted", "greedy"):
            idx = evalab.sample_subset(w, 0.25, strategy, seed=1)  # used to raise "negative" for avg
            assert len(set(idx.tolist())) == 10


def test_avg_weight_is_the_mean_shifted_by_the_sets_lowest_reward():
    r = np.array([[-10.0, -6.0], [0.0, 2.0], [6.0, 10.0]])
    np.testing.assert_allclose(sampling_weights(r, "avg"), [0.1, 0.55, 0.9])  # (mean + 10) / 20
    # an affine change of the reward (another RM scale) leaves the weights unchanged ...
    np.testing.assert_allclose(sampling_weights(3 * r + 7, "avg"), sampling_weights(r, "avg"))
    np.testing.assert_allclose(sampling_weights(3 * r + 7, "inv_avg"), sampling_weights(r, "inv_avg"))
    # ... and rewards on [0, 1] are used as they are (pass rates: the old values exactly)
    np.testing.assert_allclose(sampling_weights(R, "avg"), R.mean(axis=1))
    np.testing.assert_allclose(informativeness(R, "inv_avg"), 1 / (R.mean(axis=1) + 1e-3))


def test_inv_avg_on_negative_rewards_prefers_the_hard_prompts():
    r = np.array([[-9.0, -8.0], [-1.0, 0.0], [8.0, 9.0]])
    w = informativeness(r, "inv_avg")
    assert np.isfinite(w).all() and (w > 0).all() and w[0] > w[1] > w[2]
    np.testing.assert_allclose(w, 1 / (np.array([0.5, 8.5, 17.5]) / 18 + 1e-3))


def test_spread_weights_are_shift_invariant_and_callable_metrics_are_min_shifted():
    for m in ("a_min", "a_avg", "a_dts", "var", "inv_a_min", "uniform"):
        np.testing.assert_allclose(sampling_weights(RM, m), informativeness(RM, m))
        np.testing.assert_allclose(sampling_weights(RM - 5, m), sampling_weights(RM, m), atol=1e-9)
    w = sampling_weights(RM, lambda r: np.nanmean(r, axis=1))
    np.testing.assert_allclose(w, RM.mean(axis=1) - RM.mean(axis=1).min())


def test_callable_metric_and_its_contract():
    np.testing.assert_allclose(informativeness(R, lambda r: np.nanmax(r, axis=1)), [0.9, 1.0, 0.4, 0.3])
    with pytest.raises(ValueError, match="shape"):
        informativeness(R, lambda r: np.zeros(2))
    with pytest.raises(ValueError, match="nan"):
        informativeness(R, lambda r: np.full(4, np.nan))


def test_vectorized_matches_python_loop_on_random_data():
    rng = np.random.default_rng(0)
    r = rng.random((500, 6))
    r[rng.random((500, 6)) < 0.1] = np.nan
    loop = []
    for row in r:
        v = row[~np.isnan(row)]
        loop.append(v.max() - v.min() if v.size >= 2 else 0.0)
    np.testing.assert_allclose(informativeness(r, "a_min"), loop)


def test_reward_stats():
    s = reward_stats([[0.1, 0.5], []])
    assert s["n_valid"].tolist() == [2, 0]
    assert s["reward_mean"][0] == pytest.approx(0.3) and np.isnan(s["reward_max"][1])


@pytest.mark.parametrize("metric", ["a_min", "a_avg", "a_dts", "var", "avg", "inv_a_min"])
def test_large_sets_are_computed_in_blocks_with_identical_results(metric):
    import sys

    mod = sys.modules["evalab.informativeness"]
    rng = np.random.default_rng(1)
    r = rng.random((mod._CHUNK * 2 + 17, 5))
    r[rng.random(r.shape) < 0.05] = np.nan
    np.testing.assert_array_equal(informativeness(r, metric), mod._METRIC_FNS[metric](r))
