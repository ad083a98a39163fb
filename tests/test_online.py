"""Online eva inside TRL: the prompt pool, its sampler, the reward adapter, the evolution callback, and real
GRPO / RLOO trainers on the embedded model (few steps), plus notebook 05 through papermill.

Fast tests use tiny hand-made inputs; the trainer tests use a deterministic stand-in reward with a guaranteed
spread (so the creator always has something to evolve) and the real structured creator in programmatic mode.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from evalab import constraints as C
from evalab.config import profile_config
from evalab.creator import StructuredEvolver
from evalab.online import (
    DEFAULT_KL_BETA,
    EvaCallback,
    EvaPoolSampler,
    EvaPromptPool,
    GroupRecord,
    completion_text,
    group_weights,
    latest_group_per_prompt,
    make_trl_reward,
    run_online_eva,
    select_informative,
)
from evalab.prompts import Prompt
from nbrun import CELL_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["Describe a cat.", "Explain why it rains.", "Name three fruits.", "Write a greeting to a friend.",
         "Describe the sea at night.", "Explain why the sky is blue."]


def seed_prompts(n: int = 6, seed: int = 0) -> list[Prompt]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        task = TASKS[i % len(TASKS)] + ("" if i < len(TASKS) else f" (variant {i})")
        cons = C.add_constraint([], rng, task=task)
        out.append(Prompt(id=f"s{i}", text=C.render_prompt(task, cons), task=task, constraints=cons))
    return out


def evolved(parent: Prompt, k: int) -> Prompt:
    return Prompt(id=f"{parent.id}-e{k}", text=f"{parent.text} Variant {k}.", task=parent.task,
                  constraints=parent.constraints, parent_id=parent.id, iteration=1, operator="harden")


class LengthReward:
    """Deterministic stand-in reward: a function of the completion's length (different samples differ)."""

    name = "length"
    pass_threshold = 0.5  # for the all-fail / all-pass / mixed shares

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, prompts, responses):
        self.seen.extend(p.id for p in prompts)
        return np.array([[(len(r) % 7) / 6.0 for r in rs] for rs in responses])


class TableReward:
    """Returns a fixed reward row per prompt id (for exact informativeness checks)."""

    name = "table"

    def __init__(self, table: dict[str, list[float]]):
        self.table = table

    def __call__(self, prompts, responses):
        return np.array([self.table[p.id] for p in prompts], dtype=float)


# --------------------------------------------------------------------------------------------------
# pool
# --------------------------------------------------------------------------------------------------

def test_pool_add_dedupes_by_id_and_text_and_respects_capacity():
    seeds = seed_prompts(3)
    pool = EvaPromptPool(seeds, capacity=5)
    assert len(pool) == 3 and pool.n_evolved == 0
    e = evolved(seeds[0], 1)
    same_text = Prompt(id="other", text=e.text, parent_id="s0")
    added = pool.add([e, e, same_text, evolved(seeds[1], 1), evolved(seeds[2], 1)], step=4)
    assert [p.id for p in added] == ["s0-e1", "s1-e1"]  # duplicate id, duplicate text, over capacity
    assert pool.n_dropped_full == 1 and len(pool) == 5 and pool.n_evolved == 2
    assert pool.index_of("s1-e1") == 4 and pool.get("s0-e1").parent_id == "s0"
    with pytest.raises(KeyError, match="nope"):
        pool.get("nope")
    with pytest.raises(ValueError, match="duplicate"):
        EvaPromptPool([seeds[0], seeds[0]])
    with pytest.raises(ValueError, match="evolved_ratio"):
        EvaPromptPool(seeds, evolved_ratio=1.5)


