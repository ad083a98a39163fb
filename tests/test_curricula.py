"""Frontier curricula beyond eva (evalab.curricula, issue 15): the MoPPS Beta update and Thompson choice, GRESO's
skip rule and its adaptation, the frontier band, ROUGE-L novelty, the creator rewards; then each through a real
(tiny) EvaRun on the ci profile with the deterministic stand-in backend of tests/test_loop.py (no model loaded,
no training: every loop test stops at iteration 0's pairs)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from evalab.config import IDENTITY_FIELDS, EvaConfig, profile_config
from evalab.curricula import (
    CREATOR_REWARDS, PredictionState, beta_update, creator_reward, frontier_keep, greso_adapt, greso_skip,
    greso_skip_probability, inherited_prior, lcs_length, novelty_reject, observe, pass_counts, penalized_reward,
    plan_step1, prediction_state, repetition_penalty, rouge_l, state_from_table, state_table, thompson_choose,
    zero_variance,
)
from evalab.loop import reward_matrix, summarize
from test_loop import make_run

UNTIL_PAIRS = (0, "pairs")
CFG = profile_config("ci", run_dir="unused")

# --- MoPPS: the discounted Beta update and the Thompson choice ------------------------------------------------


def test_beta_update_by_hand():
    a, b = beta_update(1.0, 1.0, successes=3, failures=1, discount=0.8)
    assert (a, b) == pytest.approx((3.8, 1.8))            # 0.8·1 + 3, 0.8·1 + 1
    a, b = beta_update(a, b, successes=0, failures=4, discount=0.8)
    assert (a, b) == pytest.approx((3.04, 5.44))          # 0.8·3.8 + 0, 0.8·1.8 + 4
    a, b = beta_update(np.array([2.0, 1.0]), np.array([1.0, 5.0]), np.array([1, 0]), np.array([0, 2]), 1.0)
    assert a.tolist() == [3.0, 1.0] and b.tolist() == [1.0, 7.0]   # λ = 1: the plain conjugate update
    with pytest.raises(ValueError, match="discount"):
        beta_update(1, 1, 0, 0, 0.0)


def test_pass_counts_follow_pass_threshold_and_skip_unscored():
    r = np.array([[1.0, 0.9, np.nan, 1.0 - 1e-12], [0.2, 0.4, 0.4, 0.4]])
    s, f = pass_counts(r, threshold=1.0)
    assert s.tolist() == [2, 0] and f.tolist() == [1, 4]
    s, f = pass_counts(r, threshold=0.4)
    assert s.tolist() == [3, 3] and f.tolist() == [0, 1]


def test_observe_updates_posterior_and_zero_run_with_lineage_prior():
    cfg = CFG.replace(thompson_discount=0.5, thompson_prior_alpha=2.0, thompson_prior_beta=1.0)
    st = observe(PredictionState(), ["a"], np.array([[1.0, 1.0, 0.0, 0.0]]), cfg)
    assert (st.alpha["a"], st.beta["a"]) == pytest.approx((0.5 * 2 + 2, 0.5 * 1 + 2)) and st.zero_run["a"] == 0
    # a child of "a" never observed: a's posterior shrunk toward the prior, λ·α_a + (1 − λ)·α₀
    a, b, src = inherited_prior("a.1", {"a.1": "a"}, st, cfg)
    assert src == "parent" and (a, b) == pytest.approx((0.5 * 3 + 0.5 * 2, 0.5 * 2.5 + 0.5 * 1))
    assert inherited_prior("z", {}, st, cfg) == (2.0, 1.0, "prior")
    st2 = observe(st, ["a.1", "a"], np.array([[0.0, 0.0, 0.0, 0.0], [0.3, 0.3, 0.3, np.nan]]), cfg, {"a.1": "a"})
    assert (st2.alpha["a.1"], st2.beta["a.1"]) == pytest.approx((0.5 * 2.5, 0.5 * 1.75 + 4))
    assert st2.zero_run == {"a": 1, "a.1": 1}              # all-equal rewards: a zero-variance observation
    st3 = observe(st2, ["a"], np.array([[0.3, 0.3, 1.0, 1.0]]), cfg)
    assert st3.zero_run["a"] == 0 and st2.zero_run["a"] == 1   # a spread resets the run; observe copies
    assert zero_variance(np.array([[1.0, np.nan, np.nan, np.nan]])).tolist() == [False]  # one score: no variance seen


def test_thompson_choice_targets_the_pass_rate_and_is_seeded():
    alpha = np.array([1000.0, 1.0, 1000.0, 300.0])
    beta = np.array([1000.0, 1000.0, 1.0, 700.0])          # pass rates ≈ 0.5, 0, 1, 0.3
    idx, draws = thompson_choose(alpha, beta, 2, 0.5, np.random.default_rng(0))
    assert idx.tolist() == [0, 3] and draws.shape == (4,)
    assert thompson_choose(alpha, beta, 2, 0.95, np.random.default_rng(0))[0].tolist() == [2, 0]
    assert thompson_choose(alpha, beta, 1, 0.0, np.random.default_rng(0))[0].tolist() == [1]
    flat = np.ones(50)
    c1 = thompson_choose(flat, flat, 10, 0.5, np.random.default_rng(1))[0]
    assert c1.tolist() == thompson_choose(flat, flat, 10, 0.5, np.random.default_rng(1))[0].tolist()
    assert c1.tolist() != thompson_choose(flat, flat, 10, 0.5, np.random.default_rng(2))[0].tolist()  # a draw


# --- GRESO: the skip rule and its adaptation ---------------------------------------------------------------------


def test_greso_skip_probability_rises_with_the_zero_variance_run():
    p = greso_skip_probability(np.array([0, 1, 2, 3]), 0.5)
    assert p.tolist() == pytest.approx([0.0, 0.5, 0.75, 0.875])        # 1 − p_e^z
    z = np.repeat([0, 1, 3], 4000)
    skip = greso_skip(z, 0.5, np.random.default_rng(0))
    rates = [skip[z == k].mean() for k in (0, 1, 3)]
    assert rates[0] == 0.0 and abs(rates[1] - 0.5) < 0.03 and abs(rates[2] - 0.875) < 0.03
    # too few kept: skipped prompts come back, lowest P(skip) first
    z = np.array([5, 5, 5, 1, 1])
    skip = greso_skip(z, 0.01, np.random.default_rng(0), keep_at_least=2)
    assert (~skip).sum() == 2 and not skip[3] and not skip[4]


def test_greso_adapts_the_exploration_probability_toward_the_target():
    assert greso_adapt(0.5, zero_share=0.6, target=0.25, step=0.05) == pytest.approx(0.45)   # too many: skip more
    assert greso_adapt(0.5, zero_share=0.1, target=0.25, step=0.05) == pytest.approx(0.55)   # too few: skip less
    assert greso_adapt(0.98, 0.0, 0.25, 0.05) == 1.0 and greso_adapt(0.06, 1.0, 0.25, 0.05) == 0.05  # [Δ, 1]
    assert greso_adapt(0.5, float("nan"), 0.25, 0.05) == 0.5


def test_plan_step1_skips_and_chooses_and_counts_saved_rollouts():
    cfg = CFG.replace(sampling="thompson", skip="greso", subset_fraction=0.5, n_responses=3)
    st = PredictionState(alpha={"a": 50.0, "b": 1.0, "c": 50.0}, beta={"a": 50.0, "b": 99.0, "c": 1.0},
                         zero_run={"a": 0, "b": 4, "c": 0}, p_explore=0.1)
    plan = plan_step1(st, ["a", "b", "c", "d"], {"d": "a"}, cfg, seed=0)
    assert plan.prior_source.tolist() == ["own", "own", "own", "parent"]
    assert plan.p_skip.tolist() == pytest.approx([0, 1 - 0.1 ** 4, 0, 0])
    assert plan.generate.sum() == 2 and plan.rollouts_saved.sum() == 2 * 3
    assert set(plan.prompt_id[plan.generate]) == {"a", "d"}      # the two near 0.5 (d inherits a's posterior)
    # the stored table gives the same state back (resume)
    back = state_from_table(state_table(st, plan))
    assert back.alpha == st.alpha and back.zero_run == st.zero_run and back.p_explore == 0.1


# --- the frontier band and novelty -----------------------------------------------------------------------------


def test_frontier_keep_drops_only_evolved_prompts_outside_the_band():
    rate = np.array([0.0, 0.2, 0.5, 0.8, 1.0, np.nan, 0.0])
    evolved = np.array([True, True, True, True, True, True, False])
    assert frontier_keep(rate, evolved, [0.2, 0.8]).tolist() == [False, True, True, True, False, False, True]


def _lcs_dp(a, b):
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, j in itertools.product(range(len(a)), range(len(b))):
        t[i + 1][j + 1] = t[i][j] + 1 if a[i] == b[j] else max(t[i][j + 1], t[i + 1][j])
    return t[-1][-1]


def test_rouge_l_by_hand_and_lcs_against_dynamic_programming():
    assert rouge_l("the cat on the mat", "the cat sat on the mat") == pytest.approx(2 * 5 / (5 + 6))
    assert rouge_l("Explain tides, to a child!", "explain tides to a child") == 1.0   # normalized tokens
    assert rouge_l("a b c d", "d c b a") == pytest.approx(0.25)                        # LCS 1 of 4 and 4
    assert rouge_l("", "anything") == 0.0 and rouge_l("x y", "z w") == 0.0
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = list(rng.choice(list("abcde"), rng.integers(0, 70)))
        b = list(rng.choice(list("abcde"), rng.integers(0, 70)))
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_novelty_reject_against_pool_and_earlier_variants():
    ev = pd.DataFrame({"text": ["explain the tides to a child", "write a poem about bread", "write a poem about bread",
                                "list three facts about rome"], "accepted": [True, True, True, False],
                       "reason": ["ok", "ok", "ok", "copy"]})
    out = novelty_reject(ev, ["explain tides to a child"], 0.7)
    assert out.reason.tolist() == ["not_novel", "ok", "not_novel", "copy"]
    assert out.accepted.tolist() == [False, True, False, False]
    assert out.rouge_l_max.iloc[0] == pytest.approx(2 * 5 / 11) and np.isnan(out.rouge_l_max.iloc[3])
    assert novelty_reject(ev, ["explain tides to a child"], 1.0).accepted.tolist() == [True, True, True, False]


# --- creator rewards ------------------------------------------------------------------------------------------


def test_creator_rewards_by_hand():
    r = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [np.nan] * 4, [0.5, 0.9, np.nan, 0.5]],
                 dtype=float)  # pass rates 1, 1/4, 1/2, 0, unscored, 0
    assert creator_reward("r_zero", r).tolist() == pytest.approx([0, 0.5, 1, 0, 0, 0])   # 1 − 2|p̂ − ½|
    assert creator_reward("azr", r).tolist() == pytest.approx([0, 0.75, 0.5, 0, 0, 0])   # 1 − p̄ inside (0, 1)
    assert creator_reward("sqlm", r).tolist() == [0, 1, 1, 0, 0, 0]                     # some but not all
    assert creator_reward("informativeness", r).tolist() == pytest.approx([0, 1, 1, 0, 0, 0.4])  # A*_min
    assert creator_reward("sqlm", r, pass_threshold=0.9)[5] == 1.0 and creator_reward("sqlm", r, pass_threshold=0.5)[5] == 0
    with pytest.raises(ValueError, match="creator_reward='nope'"):
        creator_reward("nope", r)
    assert CREATOR_REWARDS == ("r_zero", "azr", "sqlm", "informativeness")


def test_repetition_penalty_against_the_batch():
    texts = ["explain tides to a child", "explain tides to a small child", "write a poem about bread"]
    assert repetition_penalty(texts).tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3])   # |cluster| / B
    r = np.array([[1, 1, 0, 0]] * 3, dtype=float)
    assert penalized_reward("r_zero", r, texts).tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3])


# --- config ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field,value", [("sampling", "thompsn"), ("skip", "gresso"), ("target_pass_rate", 1.5),
                                         ("thompson_discount", 0.0), ("thompson_prior_alpha", 0.0),
                                         ("greso_step", 0.0), ("frontier_band", [0.8, 0.2]),
                                         ("frontier_band", [0.2]), ("novelty_max_rougeL", -0.1)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"EvaConfig.{field}="):
        profile_config("ci", **{field: value})


def test_config_fields_from_profile_and_cli():
    from evalab.__main__ import _parse_set

    over = _parse_set(["sampling=thompson", "skip=greso", "frontier_band=[0.2, 0.8]", "novelty_max_rougeL=0.7",
                       "target_pass_rate=0.4"])
    cfg = profile_config("ci", **over)
    assert (cfg.sampling, cfg.skip, cfg.frontier_band, cfg.novelty_max_rougeL) == ("thompson", "greso", [0.2, 0.8], 0.7)
    assert profile_config("ci", frontier_band=(0.3, 0.8)).frontier_band == [0.3, 0.8]
    assert EvaConfig.from_dict(cfg.to_dict()) == cfg
    assert {"skip", "frontier_band", "novelty_max_rougeL", "thompson_discount"} <= set(IDENTITY_FIELDS)


# --- through the loop (ci profile, stand-in backend, real reward and creator) -----------------------------------


def test_thompson_generates_only_for_the_chosen_prompts_and_persists_its_state(tmp_path):
    run = make_run(tmp_path, sampling="thompson")
    run.run(until=UNTIL_PAIRS)
    s = run.store
    plan = s.read_table(0, "prediction")
    chosen = plan[plan.chosen_rank >= 0].sort_values("chosen_rank")
    assert len(chosen) == 8 and plan.in_set.all()                     # k = ceil(0.5 · 16), all from the prior
    resp = s.read_table(0, "responses")
    assert set(resp.prompt_id) == set(chosen.prompt_id)              # the other 8 prompts were never generated for
    assert s.read_table(0, "selected").prompt_id.tolist() == chosen.prompt_id.tolist()
    assert summarize(s).rollouts_saved.iloc[0] == 8 * 4
    # the state entering iteration 1: step 1's and step 6's observations, by hand from the stored tables
    st = prediction_state(s, run.cfg, 1)
    lam, a0 = run.cfg.thompson_discount, run.cfg.thompson_prior_alpha
    pid = chosen.prompt_id.iloc[0]
    x1 = s.read_table(1, "prompts")
    succ, fail = pass_counts(reward_matrix(resp, [pid]), run.cfg.pass_threshold)
    a, b = lam * a0 + succ[0], lam * a0 + fail[0]
    if pid in set(x1.id):  # a buffer prompt is observed again at step 6
        tr = s.read_table(0, "train_responses")
        s6, f6 = pass_counts(reward_matrix(tr, [pid]), run.cfg.pass_threshold)
        a, b = lam * a + s6[0], lam * b + f6[0]
    assert (st.alpha[pid], st.beta[pid]) == pytest.approx((a, b))
    evolved = x1[x1.source == "evolved"].id
    assert len(evolved) and set(evolved) <= set(st.alpha)           # every prompt of X_1 has a posterior
    # resume: losing the responses stage regenerates the same prompts from the stored prediction
    before = resp.copy()
    s.path(0, "responses").unlink()
    run.run_stage(0, "responses")
    pd.testing.assert_frame_equal(s.read_table(0, "responses"), before)


def test_greso_state_counts_zero_variance_runs_and_adapts(tmp_path):
    run = make_run(tmp_path, skip="greso", greso_target=0.0, greso_step=0.1, greso_explore_init=0.5)
    run.run(until=UNTIL_PAIRS)
    s = run.store
    plan = s.read_table(0, "prediction")
    assert not plan.skipped.any() and summarize(s).rollouts_saved.iloc[0] == 0   # no history yet: nothing skipped
    assert len(s.read_table(0, "selected")) == 8
    st = prediction_state(s, run.cfg, 1)
    zv = zero_variance(reward_matrix(s.read_table(0, "responses"), plan.prompt_id.tolist()))
    assert zv.any() and st.p_explore == pytest.approx(0.4)          # share > target 0: p_e − Δ
    tr = s.read_table(0, "train_responses")
    x1 = s.read_table(1, "prompts").id.tolist()
    zv1 = zero_variance(reward_matrix(tr, x1))
    for pid, z in zip(x1, zv1):
        assert st.zero_run[pid] >= int(z) and (z or st.zero_run[pid] == 0)
    p1 = plan_step1(st, x1, {}, run.cfg, seed=1)
    assert (p1.p_skip[p1.zero_run > 0] > 0).all() and (p1.p_skip[p1.zero_run == 0] == 0).all()


def test_frontier_band_drops_out_of_band_evolved_prompts_before_pairs(tmp_path):
    run = make_run(tmp_path, frontier_band=[0.2, 0.8])
    run.run(until=UNTIL_PAIRS)
    base = make_run(tmp_path, "base")
    base.run(until=UNTIL_PAIRS)
    s = run.store
    x1 = s.read_table(1, "prompts")
    tr = s.read_table(0, "train_responses")
    from evalab.breakdown import pass_breakdown

    rate = pass_breakdown(reward_matrix(tr, x1.id.tolist()), run.cfg.pass_threshold).pass_rate.to_numpy()
    out = set(x1.id[(x1.source == "evolved").to_numpy() & ((rate < 0.2) | (rate > 0.8))])
    assert out, "the ci stand-in gives some evolved prompt a pass rate outside [0.2, 0.8]"
    assert not out & set(s.read_table(0, "pairs").prompt_id)
    assert out & set(base.store.read_table(0, "pairs").prompt_id)  # without the band they gave pairs
    row = summarize(s).iloc[0]
    assert row.frontier_n_dropped == len(out)
    assert row.frontier_drop_rate == pytest.approx(len(out) / (x1.source == "evolved").sum())


def test_novelty_rejects_variants_close_to_the_pool(tmp_path):
    run = make_run(tmp_path, novelty_max_rougeL=0.8)
    run.run(until=(0, "evolved"))
    ev = run.store.read_table(0, "evolved")
    assert (ev.reason == "not_novel").any()
    assert (ev.loc[ev.accepted, "rouge_l_max"] <= 0.8).all()
    assert (ev.loc[ev.reason == "not_novel", "rouge_l_max"] > 0.8).all()
    ev_log = run.store.events()
    reasons = ev_log[ev_log.event == "creator"].reasons.iloc[-1]   # counted like every other reject reason
    assert reasons["not_novel"] == int((ev.reason == "not_novel").sum())


def test_run_store_guards_the_new_fields_and_old_runs_resume(tmp_path):
    import json

    from evalab.store import ConfigMismatch, RunStore

    d = tmp_path / "old"
    cfg = profile_config("ci", run_dir=str(d))
    RunStore(d, cfg)
    old = json.loads((d / "config.json").read_text())
    for k in ("sampling", "skip", "frontier_band", "novelty_max_rougeL", "thompson_discount", "greso_target"):
        if k != "sampling":
            old.pop(k)
    (d / "config.json").write_text(json.dumps(old))
    RunStore(d, cfg)  # a run directory older than the curricula fields: they were off
    with pytest.raises(ConfigMismatch, match="frontier_band"):
        RunStore(d, cfg.replace(frontier_band=[0.2, 0.8]))
    with pytest.raises(ConfigMismatch, match="sampling"):
        RunStore(d, cfg.replace(sampling="thompson"))


def test_creator_aim_frontier_eases_the_selected_prompts_below_the_aim_in_the_loop(tmp_path):
    """Step 4 under creator_aim="frontier": the chains of selected prompts with a step-1 pass rate below
    aim_pass_rate hold relax (and no add_constraints / harden), the others none; the event counts them."""
    import json

    from evalab.creator import CODE_OPERATORS

    run = make_run(tmp_path, creator_aim="frontier", aim_pass_rate=0.5)
    run.run(until=(0, "evolved"))
    s = run.store
    w = s.read_table(0, "weights").set_index("prompt_id")
    sel = list(s.read_table(0, "selected").prompt_id)
    ev = s.read_table(0, "evolved")
    low = {p for p in sel if w.at[p, "pass_rate"] < 0.5}
    assert low and low != set(sel), "the ci stand-in selects prompts on both sides of the aim"
    eased = ev[ev.root_id.isin(low)]
    assert (eased.operator == "relax").any() and not eased.operator.isin(CODE_OPERATORS).any()
    assert not (ev[~ev.root_id.isin(low)].operator == "relax").any()
    event = [json.loads(x) for x in (s.root / "events.jsonl").read_text().splitlines() if '"creator"' in x]
    assert event[-1]["n_eased"] == len(low) and event[-1]["n_hardened"] == len(sel) - len(low)


def _root_of(evolved: pd.DataFrame, child: str, roots: set[str]) -> str:
    """Walk an accepted prompt's parent links back to the selected prompt its chain started from."""
    parent = dict(zip(evolved.id[evolved.accepted], evolved.parent_id[evolved.accepted]))
    node = child
    for _ in range(len(parent) + 1):
        if node in roots:
            return node
        node = parent[node]
    raise AssertionError(f"{child}: no root")


