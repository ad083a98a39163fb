"""Prediction before sampling online (issue 15): MoPPS's Thompson choice and GRESO's skip on the trainer's prompt
stream (``evalab.online.PoolPredictor`` over ``evalab.curricula.plan_draw``), with hand-made groups, then a real
TRL GRPO run on the embedded model whose batches are chosen by the predictor."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evalab.config import profile_config
from evalab.creator import StructuredEvolver
from evalab.curricula import PredictionState, plan_draw
from evalab.online import EvaCallback, EvaPromptPool, PoolPredictor, make_trl_reward
from test_dynamic_sampling import _FlatForSomeReward
from test_online import TableReward, seed_prompts

# s0-s3 always pass, s4-s7 always fail (zero variance), s8-s11 split (the frontier, pass rate 0.5)
TABLE = {f"s{i}": ([1.0, 1.0] if i < 4 else [0.0, 0.0] if i < 8 else [0.0, 1.0]) for i in range(12)}
FRONTIER = {"s8", "s9", "s10", "s11"}


def _setup(tmp_path: Path, **over):
    pool = EvaPromptPool(seed_prompts(12), evolved_ratio=0.7)
    adapter = make_trl_reward(TableReward(TABLE), pool, num_generations=2)
    cfg = profile_config("ci", run_dir=str(tmp_path), n_variants=1, subset_fraction=0.25, **over)
    cb = EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False, n_variants=1), cfg, evolve_every=1)
    return pool, adapter, cb


def _batches(pool, adapter, n: int, seed: int = 0, k: int = 2) -> list[list[str]]:
    """n generation batches of k prompts drawn from the pool, each scored by the table reward (one reward call)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ids = [pool[int(i)].id for i in pool.draw(k, rng)]
        adapter(prompts=["p"] * 2 * k, completions=["c"] * 2 * k, prompt_id=[i for i in ids for _ in range(2)],
                trainer_state=SimpleNamespace(global_step=0))
        out.append(ids)
    return out


def test_plan_draw_thompson_takes_the_k_closest_and_greso_alone_the_first_survivors():
    ids = ["a", "b", "c", "d"]
    st = PredictionState(alpha={"a": 50.0, "b": 10.0, "c": 1.0, "d": 10.0},
                         beta={"a": 1.0, "b": 10.0, "c": 50.0, "d": 11.0}, zero_run={"a": 5, "c": 5})
    cfg = profile_config("ci", sampling="thompson")
    df, chosen = plan_draw(st, ids, {}, cfg, 2, np.random.default_rng(0))
    assert [ids[i] for i in chosen] in (["b", "d"], ["d", "b"])  # the two posteriors near 0.5, closest first
    assert df.generate.sum() == 2 and df.considered.all() and (df.loc[chosen, "rank"] == [0, 1]).all()
    g = profile_config("ci", skip="greso")  # p_e = 0.05 here: a and c (runs of 5) are skipped almost surely
    st.p_explore = 0.05
    df, chosen = plan_draw(st, ids, {}, g, 2, np.random.default_rng(0))
    assert [ids[i] for i in chosen] == ["b", "d"] and df.skipped.tolist() == [True, False, True, False]
    assert df.considered.tolist() == [True, True, True, True]  # up to d, the last one generated for
    df, chosen = plan_draw(st, ids, {}, g, 1, np.random.default_rng(0))
    assert [ids[i] for i in chosen] == ["b"] and df.considered.tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="k=5"):
        plan_draw(st, ids, {}, g, 5, np.random.default_rng(0))


def test_thompson_online_learns_the_frontier_from_the_groups_it_scores(tmp_path):
    pool, adapter, cb = _setup(tmp_path / "t", sampling="thompson")
    batches = _batches(pool, adapter, 30)
    pred = cb.predictor
    assert pool.predictor is pred and pred.n_batches == 30
    f = pred.frame()
    assert len(f) == 30 * 8  # k = 2 of ceil(2 / 0.25) = 8 candidates per batch
    assert (f.groupby("batch").generate.sum() == 2).all()
    # the chosen prompts are the ones the batches generated for, in rank order
    assert [f[(f.batch == b) & f.generate].sort_values("rank").prompt_id.tolist() for b in range(30)] == batches
    # posteriors follow the observations: always-pass prompts high, always-fail low
    st = pred.state
    assert all(st.alpha[p] > st.beta[p] for p in st.alpha if p in {"s0", "s1", "s2", "s3"})
    assert all(st.alpha[p] < st.beta[p] for p in st.alpha if p in {"s4", "s5", "s6", "s7"})
    late = [p for b in batches[10:] for p in b]
    assert np.mean([p in FRONTIER for p in late]) >= 0.6  # seeds 0-4 of this test: 0.70-0.82
    # the same draws without a predictor (same pool weights, same reward): the frontier share stays lower
    pool2, adapter2, _ = _setup(tmp_path / "plain")
    pool2.predictor = None
    plain = [p for b in _batches(pool2, adapter2, 30)[10:] for p in b]
    assert np.mean([p in FRONTIER for p in plain]) < 0.5  # seeds 0-4: 0.28-0.40
    s = pred.summary()
    assert s["groups_generated"] == 60 and s["rollouts_declined"] == (240 - 60) * 2 and s["groups_skipped"] == 0