def test_pool_weights_split_mass_evolved_vs_buffer_and_follow_informativeness():
    seeds = seed_prompts(4)
    pool = EvaPromptPool(seeds, evolved_ratio=0.8, floor=0.1)
    p = pool.sampling_weights()
    assert np.allclose(p, 0.25)  # nothing observed, nothing evolved: uniform
    pool.observe("s0", 0.6)
    pool.observe("s1", 0.2)
    pool.observe("s2", 0.0)     # zero spread: floored at 0.1 * 0.6, never removed
    p = pool.sampling_weights()  # s3 unseen -> optimistic 0.6 (the largest observed)
    assert np.allclose(p, np.array([0.6, 0.2, 0.06, 0.6]) / 1.46)
    pool.add([evolved(seeds[0], 1), evolved(seeds[1], 1)], step=2)
    p = pool.sampling_weights()
    assert p[4:].sum() == pytest.approx(0.8) and p[:4].sum() == pytest.approx(0.2)
    assert np.allclose(p[4:], 0.4)  # both unseen
    pool.observe("s0-e1", 0.3)
    pool.observe("s0-e1", 0.1)  # ema=0: the latest group wins
    assert pool.weight_est[4] == pytest.approx(0.1) and pool.n_groups[4] == 2
    ema = EvaPromptPool(seeds, ema=0.5)
    ema.observe("s0", 0.4)
    ema.observe("s0", 0.0)
    assert ema.weight_est[0] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="finite"):
        pool.observe("s0", float("nan"))


def test_pool_frame_keeps_lineage_and_dataset_view_reads_live_pool():
    seeds = seed_prompts(2)
    pool = EvaPromptPool(seeds, capacity=10)
    ds = pool.as_dataset()
    assert len(ds) == 10
    row = ds[1]
    assert row["prompt_id"] == "s1" and row["prompt"] == [{"role": "user", "content": seeds[1].text}]
    with pytest.raises(IndexError, match="slot 2 is empty"):
        ds[2]
    pool.add([evolved(seeds[0], 1)], step=3)
    assert ds[2]["prompt_id"] == "s0-e1"  # the same dataset object now serves the evolved prompt
    df = pool.to_frame()
    assert list(df.id) == ["s0", "s1", "s0-e1"]
    assert df.loc[2, "parent_id"] == "s0" and df.loc[2, "operator"] == "harden" and df.loc[2, "added_step"] == 3
    assert df.evolved.tolist() == [False, False, True]
    assert df.sampling_prob.sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------
# sampler
# --------------------------------------------------------------------------------------------------

def test_sampler_keeps_trl_group_layout():
    pool = EvaPromptPool(seed_prompts(6))
    s = EvaPoolSampler(pool, mini_repeat_count=3, batch_size=2, repeat_count=2, chunks_per_epoch=3, seed=1)
    idx = list(s)
    assert len(idx) == len(s) == 3 * 2 * 3 * 2
    for c in range(3):
        block = idx[c * 12:(c + 1) * 12]
        first, second = block[:6], block[6:]
        assert first == second  # the generation batch is repeated repeat_count times
        assert first[:3] == [first[0]] * 3 and first[3:] == [first[3]] * 3  # num_generations in a row
        assert first[0] != first[3]  # distinct prompts within a generation batch
    assert [pool.index_of(i) for ids in s.drawn for i in ids] == [idx[c * 12 + j] for c in range(3) for j in (0, 3)]
    assert list(EvaPoolSampler(pool, mini_repeat_count=3, batch_size=2, repeat_count=2, chunks_per_epoch=3,
                               seed=1)) == idx  # seeded


def test_sampler_draws_in_proportion_to_weights():
    pool = EvaPromptPool(seed_prompts(3), floor=0.01)
    pool.observe("s0", 1.0)
    pool.observe("s1", 0.25)
    pool.observe("s2", 0.0)
    s = EvaPoolSampler(pool, mini_repeat_count=1, batch_size=1, chunks_per_epoch=4000, seed=0)
    counts = np.bincount(list(s), minlength=3) / 4000
    expected = np.array([1.0, 0.25, 0.01]) / 1.26
    assert np.allclose(counts, expected, atol=0.025)


