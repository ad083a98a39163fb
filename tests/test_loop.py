"""The loop's bookkeeping: stage order, lineage, the 80/20 mix, determinism, resume, static baseline.

These tests use a deterministic stand-in generation backend (so they run in seconds) with the real
constraint reward and the real structured creator (programmatic mode). The real model runs through
the same loop in tests/test_notebooks.py and tests/test_resume.py.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pandas as pd
import pytest

from evalab.config import profile_config
from evalab.creator import StructuredEvolver
from evalab.loop import EvaRun, next_prompt_set, reward_matrix, stage_seed, weigh_prompts
from evalab.prompts import Prompt

CANDIDATES = [
    "yes", "here is a short answer in lowercase", "THIS IS ALL UPPERCASE TEXT", "- one\n- two\n- three",
    "Sure, here it is, with commas, many, of them.", '"A quoted reply."', "<<Title>>\nSome text about it. P.S. bye",
    "A much longer answer that keeps going with many words about the topic at hand so that word limits fail "
    "and the reader learns a lot about nothing in particular today",
]


class TableBackend:
    """Deterministic stand-in: picks candidates by a hash of (prompt, seed, sample)."""

    def __init__(self, path: str = "fake"):
        self.path = path
        self.calls = 0

    def generate(self, prompts, n=1, *, max_new_tokens=256, temperature=0.8, top_p=0.95, seed=0, progress=True):
        self.calls += 1
        out = []
        for p in prompts:
            row = []
            for j in range(n):
                h = int(hashlib.md5(f"{p}|{seed}|{j}|{temperature}".encode()).hexdigest(), 16)
                row.append(CANDIDATES[h % len(CANDIDATES)] if temperature > 0 or j == 0 else row[0])
            out.append(row)
        return out


def make_run(tmp_path, name="run", **over):
    cfg = profile_config("ci", run_dir=str(tmp_path / name), n_prompts=16, n_responses=4, **over)
    return EvaRun(cfg, backend_factory=lambda path: TableBackend(path), creator=StructuredEvolver(llm_rewrite=False),
                  progress=False)


UNTIL_PAIRS = (0, "pairs")


def test_creator_step_writes_every_stage_with_lineage(tmp_path):
    run = make_run(tmp_path)
    X1 = run.creator_step(0)
    s = run.store
    for stage in ("prompts", "responses", "weights", "selected", "evolved", "next_prompts"):
        assert s.has(0, stage), stage
    X0 = run.prompts(0)
    w = s.read_table(0, "weights")
    assert list(w.prompt_id) == [p.id for p in X0]
    sel = s.read_table(0, "selected")
    assert len(sel) == 8 and sel.prompt_id.is_unique  # ceil(0.5 * 16)
    ev = s.read_table(0, "evolved")
    assert len(ev) == 8 * run.cfg.n_variants
    # chained evolution (the default since issue 10): each chain starts at a selected prompt; a step's parent
    # is the selected prompt (depth 1) or the chain's previous accepted step (depth = its depth + 1)
    assert set(ev.root_id) <= set(sel.prompt_id)
    depth_of = dict(zip(ev.id[ev.accepted], ev.depth[ev.accepted])) | dict.fromkeys(sel.prompt_id, 0)
    assert set(ev.parent_id) <= set(depth_of)
    assert (ev.depth == [depth_of[p] + 1 for p in ev.parent_id]).all() and ev.depth.max() >= 2
    assert ev.reason[~ev.accepted].ne("ok").all() and ev.reason[ev.accepted].eq("ok").all()
    # the 80/20 mix with lineage
    assert len(X1) == len(X0)
    evolved = X1[X1.source == "evolved"]
    assert len(evolved) == min(round(0.8 * len(X0)), int(ev.accepted.sum()))
    assert set(evolved.parent_id) <= set(depth_of)
    assert (evolved.iteration == 1).all()
    assert set(X1[X1.source == "buffer"].id) <= {p.id for p in X0}
    assert s.read_table(1, "prompts").equals(X1)


def test_weights_match_informativeness_of_stored_rewards(tmp_path):
    run = make_run(tmp_path)
    run.run(until=(0, "weights"))
    ids = [p.id for p in run.prompts(0)]
    r = reward_matrix(run.store.read_table(0, "responses"), ids)
    w = run.store.read_table(0, "weights")
    np.testing.assert_allclose(w.a_min, r.max(1) - r.min(1), atol=1e-12)
    assert (w.weight == w.a_min).all()


def test_pairs_are_best_vs_worst_of_x_next(tmp_path):
    run = make_run(tmp_path)
    run.run(until=UNTIL_PAIRS)
    pairs = run.store.read_table(0, "pairs")
    tr = run.store.read_table(0, "train_responses")
    assert set(tr.prompt_id) == set(run.store.read_table(1, "prompts").id)
    assert len(pairs) > 0 and (pairs.chosen_reward > pairs.rejected_reward).all()
    g = tr.groupby("prompt_id").reward
    for _, p in pairs.iterrows():
        assert p.chosen_reward == pytest.approx(g.max()[p.prompt_id])
        assert p.rejected_reward == pytest.approx(g.min()[p.prompt_id])


def test_same_seed_same_run_and_resume_after_lost_stage(tmp_path):
    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b")
    a.run(until=UNTIL_PAIRS)
    b.run(until=UNTIL_PAIRS)
    for stage in ("responses", "weights", "selected", "evolved", "next_prompts", "pairs"):
        pd.testing.assert_frame_equal(a.store.read_table(0, stage), b.store.read_table(0, stage))
    # a crash that lost the last two stages: re-running redoes them identically and skips the rest
    before = a.store.read_table(0, "pairs")
    a.store.path(0, "pairs").unlink()
    a.store.path(0, "evolved").unlink()
    a.store.path(0, "next_prompts").unlink()
    fresh = make_run(tmp_path, "a")
    assert fresh.pending()[:3] == [(0, "evolved"), (0, "next_prompts"), (0, "pairs")]
    fresh.run(until=UNTIL_PAIRS)
    pd.testing.assert_frame_equal(fresh.store.read_table(0, "pairs"), before)


def test_other_seed_other_selection(tmp_path):
    a, b = make_run(tmp_path, "a"), make_run(tmp_path, "b", seed=7)
    a.run(until=(0, "selected"))
    b.run(until=(0, "selected"))
    assert a.store.read_table(0, "responses").response.tolist() != b.store.read_table(0, "responses").response.tolist()


def test_static_baseline_keeps_prompts_and_skips_creator(tmp_path):
    run = make_run(tmp_path, mode="static")
    assert "evolved" not in run.stages and "selected" not in run.stages
    run.run(until=UNTIL_PAIRS)
    assert run.store.read_table(1, "prompts").id.tolist() == [p.id for p in run.prompts(0)]
    assert not run.store.has(0, "evolved")


def test_pending_lists_final_eval_and_resume_order(tmp_path):
    run = make_run(tmp_path, iterations=2)
    todo = run.pending()
    assert todo[0] == (0, "eval") and todo[-1] == (2, "eval")
    assert [s for t, s in todo if t == 0] == list(run.stages)


def test_missing_checkpoint_is_named(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoint of iteration 0"):
        run.solver_path(1)


def test_next_prompt_set_backfills_when_creator_rejects_everything():
    cur = [Prompt(id=f"p{i}", text=f"Say {i}.") for i in range(10)]
    rejected = pd.DataFrame({"accepted": [False, False], "reason": ["empty", "copy"]})
    nxt, info = next_prompt_set(cur, rejected, size=10, evolved_ratio=0.8, seed=0)
    assert [p.id for p in nxt] == [p.id for p in cur] and info["backfilled"] == 8


def test_weigh_prompts_takes_signed_rewards_and_rejects_unknown_metrics():
    # inv_avg and avg on reward-model logits (they used to raise): weights >= 0 for sampling (issue 10)
    for metric in ("inv_avg", "avg"):
        w = weigh_prompts(["a", "b"], np.array([[-1.0, -2.0], [3.0, 4.0]]), metric)
        assert (w.sampling_weight >= 0).all() and np.isfinite(w.weight).all()
    with pytest.raises(ValueError, match="a_min"):
        weigh_prompts(["a"], np.array([[-1.0, -2.0]]), "regret")


def test_stage_seed_is_stable_and_distinct():
    assert stage_seed(42, 0, "responses") == stage_seed(42, 0, "responses")
    assert len({stage_seed(42, t, s) for t in range(3) for s in ("responses", "train_responses", "selected")}) == 9


LAUNCHERS = {"python": ("python", 1),
             "accelerate-ddp": (f"{sys.executable} -m accelerate.commands.launch --config_file "
                                "configs/accelerate_cpu_ddp.yaml", 2)}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_training_through_a_launcher_subprocess(tmp_path, launcher):
    """The scale-out path: step 6 runs scripts/train_pairs.py under `train_launcher` (plain python, and
    accelerate with two CPU processes; on a GPU cluster `accelerate launch --config_file configs/accelerate_zero3.yaml`)."""
    cmd, world = LAUNCHERS[launcher]
    run = make_run(tmp_path, train_launcher=cmd, max_length=128, max_prompt_length=64)
    run.run(until=(0, "checkpoint"))
    ck = run.store.path(0, "checkpoint")
    assert (ck / "DONE").exists() and (ck / "config.json").exists() and (ck / "train_result.json").exists()
    assert json.loads((ck / "train_result.json").read_text())["world_size"] == world
    log = run.store.read_table(0, "train_log")
    assert "loss" in log and log["loss"].notna().any()
    assert run.solver_path(1) == str(ck)


def test_the_loop_returns_a_dropped_models_memory(tmp_path, monkeypatch):
    """release_memory (gc, then glibc's malloc_trim) runs where the loop drops a model: before training, once
    the generation backend is gone, and after training; benchmarks/bench_memory.py measures what it returns."""
    import evalab.loop
    import evalab.training

    evalab.loop.release_memory()  # runs anywhere (a no-op trim off glibc)
    monkeypatch.setattr(evalab.training, "train_preference",
                        lambda cfg, solver, pairs, out, **kw: (out / "w").write_text("x") and {"log_history": []})
    run = make_run(tmp_path)
    seen = []
    monkeypatch.setattr(evalab.loop, "release_memory", lambda: seen.append((run._backend, run.store.has(0, "pairs"))))
    run.run(until=(0, "checkpoint"))
    # the first backend's load, then before training (pairs built) and after it
    assert run.store.has(0, "checkpoint") and [has_pairs for _, has_pairs in seen] == [False, True, True]
    assert all(backend is None for backend, _ in seen)   # never while a model is still referenced
    run.run()                                            # iteration 1 loads the new solver: the old one is dropped
    assert len(seen) == 4 and all(backend is None for backend, _ in seen)
