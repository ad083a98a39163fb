"""Exact contracts of small pure-core functions that the wider tests only touched (found by mutation testing,
scripts/mutation.sh): reward statistics, all metrics at once, the scored response, TRL's conversational rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evalab import constraints as C
from evalab.config import METRICS
from evalab.informativeness import all_metrics, informativeness, reward_stats
from evalab.pairs import check_pairs_frame, to_conversational


def test_reward_stats_exact():
    r = np.array([[0.0, 1.0, 0.5], [np.nan, np.nan, np.nan], [-2.0, np.nan, 4.0]])
    s = reward_stats(r)
    assert set(s) == {"reward_mean", "reward_max", "reward_min", "n_valid"}
    np.testing.assert_array_equal(s["n_valid"], [3, 0, 2])
    np.testing.assert_allclose(s["reward_mean"], [0.5, 0.0, 1.0])
    np.testing.assert_allclose(s["reward_max"], [1.0, np.nan, 4.0])
    np.testing.assert_allclose(s["reward_min"], [0.0, np.nan, -2.0])


def test_all_metrics_is_every_metric_on_rewards_of_any_sign():
    r = np.array([[0.0, 1.0, 0.5], [0.2, 0.2, 0.9]])
    out = all_metrics(r)
    assert list(out) == list(METRICS)
    for m in METRICS:
        np.testing.assert_array_equal(out[m], informativeness(r, m), err_msg=m)
    neg = all_metrics(r - 5.0)  # RM logits: every metric still defined (inv_avg on rewards mapped to [0, 1])
    assert list(neg) == list(METRICS)
    for m in ("a_min", "a_avg", "a_dts", "var", "inv_avg"):  # shift-invariant on a set
        np.testing.assert_allclose(neg[m], out[m], err_msg=m)
    np.testing.assert_allclose(neg["avg"], out["avg"] - 5.0)


def test_score_response_exact():
    cs = [{"kind": "lowercase"}, {"kind": "no_commas"}]
    s = C.score_response(cs, "all lowercase, with a comma")
    assert s["satisfied"] == [True, False] and s["frac"] == 0.5
    assert s["reward"] == pytest.approx(C.FRAC_WEIGHT * 0.5 + C.PARTIAL_WEIGHT * s["partial"])
    assert 0.5 <= s["partial"] < 1.0
    full = C.score_response(cs, "all lowercase and no comma")
    assert full == {"satisfied": [True, True], "frac": 1.0, "partial": 1.0, "reward": 1.0}
    none = C.score_response(cs, None)
    assert none["satisfied"] == [False, False] and all(math.isnan(none[k]) for k in ("frac", "partial", "reward"))
    empty = C.score_response([], "text")
    assert empty["satisfied"] == [] and math.isnan(empty["reward"])


def test_to_conversational_rows():
    pairs = pd.DataFrame({"prompt": ["p1", "p2"], "chosen": ["c1", "c2"], "rejected": ["r1", "r2"]})
    assert to_conversational(pairs) == [
        {"prompt": [{"role": "user", "content": p}], "chosen": [{"role": "assistant", "content": c}],
         "rejected": [{"role": "assistant", "content": r}]} for p, c, r in (("p1", "c1", "r1"), ("p2", "c2", "r2"))]
    with pytest.raises(ValueError, match=r"pairs: missing column\(s\) \['rejected'\]"):
        to_conversational(pairs.drop(columns=["rejected"]))
    with pytest.raises(ValueError, match=r"pairs: no rows"):
        check_pairs_frame(pairs.iloc[:0])
    with pytest.raises(ValueError, match=r"pairs\.chosen: row 1 is int, not str"):
        check_pairs_frame(pairs.assign(chosen=["c1", 3]))