def test_sampler_sees_prompts_added_during_iteration():
    seeds = seed_prompts(4)
    pool = EvaPromptPool(seeds, evolved_ratio=1.0)
    s = EvaPoolSampler(pool, mini_repeat_count=2, batch_size=2, chunks_per_epoch=3, seed=0)
    it = iter(s)
    first = [next(it) for _ in range(4)]
    assert all(i < 4 for i in first)
    pool.add([evolved(seeds[0], 1), evolved(seeds[1], 1)], step=1)  # evolved_ratio=1: only these from now on
    rest = list(it)
    assert set(rest) == {4, 5}


# --------------------------------------------------------------------------------------------------
# reward adapter
# --------------------------------------------------------------------------------------------------

def test_adapter_scores_groups_and_records_them():
    seeds = seed_prompts(2)
    pool = EvaPromptPool(seeds)
    reward = TableReward({"s0": [0.1, 0.9, 0.5], "s1": [1.0, 1.0, float("nan")]})
    adapter = make_trl_reward(reward, pool, num_generations=3)
    assert adapter.__name__ == "eva_table"
    metrics: dict[str, float] = {}
    comps = [[{"role": "assistant", "content": f"answer {i}"}] for i in range(6)]
    out = adapter(prompts=[[{"role": "user", "content": "x"}]] * 6, completions=comps,
                  prompt_id=["s0"] * 3 + ["s1"] * 3, trainer_state=SimpleNamespace(global_step=4),
                  log_metric=metrics.__setitem__)
    assert out[:5] == pytest.approx([0.1, 0.9, 0.5, 1.0, 1.0]) and np.isnan(out[5])
    g = adapter.groups_frame()
    assert g.prompt_id.tolist() == ["s0", "s1"] and g.step.tolist() == [5, 5] and g.call.tolist() == [0, 0]
    assert g.spread.tolist() == pytest.approx([0.8, 0.0])
    assert metrics["eva/frac_zero_spread"] == pytest.approx(0.5)
    assert metrics["eva/frac_missing_reward"] == pytest.approx(1 / 6)
    assert metrics["eva/pool_size"] == 2.0


def test_adapter_reads_online_dpo_layout_and_logs_group_outcomes():
    # TRL's online DPO scores 2 * prompts: generation 0 of every prompt, then generation 1 of every prompt
    pool = EvaPromptPool(seed_prompts(3))
    reward = TableReward({"s0": [0.0, 1.0], "s1": [1.0, 1.0], "s2": [0.2, 0.4]})
    reward.pass_threshold = 1.0
    adapter = make_trl_reward(reward, pool, num_generations=2, layout="halves")
    metrics: dict[str, float] = {}
    out = adapter(prompts=["p"] * 6, completions=["c"] * 6, prompt_id=["s0", "s1", "s2"] * 2,
                  trainer_state=SimpleNamespace(global_step=0), log_metric=metrics.__setitem__)
    assert out == pytest.approx([0.0, 1.0, 0.2, 1.0, 1.0, 0.4])  # back in TRL's order
    assert adapter.groups_frame().spread.tolist() == pytest.approx([1.0, 0.0, 0.2])
    assert metrics["frac_all_pass"] == pytest.approx(1 / 3) and metrics["frac_all_fail"] == pytest.approx(1 / 3)
    assert metrics["frac_mixed"] == pytest.approx(1 / 3) and metrics["missing_reward_skipped"] == 0.0
    with pytest.raises(ValueError, match="mixes prompt ids"):
        adapter(prompts=["p"] * 4, completions=["c"] * 4, prompt_id=["s0", "s0", "s1", "s1"])