def test_greso_online_skips_zero_variance_runs_and_steers_p_explore(tmp_path):
    pool, adapter, cb = _setup(tmp_path, skip="greso")
    batches = _batches(pool, adapter, 30)
    pred = cb.predictor
    f = pred.frame()
    skipped = f[f.skipped]
    assert len(skipped) > 0 and (skipped.zero_run > 0).all()  # only prompts with a zero-variance run are skipped
    assert (f[f.zero_run == 0].p_skip == 0).all()
    # p_e steps toward the target zero-variance share after each scored batch (here each batch is drawn after the
    # previous one is scored): down while over 0.25 (the table is 2/3 zero-variance), up once skips push it under
    p_e = f.groupby("batch").p_explore.first().to_numpy()
    for b in range(1, 30):
        zero = np.mean([TABLE[p][0] == TABLE[p][1] for p in batches[b - 1]])
        want = max(cb.cfg.greso_step, p_e[b - 1] - cb.cfg.greso_step) if zero > cb.cfg.greso_target else \
            min(1.0, p_e[b - 1] + cb.cfg.greso_step)
        assert p_e[b] == pytest.approx(want)
    assert p_e.min() < p_e[0] and p_e[-1] > p_e.min()
    # GRESO alone keeps eva's draw order: the first k survivors
    for b in range(30):
        fb = f[f.batch == b]
        assert fb[~fb.skipped].position.tolist()[:2] == fb[fb.generate].position.tolist()
    assert pred.summary()["groups_skipped"] == int((f.skipped & f.considered).sum())
    late = [p for b in batches[10:] for p in b]
    assert np.mean([p in FRONTIER for p in late]) >= 0.6  # seeds 0-4: 0.75-0.82; without a predictor 0.28-0.40


def test_thompson_evolution_event_selects_from_the_posterior_and_never_a_zero_spread_group(tmp_path):
    pool, adapter, cb = _setup(tmp_path, sampling="thompson")
    _batches(pool, adapter, 12, k=4)
    ev = cb.evolve_event(1)
    n_prompts = ev["n_prompts"]
    var = cb.variants_frame()
    assert ev["n_selected"] == min(len(FRONTIER & {g.prompt_id for g in adapter.groups}), -(-n_prompts // 4))
    assert set(var.parent_id) <= FRONTIER  # zero-spread groups (s0-s7) are never evolved


def test_predictor_state_round_trips_and_continues_identically(tmp_path):
    pool, adapter, cb = _setup(tmp_path / "a", sampling="thompson", skip="greso")
    _batches(pool, adapter, 6)
    state = json.loads(json.dumps({"pool": pool.state_dict(), "adapter": adapter.state_dict(),
                                   "callback": cb.state_dict()}))
    pool2 = EvaPromptPool.from_state_dict(state["pool"])
    adapter2 = make_trl_reward(TableReward(TABLE), pool2, num_generations=2)
    adapter2.load_state_dict(state["adapter"])
    cb2 = EvaCallback(pool2, adapter2, StructuredEvolver(llm_rewrite=False, n_variants=1), cb.cfg, evolve_every=1)
    cb2.load_state_dict(state["callback"])
    pd.testing.assert_frame_equal(cb2.predictor.frame(), cb.predictor.frame(), check_dtype=False)
    assert cb2.predictor.state == cb.predictor.state
    assert _batches(pool2, adapter2, 5, seed=9) == _batches(pool, adapter, 5, seed=9)
    # a checkpoint written without a predictor cannot resume a predicting run
    with pytest.raises(ValueError, match="no predictor state"):
        cb2.load_state_dict({**state["callback"], "predictor": None})


def test_predictor_refuses_a_config_that_predicts_nothing(tmp_path):
    pool = EvaPromptPool(seed_prompts(2))
    adapter = make_trl_reward(TableReward(TABLE), pool, num_generations=2)
    with pytest.raises(ValueError, match="predict nothing"):
        PoolPredictor(profile_config("ci", run_dir=str(tmp_path)), adapter)
    cb = EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False), profile_config("ci", run_dir=str(tmp_path)),
                     evolve_every=1)
    assert cb.predictor is None and pool.predictor is None


