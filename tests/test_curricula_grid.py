"""Issue 15's comparison on the reproduction runner (evalab/reproduction.py): the curricula arms, what each
iteration spent (rollouts, rollouts saved by prediction, the trained creator's rollouts and seconds, the frontier
drop rate, rollouts per pair), the training sets' pass-rate distribution, the paired table and the per-arm summary,
on fake run stores with hand-set costs; the online dynamic-sampling arm's wiring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalab.config import profile_config
from evalab.reproduction import (ARM_GROUPS, COST_COLUMNS, CURRICULA_ARMS, PASS_RATE_BINS, REPRODUCTION_ARMS,
                                 curricula_markdown_table, curriculum_costs, curriculum_verdict, load_results,
                                 paired_table, pass_rate_distribution, pass_rate_shares, per_seed_rows,
                                 reproduction_results, run_online_arms, summary_table, summary_view, write_results)
from evalab.store import RunStore
from test_reproduction import _fake_grid


def test_the_curricula_group_names_every_arm_of_the_issue_and_each_is_a_valid_config():
    assert ARM_GROUPS["curricula"] == ["eva", "eva+frontier", "thompson", "greso", "band", "creator=r_zero",
                                       "creator=informativeness", "static"]
    assert CURRICULA_ARMS["thompson"] == {"sampling": "thompson"} and CURRICULA_ARMS["greso"] == {"skip": "greso"}
    assert CURRICULA_ARMS["eva+frontier"]["frontier_band"] == [0.2, 0.8]
    assert {CURRICULA_ARMS[a]["creator_reward"] for a in ("creator=r_zero", "creator=informativeness")} == {
        "r_zero", "informativeness"}
    for arm in ARM_GROUPS["curricula"]:
        cfg = profile_config("demo", **REPRODUCTION_ARMS[arm])
        for k, v in REPRODUCTION_ARMS[arm].items():
            assert getattr(cfg, k) == v


def test_pass_rate_shares_bin_each_rate_once():
    rates = np.array([0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.0])
    shares = pass_rate_shares(rates)
    assert len(shares) == len(PASS_RATE_BINS) and shares.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares * len(rates), [1, 2, 2, 1, 2])   # 0 | .25 1/3 | .5 2/3 | .75 | 1 1
    with pytest.raises(ValueError, match="no pass rates"):
        pass_rate_shares(np.array([]))


def _with_costs(st: RunStore, t: int) -> None:
    """Iteration t of a fake store as the loop writes it for a predicting arm with a trained creator and the
    frontier check: a prediction table, creator_training rows and event, the pairs' frontier stats."""
    st.write_table(t, "prediction", pd.DataFrame({"prompt_id": ["a", "b", "c"], "in_set": [True, True, False],
                                                   "rollouts_saved": [4, 0, 4]}))
    st.write_table(t, "creator_training", pd.DataFrame({"valid": [True, False, True, True],
                                                         "reward": [1.0, 0.0, 0.5, 0.5]}))
    st.log_event("creator_training", iteration=t, seconds=12.5)
    pairs = st.read_table(t, "pairs")
    pairs.attrs["frontier"] = {"frontier_n_evolved": 8, "frontier_n_dropped": 2, "frontier_drop_rate": 0.25}
    st.write_table(t, "pairs", pairs)