def test_group_outcomes():
    from evalab.online import group_outcomes

    r = np.array([[1.0, 1.0, np.nan], [0.0, 0.9, 0.5], [1.0, 0.2, 1.0], [np.nan] * 3])
    assert group_outcomes(r, 1.0) == pytest.approx({"frac_all_fail": 1 / 3, "frac_all_pass": 1 / 3,
                                                    "frac_mixed": 1 / 3})  # the unscored group is left out
    assert group_outcomes(r, 0.5) == pytest.approx({"frac_all_fail": 0.0, "frac_all_pass": 1 / 3,
                                                    "frac_mixed": 2 / 3})
    assert all(np.isnan(v) for v in group_outcomes(r, None).values())


def test_adapter_rejects_bad_inputs():
    pool = EvaPromptPool(seed_prompts(2))
    adapter = make_trl_reward(TableReward({"s0": [0, 1], "s1": [0, 1]}), pool, num_generations=2)
    with pytest.raises(ValueError, match="prompt_id"):
        adapter(prompts=["a"] * 2, completions=["x", "y"])
    with pytest.raises(ValueError, match="mixes prompt ids"):
        adapter(prompts=["a"] * 4, completions=["x"] * 4, prompt_id=["s0", "s1", "s1", "s1"])
    with pytest.raises(ValueError, match="multiple of num_generations"):
        adapter(prompts=["a"] * 3, completions=["x"] * 3, prompt_id=["s0"] * 3)
    bad = make_trl_reward(TableReward({"s0": [0, 1, 1]}), pool, num_generations=2)
    with pytest.raises(ValueError, match="shape"):
        bad(prompts=["a"] * 2, completions=["x", "y"], prompt_id=["s0", "s0"])
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "hi"}]) == "hi"
    with pytest.raises(ValueError, match="unsupported completion"):
        completion_text(42)


def test_informativeness_is_per_group_not_per_rollout():
    # RLOO pitfall (NeMo-RL #4158): 3 identical winners + 1 loser is ONE informative group.
    groups = [GroupRecord(0, 1, "a", [1.0, 1.0, 1.0, 0.0], 1.0), GroupRecord(0, 1, "b", [1.0] * 4, 0.0),
              GroupRecord(1, 2, "a", [0.5, 0.5, 0.5, 0.25], 0.25)]
    latest = latest_group_per_prompt(groups)
    assert [(g.prompt_id, g.call) for g in latest] == [("b", 0), ("a", 1)]
    w = group_weights(latest, "a_min")
    assert w.tolist() == pytest.approx([0.0, 0.25])
    assert group_weights(groups, "a_avg").tolist() == pytest.approx([0.25, 0.0, 0.0625])
    assert select_informative(np.array([0.0, 0.0]), 1.0, "weighted", 0).size == 0
    sel = select_informative(np.array([0.0, 0.3, 0.0, 0.2]), 1.0, "weighted", 0)
    assert sorted(sel.tolist()) == [1, 3]  # zero-weight groups are never evolved


def test_online_selection_takes_signed_rewards_and_the_band():
    from evalab.online import group_sampling_weights

    # RM logits: 'avg' of negative rewards used to raise in sample_subset; band needs the groups' means
    groups = [GroupRecord(0, 1, "a", [-8.0, -6.0], 2.0), GroupRecord(0, 1, "b", [3.0, 9.0], 6.0),
              GroupRecord(0, 1, "c", [-1.0, 1.0], 2.0)]
    sw = group_sampling_weights(groups, "avg")
    assert (sw >= 0).all() and sw.argmax() == 1 and sw.argmin() == 0
    assert select_informative(sw, 0.3, "greedy", 0).tolist() == [1]  # the highest mean, on any sign
    means = np.array([0.1, 0.5, 0.95])
    band = select_informative(np.array([0.3, 0.3, 0.3]), 0.3, "band", 0, reward_mean=means, band=(0.2, 0.8))
    assert band.tolist() == [1]


# --------------------------------------------------------------------------------------------------
# callback (no trainer: groups fed through the adapter by hand)
# --------------------------------------------------------------------------------------------------

