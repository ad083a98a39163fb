"""Every informativeness metric against hand-computed values, and the edge cases the docs promise."""

import numpy as np
import pytest

import evalab
from evalab.informativeness import all_metrics, as_reward_matrix, informativeness, reward_stats

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


def test_inv_avg_rejects_negative_means():
    with pytest.raises(ValueError, match="inv_avg"):
        informativeness(np.array([[-1.0, -0.5]]), "inv_avg")
    assert "inv_avg" not in all_metrics(np.array([[-1.0, -0.5]]))


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
