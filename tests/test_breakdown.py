"""Per-iteration breakdown: pass/fail shares, informativeness from one reward component, the EMA across
iterations, generated tokens and pairs in summary(), and compare's gain per token and per pair."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from evalab.breakdown import count_tokens, gain_per_cost, pass_breakdown, reward_ema
from evalab.config import profile_config
from evalab.loop import summarize, weigh_prompts
from evalab.rewards import ConstraintReward, reward_components
from evalab.store import RunStore
from tests.fake_run import build_fake_run
from tests.test_loop import UNTIL_PAIRS, make_run


def test_pass_breakdown_outcomes():
    r = np.array([[0.2, 0.5, 0.9], [1.0, 1.0, np.nan], [1.0, 0.3, 0.99], [np.nan, np.nan, np.nan],
                  [0.9 + 0.1 - 1e-12, 1.0, 1.0]])
    b = pass_breakdown(r, threshold=1.0)
    assert b.outcome.tolist() == ["all_fail", "all_pass", "mixed", "unscored", "all_pass"]
    np.testing.assert_allclose(b.pass_rate.to_numpy()[:3], [0.0, 1.0, 1 / 3])
    assert np.isnan(b.pass_rate.iloc[3])
    assert pass_breakdown(r, threshold=0.5).outcome.tolist()[:3] == ["mixed", "all_pass", "mixed"]


def test_reward_ema_takes_the_prompt_its_parent_or_nothing_as_prior():
    prev = {"a": 0.2, "p": 1.0}
    out = reward_ema(["a", "child", "new", "b"], [None, "p", "zzz", "a"], np.array([0.6, 0.0, 0.5, np.nan]), prev,
                     decay=0.75)
    np.testing.assert_allclose(out, [0.75 * 0.2 + 0.25 * 0.6, 0.75 * 1.0, 0.5, 0.2])
    with pytest.raises(ValueError, match="decay"):
        reward_ema(["a"], [None], np.array([0.1]), {}, decay=1.0)


def test_ema_replaces_the_mean_in_mean_metrics_only():
    r = np.array([[0.0, 1.0], [0.5, 0.5]])
    ema = np.array([0.9, 0.1])
    w = weigh_prompts(["a", "b"], r, "avg", reward_ema=ema)
    np.testing.assert_allclose(w.weight, ema)
    np.testing.assert_allclose(w.reward_ema, ema)
    np.testing.assert_allclose(w.avg, [0.5, 0.5])  # the per-metric columns stay this iteration's
    w = weigh_prompts(["a", "b"], r, "a_min", reward_ema=ema)
    np.testing.assert_allclose(w.weight, [1.0, 0.0])


class _Tok:
    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [list(t) for t in texts]}  # one token per character


def test_count_tokens_uses_the_backends_tokenizer():
    class B:
        tokenizer = _Tok()

    assert count_tokens(B(), ["abc", None, "de"]).tolist() == [3, 0, 2]
    assert count_tokens(object(), ["one two three", None]).tolist() == [3, 0]


def test_constraint_reward_components_add_up_to_the_reward():
    rew = ConstraintReward()
    assert reward_components(rew) == ("full", "frac", "partial")
    prompts = [{"text": "x", "constraints": [{"kind": "lowercase"}, {"kind": "word_count_max", "n": 3}]},
               {"text": "y", "constraints": []}]
    responses = [["all lowercase words here", "ok fine", "LOUD"], ["a", "b", None]]
    c = rew.components(prompts, responses)
    total = rew(prompts, responses)
    np.testing.assert_allclose(0.9 * c["frac"] + 0.1 * c["partial"], total)
    assert c["full"][0].tolist() == [0.0, 1.0, 0.0] and np.isnan(c["full"][1]).all()


def test_a_ci_run_records_the_breakdown_in_store_and_summary(tmp_path, caplog):
    run = make_run(tmp_path)
    with caplog.at_level(logging.WARNING, logger="evalab.loop"):
        run.run(until=UNTIL_PAIRS)
    assert any("composite" in r.message and "informativeness_reward" in r.message for r in caplog.records)
    s = run.store
    resp = s.read_table(0, "responses")
    assert {"n_tokens", "reward_full", "reward_frac", "reward_partial"} <= set(resp.columns)
    assert resp.n_tokens.tolist() == [len(x.split()) for x in resp.response]  # TableBackend has no tokenizer
    w = s.read_table(0, "weights")
    assert set(w.outcome) <= {"all_fail", "all_pass", "mixed", "unscored"} and "pass_rate" in w
    row = run.summary().iloc[0]
    for col in ("frac_all_fail", "frac_all_pass", "frac_mixed", "frac_informative", "gen_tokens", "n_pairs"):
        assert col in row.index and np.isfinite(row[col]), col
    assert row.frac_all_fail + row.frac_all_pass + row.frac_mixed == pytest.approx(1.0)
    expected = resp.n_tokens.sum() + s.read_table(0, "train_responses").n_tokens.sum()
    assert row.gen_tokens == expected > 0
    assert row.n_pairs == len(s.read_table(0, "pairs"))


def test_informativeness_from_one_component(tmp_path, caplog):
    run = make_run(tmp_path, informativeness_reward="full")
    with caplog.at_level(logging.WARNING, logger="evalab.loop"):
        run.creator_step(0)
    assert not any("composite" in r.message for r in caplog.records)
    w = run.store.read_table(0, "weights")
    resp = run.store.read_table(0, "responses")
    spread = resp.groupby("prompt_id").reward_full.agg(lambda x: x.max() - x.min())
    np.testing.assert_allclose(w.set_index("prompt_id").a_min.loc[spread.index], spread)  # a 0/1 spread
    composite = resp.groupby("prompt_id").reward.agg(lambda x: x.max() - x.min())
    assert not np.allclose(composite.loc[spread.index], spread)  # the composite would have selected otherwise


def test_informativeness_reward_is_validated():
    with pytest.raises(ValueError, match="EvaConfig.informativeness_reward"):
        profile_config("ci", informativeness_reward="score")
    with pytest.raises(ValueError, match="EvaConfig.informativeness_reward"):
        profile_config("ci", reward="rm:some/model", informativeness_reward="full")
    with pytest.raises(ValueError, match="EvaConfig.ema"):
        profile_config("ci", ema=1.0)


def test_ema_in_the_offline_loop_carries_over_through_lineage(tmp_path):
    run = make_run(tmp_path, ema=0.5, metric="avg")
    run.run(until=UNTIL_PAIRS)
    with run.store.checkpoint_writer(0) as out:  # stand-in for training (TableBackend ignores the path)
        (out / "config.json").write_text("{}")
    run.run_stage(1, "responses")
    run.run_stage(1, "weights")
    w0 = run.store.read_table(0, "weights").set_index("prompt_id")
    w1 = run.store.read_table(1, "weights").set_index("prompt_id")
    np.testing.assert_allclose(w0.reward_ema, w0.reward_mean)  # no prior at t = 0
    np.testing.assert_allclose(w1.weight, w1.reward_ema)       # avg weighs the EMA
    ev = run.store.read_table(0, "evolved")
    root = dict(zip(ev["id"], ev["root_id"]))  # chained evolution: a variant's parent may be an earlier step
    n_prior = 0
    for p in run.prompts(1):
        ancestor = root.get(p.id, p.parent_id)
        prior = w0.reward_ema.get(p.id, w0.reward_ema.get(ancestor, np.nan) if ancestor else np.nan)
        want = w1.reward_mean[p.id] if np.isnan(prior) else 0.5 * prior + 0.5 * w1.reward_mean[p.id]
        n_prior += not np.isnan(prior)
        assert w1.reward_ema[p.id] == pytest.approx(want), p.id
    assert n_prior == len(w1)  # every prompt of X_1 is a buffer prompt or an evolved child of X_0
    assert "reward_ema_mean" in run.summary()


def test_an_old_run_directory_resumes_with_the_new_fields(tmp_path):
    d = tmp_path / "old"
    cfg = profile_config("ci", run_dir=str(d))
    RunStore(d, cfg)
    old = json.loads((d / "config.json").read_text())
    for k in ("ema", "informativeness_reward", "pass_threshold"):
        old.pop(k)
    (d / "config.json").write_text(json.dumps(old))
    RunStore(d, cfg)  # fields the run directory predates have their defaults there


def _fake_ablation(root):
    for arm, gain in (("eva", 0.05), ("static", 0.02)):
        for seed in (1, 2):
            d = build_fake_run(root / arm / f"seed{seed}", n_iterations=1, n_prompts=6, seed=seed, skill_gain=gain)
            st = RunStore(d)
            for t in (0, 1):
                e = st.read_json(t, "eval")
                e["per_prompt"] = {"prompt_id": ["a", "b"], "frac": [0.5, 0.5],
                                   "full": [0.2 + (gain * 10 if t else 0), 0.4]}
                st.write_json(t, "eval", e)
            resp = st.read_table(0, "responses")
            st.write_table(0, "responses", resp.assign(n_tokens=100 if arm == "eva" else 50))
            if arm == "eva":
                st.write_table(0, "train_responses", resp.assign(n_tokens=100))
    return root


def test_gain_per_cost_and_compare_print_it(tmp_path, capsys):
    from evalab.__main__ import main
    from evalab.ablation import load_ablation

    root = _fake_ablation(tmp_path / "abl")
    stores = load_ablation(root)
    g = gain_per_cost(stores).set_index("arm")
    assert g.loc["eva", "gain"] == pytest.approx(0.25) and g.loc["static", "gain"] == pytest.approx(0.1)
    n_eva = len(stores["eva"][0].read_table(0, "responses"))
    assert g.loc["eva", "gen_tokens"] == pytest.approx(2 * 100 * n_eva)  # steps 1 and 6
    n_static = len(stores["static"][0].read_table(0, "responses"))
    assert g.loc["static", "gen_tokens"] == pytest.approx(50 * n_static)  # no train_responses written there
    assert g.loc["eva", "gain_per_mtok"] == pytest.approx(0.25 / (2 * 100 * n_eva / 1e6))
    pairs = np.mean([len(s.read_table(0, "pairs")) for s in stores["eva"]])
    assert g.loc["eva", "gain_per_pair"] == pytest.approx(0.25 / pairs)
    assert main(["compare", str(root), "--out", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "gain_per_mtok" in out and "gain_per_pair" in out
    assert {r["arm"] for r in json.loads((tmp_path / "c.json").read_text())["per_cost"]} == {"eva", "static"}


# --- plots and the monitor -------------------------------------------------------------------------------

def test_breakdown_plots_on_a_real_loop_store_and_on_old_runs(tmp_path):
    from evalab import plots

    run = make_run(tmp_path)
    run.run(until=UNTIL_PAIRS)
    B = plots.breakdown_table(run.store)
    S = run.summary()
    assert B.t.tolist() == [0] and B.gen_tokens.iloc[0] == S.gen_tokens.iloc[0] > 0
    fig = plots.fig_outcome_shares(run.store)
    bars = {tr.name: tr.y[0] for tr in fig.data if tr.type == "bar"}
    assert bars == {"all fail": S.frac_all_fail[0], "mixed": S.frac_mixed[0], "all pass": S.frac_all_pass[0]}
    cost = plots.fig_iteration_cost(run.store)
    assert [tr.y[0] for tr in cost.data] == [S.gen_tokens[0], S.n_pairs[0]]
    old = build_fake_run(tmp_path / "old", n_iterations=2, n_prompts=6, partial=True)  # no n_tokens, no outcome
    B = plots.breakdown_table(old)
    assert len(B) == 2 and B.gen_tokens.isna().all() and B.frac_mixed.notna().all()
    assert "not recorded" in str(plots.fig_iteration_cost(old).layout.annotations)
    empty = RunStore(tmp_path / "empty", profile_config("ci", run_dir=str(tmp_path / "empty")))
    assert "no weights stage" in str(plots.fig_outcome_shares(empty).layout.annotations)


def test_monitor_follows_an_online_log_with_group_outcomes(tmp_path):
    import widgets

    d = tmp_path / "online"
    RunStore(d, profile_config("ci", run_dir=str(d)))
    log = pd.DataFrame({"step": [1, 2], "loss": [0.1, 0.05], "frac_all_fail": [0.5, 0.25],
                        "frac_mixed": [0.25, 0.5], "frac_all_pass": [0.25, 0.25]})
    log.to_parquet(d / "train_log.parquet")
    mon = widgets.TrainingMonitor(d, headless=True)
    assert "step 2" in mon.status.value and "all fail 25%" in mon.status.value and "mixed 50%" in mon.status.value
    assert mon.has_outcomes and [tr.name for tr in mon.outcomes_figure.data] == ["all fail", "mixed", "all pass"]
    log.drop(columns=["frac_all_fail", "frac_mixed", "frac_all_pass"]).to_parquet(d / "train_log.parquet")
    plain = widgets.TrainingMonitor(d, headless=True)
    assert "step 2" in plain.status.value and "all fail" not in plain.status.value and not plain.has_outcomes
    log.assign(step=[1, 3]).to_parquet(d / "train_log.parquet")  # a new log step
    assert plain.poll() is True and "all fail 25%" in plain.status.value and plain.has_outcomes


def test_stored_rewards_for_recomputed_selections_follow_informativeness_reward(tmp_path):
    from evalab import plots

    run = make_run(tmp_path, informativeness_reward="full")
    run.creator_step(0)
    ids, r = plots.reward_matrix(run.store, 0)
    assert set(np.unique(r[~np.isnan(r)])) <= {0.0, 1.0}
    sel = plots.recompute_selection(run.store, 0, metric=run.cfg.metric)
    assert set(sel.prompt_id[sel.selected]) == set(run.store.read_table(0, "selected").prompt_id)  # the run's own selection, reproduced


def test_gain_per_cost_on_stores_with_evals_only(tmp_path):
    d = tmp_path / "eva" / "seed1"
    st = RunStore(d, profile_config("ci", run_dir=str(d), seed=1))
    for t, full in ((0, [0.0, 1.0]), (1, [1.0, 1.0])):
        st.write_json(t, "eval", {"constraint_rate": 0.5, "full_rate": 0.5,
                                  "per_prompt": {"prompt_id": ["a", "b"], "frac": full, "full": full}})
    g = gain_per_cost({"eva": [st]})
    assert g.gain.tolist() == [0.5] and g.gain_per_mtok.isna().all() and g.gain_per_pair.isna().all()


def test_heldout_headline_reads_first_and_last_evaluated_solver(tmp_path):
    from evalab.breakdown import heldout_headline
    from evalab.loop import summarize
    from evalab.store import RunStore

    d = build_fake_run(tmp_path / "run", n_iterations=2, n_prompts=6, seed=3)
    summ = summarize(RunStore(d)).dropna(subset=["heldout_full_rate"])
    line = heldout_headline(d)
    first, last = summ.iloc[0], summ.iloc[-1]
    assert line.startswith(f"θ{int(first.iteration)} → θ{int(last.iteration)} held-out")
    assert f"fully satisfied {first.heldout_full_rate:.3f} → {last.heldout_full_rate:.3f}" in line
    assert f"constraints satisfied {first.heldout_constraint_rate:.3f} → {last.heldout_constraint_rate:.3f}" in line


def test_heldout_headline_names_a_run_without_evaluation(tmp_path):
    from evalab.breakdown import heldout_headline
    from evalab.config import profile_config
    from evalab.store import RunStore

    d = tmp_path / "empty"
    RunStore(d, profile_config("ci", run_dir=str(d)))
    with pytest.raises(ValueError, match="no held-out evaluation"):
        heldout_headline(d)