def test_callback_event_evolves_informative_prompts_and_writes_tables(tmp_path):
    seeds = seed_prompts(4)
    pool = EvaPromptPool(seeds)
    table = {"s0": [0.0, 1.0], "s1": [0.5, 0.5], "s2": [0.2, 0.6], "s3": [1.0, 1.0]}
    adapter = make_trl_reward(TableReward(table), pool, num_generations=2)
    cfg = profile_config("ci", run_dir=str(tmp_path), subset_fraction=1.0, n_variants=2)
    cb = EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False, n_variants=2), cfg, evolve_every=2,
                     run_dir=tmp_path)
    ids = ["s0", "s0", "s1", "s1", "s2", "s2", "s3", "s3"]
    adapter(prompts=["p"] * 8, completions=["c"] * 8, prompt_id=ids, trainer_state=SimpleNamespace(global_step=0))
    cb.on_step_end(None, SimpleNamespace(global_step=1), None)
    assert cb.events == []  # not an evolve step
    cb.on_step_end(None, SimpleNamespace(global_step=2), None)
    ev = cb.events_frame().iloc[0]
    assert ev.n_groups == 4 and ev.frac_zero_spread == pytest.approx(0.5)
    assert ev.n_selected == 2 and ev.n_variants == 4  # only s0 and s2 had spread
    assert ev.n_added == ev.n_accepted > 0 and ev.pool_size == 4 + ev.n_added
    new = pool.to_frame().query("evolved")
    assert set(new.parent_id) <= {"s0", "s2"} and (new.iteration == 1).all() and (new.added_step == 2).all()
    assert pool.weight_est[:4] == pytest.approx([1.0, 0.0, 0.4, 0.0])
    # files on disk match memory
    assert pd.read_parquet(tmp_path / "online_events.parquet").n_added.tolist() == [ev.n_added]
    assert len(pd.read_parquet(tmp_path / "pool.parquet")) == len(pool)
    var = pd.read_parquet(tmp_path / "variants.parquet")
    assert len(var) == 4 and var.added.sum() == ev.n_added and set(var.parent_id) <= {"s0", "s2"}
    assert len(pd.read_parquet(tmp_path / "groups.parquet")) == 4
    # the next event sees only the groups scored after this one
    cb.on_step_end(None, SimpleNamespace(global_step=4), None)
    ev2 = cb.events_frame().iloc[1]
    assert ev2.n_groups == 0 and ev2.n_selected == 0 and ev2.pool_size == ev.pool_size
    reasons = json.loads(ev.reject_reasons)
    assert sum(reasons.values()) == ev.n_variants - ev.n_accepted
    cb.on_log(None, SimpleNamespace(log_history=[{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]), None)
    assert pd.read_parquet(tmp_path / "train_log.parquet").loss.tolist() == [0.5, 0.25]


def test_pool_adapter_and_callback_state_round_trip_through_json(tmp_path):
    seeds = seed_prompts(4)
    pool = EvaPromptPool(seeds, evolved_ratio=0.7, ema=0.5)
    table = {"s0": [0.0, 1.0], "s1": [0.5, 0.5], "s2": [0.2, float("nan")], "s3": [1.0, 0.0]}
    adapter = make_trl_reward(TableReward(table), pool, num_generations=2)
    cfg = profile_config("ci", run_dir=str(tmp_path), subset_fraction=1.0, n_variants=2)
    cb = EvaCallback(pool, adapter, StructuredEvolver(llm_rewrite=False, n_variants=2), cfg, evolve_every=1)
    adapter(prompts=["p"] * 8, completions=["c"] * 8, prompt_id=["s0", "s0", "s1", "s1", "s2", "s2", "s3", "s3"],
            trainer_state=SimpleNamespace(global_step=0))
    cb.on_step_end(None, SimpleNamespace(global_step=1), None)
    pool.draw(3, np.random.default_rng(0))
    assert pool.n_evolved > 0
    state = json.loads(json.dumps({"pool": pool.state_dict(), "adapter": adapter.state_dict(),
                                   "callback": cb.state_dict()}))
    pool2 = EvaPromptPool.from_state_dict(state["pool"])
    pd.testing.assert_frame_equal(pool2.to_frame(), pool.to_frame())
    assert (pool2.ema, pool2.evolved_ratio, pool2.capacity) == (0.5, 0.7, pool.capacity)
    adapter2 = make_trl_reward(TableReward(table), pool2, num_generations=2)
    adapter2.load_state_dict(state["adapter"])
    pd.testing.assert_frame_equal(adapter2.groups_frame(), adapter.groups_frame())
    assert adapter2.n_calls == adapter.n_calls == 1
    cb2 = EvaCallback(pool2, adapter2, StructuredEvolver(llm_rewrite=False, n_variants=2), cfg, evolve_every=1)
    cb2.load_state_dict(state["callback"])
    pd.testing.assert_frame_equal(cb2.events_frame(), cb.events_frame())
    assert cb2.variants_frame().id.tolist() == cb.variants_frame().id.tolist()
    # the next event after a restore numbers on and sees only new groups, as the uninterrupted one would
    assert cb2.evolve_event(2)["event"] == cb.evolve_event(2)["event"] == 2


def test_online_run_dir_with_other_settings_is_refused_naming_them(tmp_path):
    from evalab.online import RUN_FILE, _online_resume_point

    settings = {"trainer": "grpo", "steps": 4, "evolve_every": 2, "checkpoint_every": 2}
    assert _online_resume_point(tmp_path, settings) is None
    (tmp_path / RUN_FILE).write_text(json.dumps(settings))
    with pytest.raises(ValueError, match=r"steps: 4 -> 6"):
        _online_resume_point(tmp_path, {**settings, "steps": 6})
    # a checkpoint without its eva state (killed while saving) is never resumed from
    ck = tmp_path / "_trainer" / "checkpoint-2"
    ck.mkdir(parents=True)
    (ck / "trainer_state.json").write_text("{}")
    assert _online_resume_point(tmp_path, settings) is None
    (ck / "eva_state.json").write_text("{}")
    assert _online_resume_point(tmp_path, settings) == ck


def test_run_online_eva_rejects_bad_arguments_before_loading_anything(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="trainer='ppo'"):
        run_online_eva(cfg, trainer="ppo")
    with pytest.raises(ValueError, match="evolve_every=0"):
        run_online_eva(cfg, evolve_every=0)
    with pytest.raises(ValueError, match="torch_threads"):
        run_online_eva(cfg, torch_threads=-1)
    with pytest.raises(ValueError, match="checkpoint_every"):
        run_online_eva(cfg, checkpoint_every=-1)
    assert not (tmp_path / "r").exists()
    from evalab.online import DEFAULT_KL_BETA, make_trainer_args

    with pytest.raises(ValueError, match="num_generations"):
        make_trainer_args("grpo", tmp_path, steps=1, num_generations=1, prompts_per_step=1, max_completion_length=8,
                          learning_rate=1e-5, temperature=1.0, top_p=1.0, seed=0)
    args = make_trainer_args("rloo", tmp_path, steps=3, num_generations=4, prompts_per_step=2,
                             max_completion_length=8, learning_rate=1e-5, temperature=1.0, top_p=1.0, seed=0)
    assert args.per_device_train_batch_size == 8 and args.generation_batch_size == 8
    assert args.beta == DEFAULT_KL_BETA["rloo"] > 0  # regularised towards π_base by default (eva's objective)
    oaif = make_trainer_args("oaif", tmp_path, steps=3, num_generations=2, prompts_per_step=2,
                             max_completion_length=8, learning_rate=1e-5, temperature=1.0, top_p=1.0, seed=0)
    assert oaif.per_device_train_batch_size == 2 and oaif.max_new_tokens == 8 and oaif.beta == 0.1
    with pytest.raises(ValueError, match="exactly 2"):
        make_trainer_args("oaif", tmp_path, steps=1, num_generations=4, prompts_per_step=1, max_completion_length=8,
                          learning_rate=1e-5, temperature=1.0, top_p=1.0, seed=0)
    with pytest.raises(ValueError, match="kl_beta=nan"):
        make_trainer_args("grpo", tmp_path, steps=1, num_generations=2, prompts_per_step=1, max_completion_length=8,
                          learning_rate=1e-5, temperature=1.0, top_p=1.0, seed=0, kl_beta=float("nan"))
    with pytest.raises(ValueError, match="exactly 2"):
        run_online_eva(cfg, trainer="oaif", num_generations=3)
    assert not args.use_vllm and not args.gradient_checkpointing and args.max_steps == 3


# --------------------------------------------------------------------------------------------------
# real trainers on the embedded model
# --------------------------------------------------------------------------------------------------

def _run(tmp_path: Path, trainer: str):
    cfg = profile_config("ci", run_dir=str(tmp_path / trainer), evolved_ratio=1.0, subset_fraction=1.0,
                         n_variants=2, learning_rate=1e-5)
    reward = LengthReward()
    out = run_online_eva(cfg, trainer=trainer, steps=3, evolve_every=1, prompts_per_step=2, num_generations=2,
                         max_completion_length=8, seeds=seed_prompts(4), reward=reward,
                         creator=StructuredEvolver(llm_rewrite=False, n_variants=2), progress=False,
                         torch_threads=1,  # 1 thread: no OpenMP spin-waiting when the CPU is shared
                         checkpoint_every=0)  # resume has its own test (test_online_resume.py)
    return cfg, reward, out


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["grpo", "rloo", "oaif"])
def test_trainer_draws_evolved_prompts(tmp_path, trainer):
    cfg, reward, out = _run(tmp_path, trainer)
    events, groups, pool = out["events"], out["groups"], out["pool"]
    assert len(events) == 3 and events.step.tolist() == [1, 2, 3]
    assert events.n_added.iloc[0] > 0  # the length reward always has spread, so step 1 evolves
    # evolved prompts reached the trainer: scored groups (i.e. the trainer generated for them) after event 1
    first_evolved_step = int(pool.loc[pool.evolved, "added_step"].min())
    late = groups[groups.step > first_evolved_step + 1]  # one generation batch may be prefetched before it
    assert len(late) > 0 and late.evolved.all()  # evolved_ratio=1.0: nothing else is drawn after the event
    assert set(late.prompt_id) <= set(pool.loc[pool.evolved, "id"])
    trainer_obj = out["trainer"]
    drawn = [i for batch in trainer_obj.eva_sampler.drawn for i in batch]
    assert set(groups.prompt_id) <= set(drawn) and set(reward.seen) == set(groups.prompt_id)
    # every group has num_generations rewards; TRL logged a loss and the eva metrics each step
    assert groups.rewards.map(len).eq(2).all()
    log = out["log_history"]
    steps = log.dropna(subset=["loss"]) if "loss" in log else log
    assert len(steps) == 3 and "eva/frac_zero_spread" in log and "eva/pool_size" in log
    shares = steps[["frac_all_fail", "frac_all_pass", "frac_mixed"]]
    assert np.allclose(shares.sum(axis=1), 1.0) and (steps["missing_reward_skipped"] == 0).all()
    assert trainer_obj.args.beta == DEFAULT_KL_BETA[trainer] > 0  # a reference model regularises towards π_base
    if trainer == "oaif":
        assert "rewards/margins" in log and "objective/kl" in log  # online DPO's own metrics: it trained on pairs
    for name in ("online_events", "pool", "groups", "variants", "train_log"):
        assert (Path(cfg.run_dir) / f"{name}.parquet").exists()
    summary = json.loads((Path(cfg.run_dir) / "online_summary.json").read_text())
    assert summary["evolved_groups_scored"] == int(groups.evolved.sum()) > 0