def test_curriculum_costs_count_what_the_iteration_spent(tmp_path):
    st = _fake_grid(tmp_path, arms=("eva",), seeds=(1,), iterations=2)["eva"][0]
    plain = curriculum_costs(st, 0)
    n_resp = len(st.read_table(0, "responses"))
    assert plain["rollouts"] == n_resp and plain["rollouts_saved"] == 0 and plain["creator_rollouts"] == 0
    assert np.isnan(plain["frontier_drop_rate"]) and np.isnan(plain["creator_train_s"])
    n_pairs = len(st.read_table(0, "pairs"))
    assert plain["rollouts_per_pair"] == pytest.approx(n_resp / n_pairs)
    _with_costs(st, 1)
    c = curriculum_costs(st, 1)
    assert c["rollouts_saved"] == 4                       # the out-of-set prompt's saving is not counted
    assert c["creator_rollouts"] == 3 * st.config.n_responses and c["creator_train_s"] == 12.5
    assert c["creator_reward"] == pytest.approx(0.5) and c["frontier_drop_rate"] == 0.25
    n1 = len(st.read_table(1, "pairs"))
    assert c["rollouts_per_pair"] == pytest.approx((c["rollouts"] + c["creator_rollouts"]) / n1)
    rows = per_seed_rows({"eva": [st]})
    assert set(COST_COLUMNS) | {"rollouts_per_pair"} <= set(rows.columns)
    assert rows.loc[rows.iteration == 1, "rollouts_per_pair"].item() == pytest.approx(c["rollouts_per_pair"])
    assert rows.loc[rows.iteration == 1, "creator_train_s"].item() == 12.5


def test_pass_rate_distribution_sums_to_one_per_arm_and_iteration(tmp_path):
    stores = _fake_grid(tmp_path, seeds=(1, 2), iterations=2)
    d = pass_rate_distribution(stores)
    assert list(d.columns) == ["arm", "iteration", "bin", "share", "n_seeds"]
    sums = d.groupby(["arm", "iteration"]).share.sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert set(d.bin) <= set(PASS_RATE_BINS) and (d.n_seeds == 2).all()


def test_paired_table_and_summary_see_a_shifted_arm_against_static_and_eva(tmp_path):
    stores = _fake_grid(tmp_path, arms=("eva", "thompson", "static"), seeds=(1, 2), iterations=2,
                        shift={"thompson": 1.0})   # after θ0 thompson solves every held-out prompt
    p = paired_table(stores, n_boot=200)
    pairs = set(zip(p.arm, p.vs))
    assert pairs == {("eva", "thompson"), ("eva", "static"), ("thompson", "static")}
    res = reproduction_results(stores, base=profile_config("ci"), n_boot=200)
    back = load_results(write_results(tmp_path / "c.json", res))
    assert set(back["pass_rates"].arm) == {"eva", "thompson", "static"}
    s = summary_table(back).set_index("arm")
    assert list(s.index) == ["eva", "thompson", "static"] and (s.iteration == 2).all()
    th = s.loc["thompson"]
    assert th.minus_static > 0 and th.minus_static_ci[0] > 0 and th.minus_eva > 0 and th.minus_eva_ci[0] > 0
    # static minus eva is eva minus static with its sign and CI flipped
    es = p[(p.arm == "eva") & (p.vs == "static") & (p.metric == "full") & (p.iteration == 2)].iloc[0]
    assert s.loc["static", "minus_eva"] == pytest.approx(-es.delta)
    assert s.loc["static", "minus_eva_ci"] == pytest.approx((-es.ci_high, -es.ci_low))
    assert np.isnan(s.loc["static", "minus_static"]) and np.isnan(s.loc["eva", "minus_eva"])
    assert s.loc["eva", "rollouts"] > 0 and s.loc["eva", "rollouts_saved"] == 0
    v = summary_view(summary_table(back)).set_index("arm")
    assert v.loc["static", "minus_static"] == "—" and v.loc["thompson", "minus_static"].startswith("+")
    lo, hi = th.minus_static_ci
    assert v.loc["thompson", "minus_static"] == f"{th.minus_static:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    # the README's table: one row per arm, the same numbers, eva behind thompson in every resample
    md = curricula_markdown_table(back).splitlines()
    assert md[0].startswith("| arm | seeds | held-out |") and [r.split(" | ")[0] for r in md[2:]] == [
        "| eva", "| thompson", "| static"]
    row = md[3].strip("| ").split(" | ")
    assert row[1] == "2" and row[2] == f"{th.heldout:.3f} [{th.heldout_ci[0]:.3f}, {th.heldout_ci[1]:.3f}]"
    assert row[4].startswith(f"{th.minus_eva:+.3f} [") and row[4].endswith("(1.00)")
    assert row[5] == v.loc["thompson", "minus_static"] and "-" not in "".join(md[2:])  # minus signs are "−"
    assert row[-1] == "ahead of eva, ahead of static"
    one_seed = {**back, "seeds": [1, 2, 3]}            # a grid of 3 seeds of which 2 are in: no verdict yet
    assert curricula_markdown_table(one_seed).splitlines()[3].endswith("| interim (2 of 3 seeds) |")