@pytest.mark.slow
@pytest.mark.parametrize("over", [{"sampling": "thompson"}, {"skip": "greso", "dynamic_sampling": True}])
def test_real_grpo_run_generates_for_the_predictors_choice_and_resumes_it(tmp_path, over):
    from evalab.online import run_online_eva

    cfg = profile_config("ci", run_dir=str(tmp_path / "run"), learning_rate=1e-5, n_variants=1, subset_fraction=0.25,
                         **over)
    kw = dict(trainer="grpo", steps=3, evolve_every=3, prompts_per_step=2, num_generations=2,
              max_completion_length=6, seeds=seed_prompts(8), reward=_FlatForSomeReward({"s0", "s1", "s2", "s3"}),
              creator=StructuredEvolver(llm_rewrite=False, n_variants=1), progress=False, torch_threads=1,
              checkpoint_every=3)
    out = run_online_eva(cfg, **kw)
    pred, groups = out["prediction"], out["groups"]
    gen = pred[pred.generate].sort_values(["batch", "rank"])
    drawn = out["trainer"].eva_sampler.drawn
    # every batch the sampler drew is the predictor's choice, in order (refill draws in between with dynamic
    # sampling), and every scored group came from a chosen prompt
    chosen = [gen[gen.batch == b].prompt_id.tolist() for b in sorted(gen.batch.unique())]
    it = iter(chosen)
    assert all(any(c == ids for c in it) for ids in drawn) and len(drawn) >= 3
    assert set(groups.prompt_id) <= set(gen.prompt_id)
    per = pred.groupby("batch").agg(n=("generate", "size"), k=("generate", "sum"))
    assert (per.n == np.minimum(8, 4 * per.k)).all()  # ceil(k / 0.25) candidates, at most the 8 seeds
    summary = json.loads((Path(cfg.run_dir) / "online_summary.json").read_text())
    assert summary["prediction"]["rollouts_declined"] == 2 * (~pred.generate).sum()
    pd.testing.assert_frame_equal(pd.read_parquet(Path(cfg.run_dir) / "prediction.parquet"), pred,
                                  check_dtype=False)
    if "dynamic_sampling" in over:  # the refills were chosen by the predictor too: more batches than steps
        assert pred.batch.nunique() > len(drawn) and summary["dynamic_sampling"]["extra_completions"] > 0
    # a rerun of the finished run restores the predictor from the checkpoint and trains nothing
    again = run_online_eva(cfg, **kw)
    pd.testing.assert_frame_equal(again["prediction"], pred, check_dtype=False)


def test_novelty_check_online_rejects_variants_close_to_the_pool_and_the_offline_frontier_options_are_refused(tmp_path):
    pool = EvaPromptPool(seed_prompts(4))
    table = {f"s{i}": [0.0, 1.0] for i in range(4)}
    adapter = make_trl_reward(TableReward(table), pool, num_generations=2)
    cfg = profile_config("ci", run_dir=str(tmp_path), subset_fraction=1.0, n_variants=2, novelty_max_rougeL=0.8)
    cb = EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False, n_variants=2), cfg, evolve_every=1)
    adapter(prompts=["p"] * 8, completions=["c"] * 8, prompt_id=[f"s{i}" for i in range(4) for _ in range(2)],
            trainer_state=SimpleNamespace(global_step=0))
    ev = cb.evolve_event(1)
    var = cb.variants_frame()
    reasons = json.loads(ev["reject_reasons"])
    # the structured creator adds or hardens one constraint sentence: most variants stay close to their parent
    assert reasons.get("not_novel", 0) == int((var.reason == "not_novel").sum()) > 0
    assert ev["n_added"] == int(var.added.sum()) > 0 and not var.loc[var.reason == "not_novel", "added"].any()
    from evalab.curricula import rouge_l

    for t in var.loc[var.added, "text"]:  # what entered the pool is novel against the seeds
        assert max(rouge_l(t, p.text) for p in pool.prompts[:4]) <= 0.8
    with pytest.raises(ValueError, match="frontier_band=.*online eva builds no pairs"):
        EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False), cfg.replace(frontier_band=[0.2, 0.8]),
                    evolve_every=1)
    with pytest.raises(ValueError, match="creator_aim='frontier': the frontier aim is offline only"):
        EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False), cfg.replace(creator_aim="frontier"),
                    evolve_every=1)