@pytest.mark.slow
def test_notebook_05_ci(tmp_path):
    from tests.test_online_reproduction import fake_online_results

    online_json = fake_online_results(tmp_path / "several_seeds")  # the last section renders a comparison file
    out_nb = tmp_path / "o.ipynb"
    run_dir = tmp_path / "r05"
    subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "05_online.ipynb"), str(out_nb),
                    "-p", "profile", "ci", "-p", "run_dir", str(run_dir), "-p", "torch_threads", "1",
                    "-p", "online_json", str(online_json), "-p", "curricula_json", str(online_json),
                    "--cwd", str(ROOT / "notebooks"), "--execution-timeout", str(CELL_TIMEOUT)],
                   check=True, timeout=900)
    events = pd.read_parquet(run_dir / "online_events.parquet")
    assert len(events) >= 1 and (run_dir / "pool.parquet").exists()
    cells = nbformat.read(out_nb, as_version=4).cells
    seeds_cell, pred_cell = cells[-3], cells[-1]  # the several-seed section, then prediction before sampling
    text = "".join(o.get("text", "") for o in seeds_cell.outputs)
    assert "reproduce-online (fake)" in text and "online-eva+dynamic" in text and "minus_seed" in text
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in seeds_cell.outputs)
    text = "".join(o.get("text", "") for o in pred_cell.outputs)
    assert "online-thompson" in text and "rollouts_declined" in text and "minus_seed" not in text
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in pred_cell.outputs)