def test_offspring_records_follow_each_evolved_prompt_from_its_root_to_its_next_outcome(tmp_path, monkeypatch):
    """offspring_records: one row per evolved prompt of X_1, with the root its parent links lead to, that root's
    step-1 pass rate at t = 0, eased iff below the aim, and the child's step-1 outcome at t = 1; a digest keeps them
    (cut by upto), offspring_outcomes counts them, and eva's rows are never eased."""
    import evalab.training
    from evalab.digest import RunDigest, digest_of
    from evalab.reproduction import (CHILD_OUTCOMES, offspring_markdown_table, offspring_outcomes,
                                     offspring_records)

    monkeypatch.setattr(evalab.training, "train_preference",
                        lambda cfg, solver, pairs, out, **kw: (out / "w").write_text("x") and {"log_history": []})
    runs = {}
    for name, over in (("aim", {"creator_aim": "frontier", "aim_pass_rate": 0.5}), ("eva", {})):
        runs[name] = make_run(tmp_path, name=name, iterations=2, **over)
        runs[name].run(until=(1, "weights"))
    s = runs["aim"].store
    rec = offspring_records(s)
    nxt = s.read_table(0, "next_prompts")
    assert list(rec.child_id) == list(nxt.id[nxt.source == "evolved"]) and len(rec) and set(rec.iteration) == {0}
    w0 = s.read_table(0, "weights").set_index("prompt_id")
    w1 = s.read_table(1, "weights").set_index("prompt_id")
    ev, sel = s.read_table(0, "evolved"), set(s.read_table(0, "selected").prompt_id)
    for r in rec.itertuples():
        assert r.root_id == _root_of(ev, r.child_id, sel)
        assert r.root_pass_rate == w0.at[r.root_id, "pass_rate"] and r.eased == (r.root_pass_rate < 0.5)
        assert r.outcome == w1.at[r.child_id, "outcome"]
    assert rec.eased.any() and not rec.eased.all(), "the ci stand-in has children on both sides of the aim"
    eva = offspring_records(runs["eva"].store)
    assert len(eva) and not eva.eased.any()

    d = digest_of(s, "aim")
    pd.testing.assert_frame_equal(d.offspring(), rec)
    assert d.upto(1).offspring().empty          # a 1-iteration run has no step 1 after its last creator step
    with pytest.raises(ValueError, match="no offspring records"):
        RunDigest({k: v for k, v in d.data.items() if k != "offspring"}).offspring()

    tab = offspring_outcomes({"aim": [d], "eva": [runs["eva"].store]}, n_boot=300)
    for arm, r in (("aim", rec), ("eva", eva)):
        t = tab[tab.arm == arm]
        scored = r[r.outcome != "unscored"]
        assert t.n_children.sum() == len(scored)
        assert set(zip(t.root_pass_rate, t.eased)) == set(zip(scored.root_pass_rate, scored.eased))
    assert np.allclose(tab[list(CHILD_OUTCOMES)].sum(axis=1), 1.0)
    for o in CHILD_OUTCOMES:
        assert (tab[f"{o}_ci_low"] <= tab[o] + 1e-12).all() and (tab[o] <= tab[f"{o}_ci_high"] + 1e-12).all()
    row = tab.iloc[0]
    g = rec[(rec.root_pass_rate == row.root_pass_rate) & (rec.eased == row.eased) & (rec.outcome != "unscored")]
    assert row.mixed == pytest.approx((g.outcome == "mixed").mean()) and row.n_roots == g.root_id.nunique()
    md = offspring_markdown_table(tab).strip().splitlines()
    assert md[0] == "| arm | root pass rate | eased | roots | children | mixed | all_pass | all_fail |"
    assert len(md) == 2 + len(tab)
    cells = [c.strip() for c in md[2].strip("|").split("|")]
    assert cells[:5] == [row.arm, f"{row.root_pass_rate:.2f}", "yes" if row.eased else "no", str(row.n_roots),
                         str(row.n_children)]
    assert cells[5] == f"{row.mixed:.2f} [{row.mixed_ci_low:.2f}, {row.mixed_ci_high:.2f}]"
