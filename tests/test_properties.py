"""Property-based tests (hypothesis): informativeness metrics, subset sampling, the next-set mix, and the config /
papermill parameter surface (any wrong type, NaN or out-of-range value: one ValueError naming the field)."""

from __future__ import annotations

import ast
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evalab.config import PROFILES, EvaConfig, check_profile, profile_config
from evalab.informativeness import a_avg, a_min, informativeness, sampling_weights, var
from evalab.sampling import mix_next_set, sample_subset, subset_size

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# quarter-integers: sums and differences are exact in binary floating point, so shifts change nothing
quarter = st.integers(-400, 400).map(lambda i: i / 4)


@st.composite
def reward_matrices(draw, allow_nan: bool = True) -> np.ndarray:
    p = draw(st.integers(1, 8))
    n = draw(st.integers(2, 6))
    vals = draw(st.lists(st.one_of(quarter, st.just(math.nan)) if allow_nan else quarter,
                         min_size=p * n, max_size=p * n))
    return np.array(vals, dtype=float).reshape(p, n)


# --- informativeness --------------------------------------------------------------------------------
@FAST
@given(reward_matrices(), quarter)
def test_spread_metrics_are_shift_invariant(r, c):
    for fn in (a_min, a_avg, var):
        np.testing.assert_allclose(fn(r + c), fn(r), rtol=1e-9, atol=1e-9, err_msg=fn.__name__)


@FAST
@given(reward_matrices(), st.sampled_from([0.25, 0.5, 2.0, 3.0, 10.0]))
def test_scale_behaviour(r, s):
    np.testing.assert_allclose(a_min(s * r), s * a_min(r), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a_avg(s * r), s * a_avg(r), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(var(s * r), s * s * var(r), rtol=1e-9, atol=1e-9)
    # a negative scale mirrors the rewards: the spread max - min keeps its size
    np.testing.assert_allclose(a_min(-s * r), s * a_min(r), rtol=1e-9, atol=1e-9)


@FAST
@given(reward_matrices())
def test_rewards_of_any_sign(r):
    valid = (~np.isnan(r)).sum(axis=1)
    for m in ("a_min", "a_avg", "a_dts", "var", "inv_a_min", "uniform", "avg"):
        w = informativeness(r, m)
        assert w.shape == (r.shape[0],) and np.isfinite(w).all(), m
        if m != "avg":
            assert (w >= 0).all(), m
    spread = a_min(r)
    assert (spread[valid < 2] == 0).all()  # fewer than two valid rewards: not informative
    rows = [row[~np.isnan(row)] for row in r]
    expect = np.array([x.max() - x.min() if x.size >= 2 else 0.0 for x in rows])
    np.testing.assert_allclose(spread, expect, atol=1e-9)
    inv = informativeness(r, "inv_avg")  # on rewards mapped to [0, 1] per set: defined for any sign (RM logits)
    assert np.isfinite(inv).all() and (inv > 0).all()
    for m in ("a_min", "a_avg", "a_dts", "var", "inv_a_min", "uniform", "avg", "inv_avg"):
        sw = sampling_weights(r, m)  # step 3's weights: >= 0 whatever the sign of the rewards
        assert np.isfinite(sw).all() and (sw >= 0).all(), m


# --- sampling ----------------------------------------------------------------------------------------
weights = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3)), min_size=1, max_size=40).map(np.array)
fractions = st.floats(0.01, 1.0)
strategies_ = st.sampled_from(["weighted", "greedy", "uniform"])
seeds = st.integers(0, 2**31 - 1)


@FAST
@given(weights, fractions, strategies_, seeds)
def test_exactly_k_distinct_indices(w, fraction, strategy, seed):
    idx = sample_subset(w, fraction, strategy, seed)
    k = subset_size(w.size, fraction)
    assert idx.dtype.kind == "i" and len(idx) == k == len(set(idx.tolist()))
    assert ((idx >= 0) & (idx < w.size)).all()
    if strategy != "uniform":
        # positive weights before zero weights: a zero-weight prompt only once every positive one is taken
        n_pos = int((w > 0).sum())
        assert (w[idx[: min(k, n_pos)]] > 0).all()
    if strategy == "greedy":
        assert sorted(w[idx].tolist(), reverse=True) == w[idx].tolist()
        assert w[idx].min() >= np.sort(w)[::-1][k - 1]


