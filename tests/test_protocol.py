"""The paper's protocol and controls through the real loop: the warm-start round, mode="fresh" (the paper's
"+ new human prompts") and mode="no_evolve" (greedy and sampled). Generation is the deterministic stand-in of
tests/test_loop.py and training a recording fake, so whole multi-iteration runs take seconds."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalab.config import profile_config
from evalab.creator import StructuredEvolver
from evalab.loop import EvaRun, STATIC_STAGES, fresh_prompt_set, round_of
from evalab.prompts import Prompt, load_prompts
from test_loop import TableBackend


@pytest.fixture
def trained(monkeypatch):
    """Replace step 6's trainer: record (solver, pairs) and write a checkpoint folder."""
    calls: list[tuple[str, pd.DataFrame]] = []

    def fake_train(cfg, solver, pairs, out, **kw):
        calls.append((solver, pairs.copy()))
        (out / "fake_solver.json").write_text(json.dumps({"trained_from": solver, "n_pairs": len(pairs)}))
        return {"log_history": [{"step": 1, "loss": 0.69}]}

    import evalab.training

    monkeypatch.setattr(evalab.training, "train_preference", fake_train)
    return calls


def make_run(tmp_path, name="run", **over):
    cfg = profile_config("ci", run_dir=str(tmp_path / name), **{"n_prompts": 12, "n_responses": 4, **over})
    return EvaRun(cfg, backend_factory=lambda path: TableBackend(path), creator=StructuredEvolver(llm_rewrite=False),
                  progress=False)


def test_warm_start_round_trains_on_x0_before_eva(tmp_path, trained):
    run = make_run(tmp_path, warmup_round=True, iterations=2)
    assert run.n_rounds == 3 and run.stages_of(0) == STATIC_STAGES and "evolved" in run.stages_of(1)
    assert run.pending()[-1] == (3, "eval")
    with pytest.raises(ValueError, match="'evolved' is not part of iteration 0 \\(a 'warmup' round"):
        run.run_stage(0, "evolved")  # the warm-start round has no creator step: refused, not mixed in
    summary = run.run()
    s = run.store
    x0 = [p.id for p in run.prompts(0)]
    # iteration 0: θ0 -> θ1 on X_0's own pairs, from step-1 samples; no creator
    assert [p.id for p in run.prompts(1)] == x0 and not s.has(0, "evolved")
    pd.testing.assert_frame_equal(s.read_table(0, "train_responses"), s.read_table(0, "responses"))
    assert set(s.read_table(0, "pairs").prompt_id) <= set(x0)
    assert trained[0][0] == run.cfg.solver and trained[1][0] == str(s.path(0, "checkpoint"))
    # eva starts from θ1 = the warm-start checkpoint and evolves X_0
    assert s.has(1, "evolved") and (s.read_table(2, "prompts").source == "evolved").any()
    assert summary["round"].tolist() == ["warmup", "eva", "eva", "final"]
    assert [round_of(run.cfg, t) for t in range(4)] == ["warmup", "eva", "eva", "final"]
    # resumable like every stage: a lost warm-start pairs file is redone identically, nothing else reruns
    before = s.read_table(0, "pairs")
    s.path(0, "pairs").unlink()
    again = make_run(tmp_path, warmup_round=True, iterations=2)
    assert again.pending() == [(0, "pairs")]
    again.run()
    pd.testing.assert_frame_equal(s.read_table(0, "pairs"), before)


def test_fresh_mode_trains_on_unseen_pool_prompts_without_evolving(tmp_path, trained):
    run = make_run(tmp_path, mode="fresh", iterations=3)
    assert "evolved" not in run.stages and "selected" not in run.stages
    run.run()
    s, pool = run.store, {p.text: p for p in load_prompts(run.cfg.pool_set)}
    sets = [run.prompts(t) for t in range(4)]
    assert all(len(x) == 12 for x in sets)                       # same count every iteration
    texts = [{p.text for p in x} for x in sets]
    for t in (1, 2, 3):
        assert texts[t] <= set(pool)                              # from the pool
        assert all(not texts[t] & texts[u] for u in range(t))    # never seen before: no reuse
        assert (s.read_table(t, "prompts").source == "fresh").all()
        assert (s.read_table(t, "prompts").iteration == t).all()
        assert set(s.read_table(t - 1, "pairs").prompt_id) <= {p.id for p in sets[t]}  # trains on X_{t+1}
    assert not any(s.has(t, "evolved") or s.has(t, "selected") for t in range(3))
    assert len(trained) == 3
    # another seed draws other fresh prompts; a pool too small for the run fails at the start, naming the field
    other = make_run(tmp_path, "other", mode="fresh", iterations=1, seed=5)
    other.run()
    assert {p.text for p in other.prompts(1)} != texts[1]
    with pytest.raises(ValueError, match="EvaConfig.pool_set=.*240 prompts not in X_0.*needs 252"):
        make_run(tmp_path, "big", mode="fresh", iterations=21)


def test_fresh_prompt_set_skips_seen_prompts_and_names_an_exhausted_pool():
    pool = [Prompt(id=f"p{i}", text=f"Say {i}.") for i in range(6)]
    nxt, info = fresh_prompt_set(pool, ["Say 0.", "Say 1."], 3, seed=0)
    assert len(nxt) == 3 and not {p.text for p in nxt} & {"Say 0.", "Say 1."} and info["n_fresh"] == 3
    assert fresh_prompt_set(pool, [], 3, seed=0)[0] == fresh_prompt_set(pool, [], 3, seed=0)[0]
    with pytest.raises(ValueError, match="only 2 unseen"):
        fresh_prompt_set(pool, [p.text for p in pool[:4]], 3, seed=0, pool_name="x.jsonl")


@pytest.mark.parametrize("sampling", ["greedy", "weighted"])
def test_no_evolve_trains_on_the_informative_subset_only(tmp_path, trained, sampling):
    run = make_run(tmp_path, mode="no_evolve", sampling=sampling, iterations=2)
    assert "selected" in run.stages and "evolved" not in run.stages
    run.run()
    s = run.store
    for t in (0, 1):
        sel = s.read_table(t, "selected")
        w = s.read_table(t, "weights").set_index("prompt_id").weight
        assert len(sel) == 6                                               # ceil(0.5 × 12)
        assert set(s.read_table(t, "train_responses").prompt_id) == set(sel.prompt_id)
        assert set(s.read_table(t, "pairs").prompt_id) <= set(sel.prompt_id)
        assert [p.id for p in run.prompts(t + 1)] == [p.id for p in run.prompts(t)]  # X_{t+1} = X_t, no creator
        assert not s.has(t, "evolved")
        if sampling == "greedy":  # the top-weight prompts
            assert w.loc[sel.prompt_id].min() >= w.drop(sel.prompt_id).max()
    assert len(trained) == 2
