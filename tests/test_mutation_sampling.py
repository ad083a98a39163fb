"""Subset sampling and the next-set mix: the exact edges that mutation testing (scripts/mutation.sh) found
unpinned: inclusive band bounds, ratio 0 and 1, which inputs are rejected and with which message, NaN buffer
weights, the default seed, and indices that index a Python list."""

from __future__ import annotations

import numpy as np
import pytest

from evalab.config import EvaConfig
from evalab.sampling import in_band, mix_next_set, sample_subset


def test_in_band_is_inclusive_and_nan_is_outside():
    m = np.array([0.1999, 0.2, 0.5, 0.8, 0.8001, np.nan])
    assert in_band(m, (0.2, 0.8)).tolist() == [False, True, True, True, False, False]
    assert in_band([0.5, 0.4], (0.5, 0.5)).tolist() == [True, False]


def test_a_one_point_band_is_allowed():
    mean = np.array([0.0, 0.5, 1.0, 0.5])
    idx = sample_subset(np.ones(4), 0.5, "band", seed=0, reward_mean=mean, band=(0.5, 0.5))
    assert sorted(idx.tolist()) == [1, 3]


def test_mix_ratio_bounds_are_inclusive():
    only_evolved = mix_next_set(n_evolved=10, n_buffer_pool=10, size=5, evolved_ratio=1.0, seed=0)
    assert (only_evolved.evolved.size, only_evolved.buffer.size, only_evolved.backfilled) == (5, 0, 0)
    only_buffer = mix_next_set(n_evolved=10, n_buffer_pool=10, size=5, evolved_ratio=0.0, seed=0)
    assert (only_buffer.evolved.size, only_buffer.buffer.size, only_buffer.backfilled) == (0, 5, 0)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_evolved=2, n_buffer_pool=6, size=4, buffer_weights=np.ones(3)),
     r"^buffer_weights has shape \(3,\); expected \(6,\)$"),
    (dict(n_evolved=2, n_buffer_pool=6, size=4, evolved_ratio=-0.1), r"^evolved_ratio=-0\.1 must be in \[0, 1\]$"),
    (dict(n_evolved=2, n_buffer_pool=6, size=0), r"^size=0: the next prompt set must hold at least one prompt$"),
    (dict(n_evolved=-1, n_buffer_pool=6, size=4), r"^n_evolved and n_buffer_pool must be >= 0$"),
    (dict(n_evolved=6, n_buffer_pool=-1, size=4), r"^n_evolved and n_buffer_pool must be >= 0$"),
    (dict(n_evolved=0, n_buffer_pool=0, size=4),
     r"^nothing to mix: no evolved prompt was accepted and the buffer pool is empty$"),
])
def test_mix_rejects_bad_input_with_one_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mix_next_set(**kwargs)


def test_mix_indices_index_python_lists_even_when_a_side_is_empty():
    names = [f"p{i}" for i in range(6)]
    for n_evolved, n_buffer, ratio in ((6, 6, 0.5), (0, 6, 0.5), (6, 0, 0.5), (6, 6, 1.0), (6, 6, 0.0)):
        for bw in (None, np.linspace(0, 1, n_buffer)):
            m = mix_next_set(n_evolved, n_buffer, 4, ratio, seed=1, buffer_weights=bw)
            assert m.evolved.dtype.kind == "i" and m.buffer.dtype.kind == "i"
            assert [names[i] for i in m.evolved] + [names[i] for i in m.buffer]  # a float index would raise


def test_missing_buffer_weights_come_last():
    """A buffer prompt without a weight (NaN) is taken only after every weighted one, even a negative one."""
    bw = np.array([np.nan, -1.0, 0.5])
    for seed in range(5):
        m = mix_next_set(n_evolved=0, n_buffer_pool=3, size=2, seed=seed, buffer_weights=bw)
        assert m.buffer.tolist() == [1, 2]


def test_default_seed_is_the_configs():
    """Called without a seed, the mix and the sampler are those of EvaConfig's default seed: reproducible."""
    seed = EvaConfig().seed
    a = mix_next_set(n_evolved=40, n_buffer_pool=100, size=20)
    b = mix_next_set(n_evolved=40, n_buffer_pool=100, size=20, evolved_ratio=0.8, seed=seed)
    assert a.evolved.tolist() == b.evolved.tolist() and a.buffer.tolist() == b.buffer.tolist()
    w = np.random.default_rng(0).random(50)
    assert sample_subset(w).tolist() == sample_subset(w, 0.25, "weighted", seed=seed).tolist()


@pytest.mark.parametrize("w,message", [
    ([0.1, np.nan, np.inf], r"^weight of prompt #1 is nan; weights must be finite$"),
    ([0.1, None], r"^weight of prompt #1 is nan; weights must be finite$"),  # a missing weight
    ([0.0, 0.3, -0.5], r"^weight of prompt #2 is negative \(-0\.5\); weights must be >= 0 "
                       r"\(evalab\.informativeness\.sampling_weights maps a metric on signed rewards to weights\)$"),
    ([], r"^empty prompt set: no weights to sample from$"),
])
def test_bad_weights_name_the_prompt(w, message):
    with pytest.raises(ValueError, match=message):
        sample_subset(w)


def test_band_needs_one_mean_per_prompt():
    for mean, got in ((None, "None"), (np.ones(3), r"\(3,\)")):
        with pytest.raises(ValueError, match=rf"^sampling strategy 'band' needs reward_mean, one mean reward per "
                                             rf"prompt \(8\); got {got}$"):
            sample_subset(np.ones(8), 0.5, "band", reward_mean=mean)


def test_default_fraction_is_a_quarter():
    assert sample_subset(np.ones(50)).size == 13  # ceil(0.25 * 50)


def test_heavy_prompts_are_taken_first_in_weight_order():
    """Weighted sampling: a prompt that outweighs the rest by far is always taken, and taken before a lighter one."""
    w = np.full(100, 1e-6)
    w[[57, 12]] = [1e6, 1.0]
    for seed in range(10):
        assert sample_subset(w, 0.01, "weighted", seed=seed).tolist() == [57]
        assert sample_subset(w, 0.02, "weighted", seed=seed).tolist() == [57, 12]
        heavy3 = np.full(100, 1e-6)
        heavy3[[5, 50, 95]] = 1e6
        assert set(sample_subset(heavy3, 0.03, "weighted", seed=seed).tolist()) == {5, 50, 95}
    only_two = np.zeros(10)
    only_two[[3, 7]] = [1e6, 1.0]
    for seed in range(10):  # fewer positive weights than k: the positive ones first, heaviest first
        assert sample_subset(only_two, 0.3, "weighted", seed=seed)[:2].tolist() == [3, 7]


def test_zero_weight_prompts_are_drawn_in_random_order():
    w = np.zeros(30)
    w[0] = 1.0
    rest = {tuple(sample_subset(w, 0.1, "weighted", seed=s)[1:].tolist()) for s in range(20)}
    assert len(rest) > 10  # not always the lowest indices