def test_oaif_preference_oracle_is_a_pairwise_judge_through_the_adapter():
    # online DPO's layout (generation j of prompt b at j * n_prompts + b) scored by a pairwise judge on the
    # project's fake OpenAI-compatible server that prefers the longer answer: chosen 1, rejected 0, tie 0.5
    from evalab.rewards import make_reward
    from evalab.testing_server import FakeChatServer
    from tests.test_evaluation import longer_wins

    pool = EvaPromptPool(seed_prompts(2))
    with FakeChatServer(responses=longer_wins) as srv:
        oracle = make_reward("pairwise:openai/fake-judge",
                             completion_kwargs={"api_base": srv.api_base, "api_key": "sk-fake"})
        adapter = make_trl_reward(oracle, pool, num_generations=2, layout="halves", max_missing_reward=0.0)
        out = adapter(prompts=["p"] * 4, completions=["short", "same", "a much longer answer", "same"],
                      prompt_id=["s0", "s1", "s0", "s1"], trainer_state=SimpleNamespace(global_step=0))
        assert srv.stats()["ok"] == 4  # 2 prompts x 1 pair x both orders
    assert out == [0.0, 0.5, 1.0, 0.5]
    assert adapter.groups_frame().spread.tolist() == [1.0, 0.0]  # the tie teaches nothing: zero spread


def test_a_rerun_of_a_finished_online_run_keeps_its_measured_runtime(tmp_path):
    """The reload-only branch of run_online_eva takes the runtime the run measured, from its summary or, when a
    rerun already wrote NaN there, from the first online_end event of its log."""
    import math

    from evalab.online import _finished_runtime
    from evalab.store import RunStore

    assert math.isnan(_finished_runtime(tmp_path))  # nothing known
    store = RunStore(tmp_path, profile_config("ci", run_dir=str(tmp_path)))
    store.log_event("online_end", train_runtime=721.5)
    store.log_event("online_end", train_runtime=float("nan"))
    (tmp_path / "online_summary.json").write_text(json.dumps({"train_runtime": float("nan")}))
    assert _finished_runtime(tmp_path) == 721.5
    (tmp_path / "online_summary.json").write_text(json.dumps({"train_runtime": 600.0}))
    assert _finished_runtime(tmp_path) == 600.0