@FAST
@given(weights, fractions, strategies_, seeds)
def test_seeded_determinism(w, fraction, strategy, seed):
    a = sample_subset(w, fraction, strategy, seed)
    b = sample_subset(w.copy(), fraction, strategy, seed)
    np.testing.assert_array_equal(a, b)


@FAST
@given(weights, weights, fractions, seeds)
def test_uniform_ignores_w(w1, w2, fraction, seed):
    n = min(w1.size, w2.size)
    np.testing.assert_array_equal(sample_subset(w1[:n], fraction, "uniform", seed),
                                  sample_subset(w2[:n], fraction, "uniform", seed))


@FAST
@given(st.integers(0, 30), st.integers(0, 30), st.integers(1, 40), st.floats(0.0, 1.0), seeds)
def test_next_set_mix(n_evolved, n_buffer, size, ratio, seed):
    assume(n_evolved + n_buffer > 0)
    mix = mix_next_set(n_evolved, n_buffer, size, ratio, seed)
    assert mix.size == min(size, n_evolved + n_buffer)
    assert len(set(mix.evolved.tolist())) == mix.evolved.size and len(set(mix.buffer.tolist())) == mix.buffer.size
    assert ((mix.evolved >= 0) & (mix.evolved < max(n_evolved, 1))).all()
    assert ((mix.buffer >= 0) & (mix.buffer < max(n_buffer, 1))).all()
    # the ratio is met whenever there are enough evolved prompts
    want = round(size * ratio)
    assert mix.evolved.size == min(want, n_evolved) or mix.buffer.size == n_buffer
    assert mix.backfilled == max(0, mix.buffer.size - (size - want))
    again = mix_next_set(n_evolved, n_buffer, size, ratio, seed)
    np.testing.assert_array_equal(mix.evolved, again.evolved)
    np.testing.assert_array_equal(mix.buffer, again.buffer)


# --- the config and papermill parameter surface ---------------------------------------------------------
FIELDS = {f.name: f.type for f in dataclasses.fields(EvaConfig)}
WRONG = {
    "int": st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.none(), st.booleans(),
                     st.lists(st.integers(), max_size=2)),
    "float": st.one_of(st.text(max_size=5), st.none(), st.booleans(), st.just(math.nan), st.just(math.inf),
                       st.just(-math.inf), st.lists(st.floats(), max_size=2)),
    "str": st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.lists(st.text(), max_size=2)),
    "bool": st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats()),
    "dict": st.one_of(st.integers(), st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2)),
    "list": st.one_of(st.integers(), st.text(max_size=5), st.none(), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                                     max_size=2)),
}
OUT_OF_RANGE = {
    "n_responses": st.integers(-5, 1), "n_variants": st.integers(-5, 0), "max_new_tokens": st.integers(-5, 0),
    "iterations": st.integers(-5, 0), "seed": st.integers(-100, -1), "n_prompts": st.integers(-100, -1),
    "subset_fraction": st.one_of(st.floats(-10, 0), st.floats(1.0001, 10)),
    "evolved_ratio": st.one_of(st.floats(-10, -1e-6), st.floats(1.0001, 10)),
    "temperature": st.floats(-10, -1e-6), "top_p": st.one_of(st.floats(-1, 0), st.floats(1.0001, 5)),
    "learning_rate": st.floats(-1, 0), "epochs": st.floats(-5, 0), "beta": st.floats(-5, 0),
    "metric": st.text(max_size=6).filter(lambda s: not s.startswith("callable:")),
    "trainer": st.text(max_size=6), "sampling": st.text(max_size=6), "mode": st.text(max_size=6),
}