def test_a_verdict_states_nulls_and_never_calls_an_interval_holding_zero_a_win():
    nan = (float("nan"), float("nan"))
    assert curriculum_verdict(3, 3, (0.01, 0.2), (-0.3, -0.01)) == "ahead of eva, behind static"
    assert curriculum_verdict(3, 3, (-0.01, 0.2), nan) == "null vs eva"            # static's own row
    assert curriculum_verdict(3, 3, nan, (0.0, 0.1)) == "null vs static"           # 0 at the edge is not a win
    assert curriculum_verdict(1, 3, (0.5, 0.9), (0.5, 0.9)) == "interim (1 of 3 seeds)"


def test_the_online_dynamic_arm_differs_only_in_dynamic_sampling(tmp_path):
    calls = []
    run_online_arms(profile_config("ci"), [1], tmp_path, steps=4, evolve_every=2, progress=False,
                    arms=("online-eva", "online-eva+dynamic"),
                    run_fn=lambda cfg, **kw: calls.append((cfg, kw)))
    (eva, eva_kw), (dyn, dyn_kw) = calls
    assert not eva.dynamic_sampling and dyn.dynamic_sampling and eva_kw == dyn_kw
    assert eva.replace(dynamic_sampling=True, run_dir=dyn.run_dir) == dyn
    with pytest.raises(ValueError, match="choose among"):
        run_online_arms(profile_config("ci"), [1], tmp_path, arms=("bogus",), run_fn=lambda cfg, **kw: None)


def test_creator_training_figure_from_a_run_and_from_its_saved_table(tmp_path):
    from evalab import plots

    st = _fake_grid(tmp_path, arms=("eva",), seeds=(1,), iterations=2)["eva"][0]
    assert plots.creator_training_table(st).empty
    assert "was not trained" in plots.fig_creator_training(st).layout.annotations[0].text
    with pytest.raises(ValueError, match="no creator_training stage"):
        plots.save_creator_training(st, tmp_path / "x.json")
    for t, rates in ((0, [0.0, 1.0, np.nan, 0.0]), (1, [0.5, 0.25, 0.75, np.nan])):
        st.write_table(t, "creator_training", pd.DataFrame({
            "call": 0, "step": [1, 1, 2, 2], "parent_id": "p", "completion": "c", "proposal": ["a", "b", "", "d"],
            "valid": [not np.isnan(r) for r in rates], "reason": "", "pass_rate": rates,
            "reward": [1 - 2 * abs(r - 0.5) if r == r else 0.0 for r in rates]}))
    T = plots.creator_training_table(st)
    assert len(T) == 8 and sorted(T.t.unique()) == [0, 1]
    back = plots.load_creator_training(plots.save_creator_training(st, tmp_path / "ct.json"))
    assert back.attrs["creator_reward"] == st.config.creator_reward
    pd.testing.assert_frame_equal(back[T.columns].astype(T.dtypes.to_dict()), T, check_dtype=False)
    for fig in (plots.fig_creator_training(st), plots.fig_creator_training(back)):
        line = fig.data[0]
        np.testing.assert_allclose(line.y, [0.0, 0.0, 0.75, 0.25])   # mean reward per (t, GRPO step)
        hists = [tr for tr in fig.data if tr.type == "histogram"]
        assert [h.name for h in hists] == ["t=0", "t=1"] and len(hists[0].x) == 3   # valid proposals only
