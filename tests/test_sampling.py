"""Subset sampling: determinism, statistics of the weighted sampler, zero weights, the 80/20 mix."""

import numpy as np
import pytest

from evalab.sampling import mix_next_set, sample_subset, subset_size


def test_subset_size():
    assert subset_size(100, 0.25) == 25
    assert subset_size(10, 0.25) == 3  # ceil
    assert subset_size(3, 1.0) == 3
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            subset_size(10, bad)


@pytest.mark.parametrize("strategy", ["weighted", "greedy", "uniform", "band"])
def test_deterministic_unique_and_sized(strategy):
    w = np.random.default_rng(1).random(200)
    a = sample_subset(w, 0.25, strategy, seed=7, reward_mean=w)
    b = sample_subset(w, 0.25, strategy, seed=7, reward_mean=w)
    assert a.tolist() == b.tolist()
    assert len(a) == 50 and len(set(a.tolist())) == 50
    assert a.min() >= 0 and a.max() < 200


def test_seed_changes_weighted_selection():
    w = np.ones(100)
    assert sample_subset(w, 0.2, "weighted", seed=1).tolist() != sample_subset(w, 0.2, "weighted", seed=2).tolist()


def test_greedy_is_top_k():
    w = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert sample_subset(w, 0.6, "greedy").tolist() == [1, 3, 2]


@pytest.mark.parametrize("strategy", ["weighted", "greedy"])  # not "uniform": it ignores the weights (issue 10)
def test_zero_weights_only_after_positive_ones(strategy):
    w = np.zeros(40)
    w[[3, 17, 22]] = [0.2, 0.5, 1.0]
    for seed in range(20):
        idx = sample_subset(w, 0.25, strategy, seed=seed)  # k = 10 > 3 positive
        assert set(idx[:3].tolist()) == {3, 17, 22}
        small = sample_subset(w, 0.05, strategy, seed=seed)  # k = 2 <= 3 positive
        assert set(small.tolist()) <= {3, 17, 22}


def test_uniform_ignores_the_weights_entirely():
    """The paper's uniform baseline: the weights play no part (it used to take positive weights first)."""
    w = np.zeros(40)
    w[[3, 17, 22]] = [0.2, 0.5, 1.0]
    for seed in range(5):  # the same subset whatever the weights, even signed ones
        a = sample_subset(w, 0.25, "uniform", seed=seed)
        assert a.tolist() == sample_subset(np.ones(40), 0.25, "uniform", seed=seed).tolist()
        assert a.tolist() == sample_subset(-np.arange(40.0), 0.25, "uniform", seed=seed).tolist()
    # first picks are uniform over all 40 prompts: the 3 positive ones lead about 3/40 of the time
    lead = np.mean([sample_subset(w, 0.25, "uniform", seed=s)[0] in (3, 17, 22) for s in range(4000)])
    assert abs(lead - 3 / 40) < 0.02


def test_band_is_uniform_within_the_band():
    mean = np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 0.2, 0.8, 0.45])
    inside = {2, 3, 4, 7, 8, 9}
    counts = np.zeros(mean.size)
    for seed in range(3000):
        idx = sample_subset(np.zeros(mean.size), 0.3, "band", seed=seed, reward_mean=mean, band=(0.2, 0.8))
        assert len(idx) == 3 and set(idx.tolist()) <= inside  # k = 3 <= 6 in the band
        counts[idx] += 1
    freq = counts[sorted(inside)] / 3000
    np.testing.assert_allclose(freq, 0.5, atol=0.05)  # each in-band prompt in 3 of 6 draws


def test_band_with_too_few_inside_takes_all_then_nearest():
    mean = np.array([0.0, 0.05, 0.5, 0.99, 0.85, 1.0, np.nan, 0.1])
    idx = sample_subset(np.ones(8), 0.5, "band", seed=0, reward_mean=mean, band=(0.2, 0.8))  # k = 4, 1 inside
    assert idx[0] == 2 and set(idx.tolist()) == {2, 4, 7, 1}  # then 0.85 (0.05 away), 0.1 (0.1), 0.05 (0.15)
    with pytest.raises(ValueError, match="reward_mean"):
        sample_subset(np.ones(8), 0.5, "band")
    with pytest.raises(ValueError, match="band_low"):
        sample_subset(np.ones(8), 0.5, "band", reward_mean=mean, band=(0.9, 0.1))


def test_informative_buffer_takes_the_highest_weights():
    bw = np.array([0.0, 0.9, 0.1, 0.5, 0.0, 0.7])
    m = mix_next_set(n_evolved=8, n_buffer_pool=6, size=10, evolved_ratio=0.8, seed=3, buffer_weights=bw)
    assert m.buffer.tolist() == [1, 5]
    short = mix_next_set(n_evolved=5, n_buffer_pool=6, size=10, evolved_ratio=0.8, seed=3, buffer_weights=bw)
    assert short.buffer.size == 5 and short.backfilled == 3
    assert {1, 2, 3, 5} < set(short.buffer.tolist())  # the four positive weights, then one of the zero ties
    with pytest.raises(ValueError, match="buffer_weights"):
        mix_next_set(2, 6, 4, buffer_weights=np.ones(3))


def test_weighted_first_pick_frequency_matches_weights():
    # The first draw of successive sampling is a categorical draw with p = w / sum(w).
    w = np.array([1.0, 2.0, 3.0, 4.0])
    counts = np.zeros(4)
    n = 20000
    for s in range(n):
        counts[sample_subset(w, 0.25, "weighted", seed=s)[0]] += 1
    np.testing.assert_allclose(counts / n, w / w.sum(), atol=0.015)


def test_weighted_inclusion_is_monotone_in_weight():
    w = np.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4])
    incl = np.zeros(8)
    for s in range(4000):
        incl[sample_subset(w, 0.375, "weighted", seed=s)] += 1
    assert np.all(np.diff(incl) > 0), incl


@pytest.mark.parametrize("bad,msg", [
    (np.array([]), "empty"),
    (np.array([0.1, np.nan]), "finite"),
    (np.array([0.1, -0.2]), "negative"),
    (np.zeros((2, 2)), "1-D"),
])
def test_bad_weights(bad, msg):
    with pytest.raises(ValueError, match=msg):
        sample_subset(bad)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="weighted"):
        sample_subset(np.ones(3), strategy="topk")


def test_mix_80_20():
    m = mix_next_set(n_evolved=40, n_buffer_pool=100, size=50, evolved_ratio=0.8, seed=0)
    assert (m.evolved.size, m.buffer.size, m.backfilled) == (40, 10, 0)
    assert len(set(m.buffer.tolist())) == 10
    again = mix_next_set(n_evolved=40, n_buffer_pool=100, size=50, evolved_ratio=0.8, seed=0)
    assert m.buffer.tolist() == again.buffer.tolist()


def test_mix_backfills_when_few_evolved_accepted():
    m = mix_next_set(n_evolved=5, n_buffer_pool=100, size=50, evolved_ratio=0.8, seed=0)
    assert (m.evolved.size, m.buffer.size, m.backfilled, m.size) == (5, 45, 35, 50)


def test_mix_uses_more_evolved_when_buffer_short():
    m = mix_next_set(n_evolved=60, n_buffer_pool=3, size=50, evolved_ratio=0.8)
    assert (m.evolved.size, m.buffer.size) == (47, 3)


def test_mix_bad_input():
    with pytest.raises(ValueError, match="evolved_ratio"):
        mix_next_set(1, 1, 2, evolved_ratio=1.2)
    with pytest.raises(ValueError, match="nothing to mix"):
        mix_next_set(0, 0, 5)