def _raises_naming(name, value):
    try:
        profile_config("ci", **{name: value})
    except ValueError as e:
        assert f"EvaConfig.{name}=" in str(e) or (name == "max_length" and "max_length=" in str(e)), str(e)
        return
    raise AssertionError(f"EvaConfig.{name}={value!r} was accepted")


@FAST
@given(st.data())
def test_any_wrong_type_or_nan_is_one_value_error_naming_the_field(data):
    name = data.draw(st.sampled_from(sorted(set(FIELDS) - {"profile"})))  # profile: profile_config's own argument
    value = data.draw(WRONG[FIELDS[name]])
    _raises_naming(name, value)


@FAST
@given(st.data())
def test_out_of_range_is_one_value_error_naming_the_field(data):
    name = data.draw(st.sampled_from(sorted(OUT_OF_RANGE)))
    value = data.draw(OUT_OF_RANGE[name])
    assume(name not in ("metric", "trainer", "sampling", "mode") or value not in (
        "a_min", "a_avg", "a_dts", "var", "avg", "inv_avg", "inv_a_min", "uniform", "dpo", "simpo", "orpo", "sppo",
        "weighted", "greedy", "eva", "static"))
    _raises_naming(name, value)


def test_nan_temperature_and_float_counts_are_rejected():
    with pytest.raises(ValueError, match=r"EvaConfig\.temperature=nan"):
        profile_config("ci", temperature=math.nan)
    with pytest.raises(ValueError, match=r"EvaConfig\.n_responses=3\.0: must be an integer"):
        profile_config("ci", n_responses=3.0)
    assert profile_config("ci", n_responses=np.int64(3)).n_responses == 3  # numpy integers are integers
    assert profile_config("ci", epochs=1).epochs == 1  # an int is a fine float


@FAST
@given(st.one_of(st.text(max_size=8), st.integers(), st.none(), st.lists(st.text(), max_size=2)))
def test_unknown_profile_is_a_value_error(profile):
    assume(profile not in PROFILES)
    with pytest.raises(ValueError, match=r"profile=.*unknown profile"):
        check_profile(profile)
    with pytest.raises(ValueError, match=r"profile=.*unknown profile"):
        profile_config(profile)


def _first_code_cell_after_parameters(name: str) -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_notebooks import parse
    finally:
        sys.path.pop(0)
    cells = parse((ROOT / "notebooks" / "src" / f"{name}.py").read_text()).cells
    i = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    params = cells[i].source
    nxt = next(c for c in cells[i + 1:] if c.cell_type == "code")
    return params, nxt.source


def _up_to_first_use_of_profile(cell: str) -> str:
    """The cell's statements up to the first one that reads ``profile`` (imports other than evalab.config left
    out: plotly, TRL and friends take a minute to import on a loaded machine and play no part here)."""
    kept = []
    for stmt in ast.parse(cell).body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and getattr(stmt, "module", None) != "evalab.config":
            continue
        kept.append(stmt)
        if any(isinstance(n, ast.Name) and n.id == "profile" for n in ast.walk(stmt)):
            break
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


@pytest.mark.parametrize("name", ["01_weights", "03_iterations", "04_ablations", "05_online"])
def test_notebook_with_an_unknown_profile_stops_with_a_value_error(name, monkeypatch):
    """The notebook's first cell after the parameters, with papermill's injected profile="tiny", up to its first
    use of the profile: a ValueError naming it, not a KeyError (02 only uses the profile as a label)."""
    params, cell = _first_code_cell_after_parameters(name)
    monkeypatch.chdir(ROOT / "notebooks")
    ns: dict = {}
    exec(compile(params, f"{name}:parameters", "exec"), ns)
    ns["profile"] = "tiny"  # what `-p profile tiny` injects after the parameters cell
    with pytest.raises(ValueError, match=r"profile='tiny': unknown profile"):
        exec(compile(_up_to_first_use_of_profile(cell), f"{name}:first cell", "exec"), ns)
