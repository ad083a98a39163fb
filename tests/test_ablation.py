"""Ablation bookkeeping: θ₀'s shared held-out report, bootstrap intervals, arm-vs-baseline pairing.
(The real arms run in tests/test_notebooks.py::test_notebook_04_ablations.)"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evalab.ablation import (_share_initial_eval, bootstrap_ci, compare_arms, compare_to_baseline, eval_cells)
from evalab.config import profile_config
from evalab.store import RunStore


def _store(tmp_path, name, seed=1, scores=None, **overrides):
    cfg = profile_config("ci", run_dir=str(tmp_path / name), seed=seed, **overrides)
    st = RunStore(cfg.run_dir, cfg)
    for t, sc in (scores or {}).items():
        ids = [f"h{i}" for i in range(len(sc))]
        st.write_json(t, "eval", {"iteration": t, "full_rate": float(np.mean(sc)),
                                  "per_prompt": {"prompt_id": ids, "frac": list(map(float, sc)),
                                                 "full": list(map(float, sc))}})
    return cfg, st


def test_initial_eval_is_copied_from_a_matching_run_and_marked(tmp_path):
    dcfg, donor = _store(tmp_path, "eva1", scores={0: [1, 0, 1, 0]})
    cfg, st = _store(tmp_path, "static1", seed=2, mode="static")
    _share_initial_eval(st, cfg, [(dcfg, donor)])
    rep = st.read_json(0, "eval")
    assert rep["per_prompt"] == donor.read_json(0, "eval")["per_prompt"]
    assert rep["shared_from"] == str(dcfg.run_dir)
    events = [json.loads(line) for line in (st.root / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "eval_shared" for e in events)


def test_initial_eval_is_not_shared_when_the_evaluation_differs(tmp_path):
    dcfg, donor = _store(tmp_path, "a", scores={0: [1, 0]})
    cfg, st = _store(tmp_path, "b", n_eval=5)                     # another held-out subset
    _share_initial_eval(st, cfg, [(dcfg, donor)])
    assert not st.has(0, "eval")
    cfg2, st2 = _store(tmp_path, "c", eval_max_new_tokens=99)   # another decoding budget
    _share_initial_eval(st2, cfg2, [(dcfg, donor)])
    assert not st2.has(0, "eval")


def test_an_existing_initial_eval_is_never_overwritten(tmp_path):
    dcfg, donor = _store(tmp_path, "a", scores={0: [1, 1]})
    cfg, st = _store(tmp_path, "b", scores={0: [0, 0]})
    _share_initial_eval(st, cfg, [(dcfg, donor)])
    assert st.read_json(0, "eval")["per_prompt"]["full"] == [0.0, 0.0]


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_more_prompts():
    rng = np.random.default_rng(0)
    small = [rng.binomial(1, 0.3, 20) for _ in range(3)]
    big = [rng.binomial(1, 0.3, 2000) for _ in range(3)]
    m, lo, hi = bootstrap_ci(small)
    assert lo <= m <= hi
    mb, lob, hib = bootstrap_ci(big)
    assert hib - lob < (hi - lo) / 3
    assert lob < 0.3 < hib
    assert bootstrap_ci([np.ones(5), np.ones(7)]) == (1.0, 1.0, 1.0)
    assert all(np.isnan(bootstrap_ci([])))


def test_compare_to_baseline_pairs_seeds_and_prompts(tmp_path):
    base = [[0, 1, 0, 0, 1, 0, 0, 0]] * 2
    stores = {"static": [], "eva": []}
    for s, sc in zip((1, 2), base):
        stores["static"].append(_store(tmp_path, f"static{s}", seed=s, mode="static", scores={0: sc, 1: sc})[1])
        better = [1, 1, 0, 1, 1, 0, 0, 0]                        # +2 prompts of 8 on every seed
        stores["eva"].append(_store(tmp_path, f"eva{s}", seed=s, scores={0: sc, 1: better})[1])
    df = compare_to_baseline(stores, baseline="static")
    row = df.set_index("arm").loc["eva"]
    assert row.vs == "static" and row.seeds == 2
    assert row.delta_full == pytest.approx(0.25)
    assert 0 < row.ci_low <= 0.25 <= row.ci_high
    assert row.p_better > 0.95          # resamples of only unchanged prompts give 0, never < 0
    gains = compare_arms(stores).set_index("arm")
    assert gains.loc["eva", "gain"] == pytest.approx(0.25) and gains.loc["static", "gain"] == 0
    assert len(eval_cells(stores["eva"][0])) == 16


def test_compare_to_baseline_names_what_is_wrong(tmp_path):
    _, a = _store(tmp_path, "a", scores={0: [1]})
    _, b = _store(tmp_path, "b", scores={0: [0]})
    with pytest.raises(ValueError, match="baseline='static'"):
        compare_to_baseline({"eva": [a]}, baseline="static")
    with pytest.raises(ValueError, match="same seeds"):
        compare_to_baseline({"eva": [a, a], "static": [b]})
    _, empty = _store(tmp_path, "empty")
    with pytest.raises(ValueError, match="no held-out evaluation"):
        compare_to_baseline({"eva": [empty], "static": [b]})


def test_load_ablation_and_compare_cli_write_paired_tables(tmp_path, capsys):
    from evalab.__main__ import main
    from evalab.ablation import load_ablation

    root = tmp_path / "abl"
    base = [0, 1, 0, 0]
    for s in (1, 2, 3):
        _store(root / "static", f"seed{s}", seed=s, mode="static", scores={0: base, 1: base})
        if s != 3:  # arm eva lacks seed 3: only the paired seeds are compared
            _store(root / "eva", f"seed{s}", seed=s, scores={0: base, 1: [1, 1, 0, 0]})
    stores = load_ablation(root)
    assert sorted(stores) == ["eva", "static"] and [st.config.seed for st in stores["static"]] == [1, 2]
    out = tmp_path / "res.json"
    assert main(["compare", str(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gain_ci_low" in printed and "p_better" in printed
    res = json.loads(out.read_text())
    assert res["vs_baseline"][0]["arm"] == "eva" and res["vs_baseline"][0]["delta_full"] == pytest.approx(0.25)
    assert {(r["arm"], r["seed"], r["iteration"]) for r in res["per_seed"]} == {
        (a, s, t) for a in ("eva", "static") for s in (1, 2) for t in (0, 1)}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ablation(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no <arm>/seed<k>"):
        load_ablation(tmp_path / "abl" / "eva" / "seed1" / "iter_000")


def test_compare_arms_warns_when_seeds_stopped_at_different_iterations(tmp_path):
    _, a = _store(tmp_path, "a", seed=1, scores={0: [1, 0], 1: [1, 1]})
    _, b = _store(tmp_path, "b", seed=2, scores={0: [1, 0]})
    with pytest.warns(UserWarning, match="different iterations"):
        compare_arms({"eva": [a, b]})


def test_run_ablation_runs_every_protocol_arm_through_the_loop(tmp_path, monkeypatch):
    """The paper's controls by name, each through the real loop (stand-in generation, recording trainer)."""
    import evalab.training
    from evalab.ablation import PROTOCOL_ARMS, run_ablation
    from evalab.creator import StructuredEvolver
    from evalab.loop import EvaRun
    from test_loop import TableBackend

    monkeypatch.setattr(evalab.training, "train_preference",
                        lambda cfg, solver, pairs, out, **kw: (out / "w").write_text(solver) and {"log_history": []})

    def run_fn(cfg):
        EvaRun(cfg, backend_factory=TableBackend, creator=StructuredEvolver(llm_rewrite=False), progress=False).run()

    base = profile_config("ci", n_prompts=10, n_responses=4, warmup_round=True)
    stores = run_ablation(base, list(PROTOCOL_ARMS), seeds=[1], root=tmp_path / "abl", progress=False, run_fn=run_fn)
    assert list(stores) == ["eva", "static", "fresh", "no_evolve-greedy", "no_evolve-sampled"]
    st = {a: runs[0] for a, runs in stores.items()}
    assert {a: (s.config.mode, s.config.sampling) for a, s in st.items()} == {
        "eva": ("eva", "weighted"), "static": ("static", "weighted"), "fresh": ("fresh", "weighted"),
        "no_evolve-greedy": ("no_evolve", "greedy"), "no_evolve-sampled": ("no_evolve", "weighted")}
    # every arm: warm-start round at iteration 0, then its own iteration 1
    for a, s in st.items():
        assert s.has(0, "checkpoint") and s.has(1, "checkpoint") and s.has(2, "eval"), a
        assert s.has(1, "evolved") == (a == "eva") and s.has(1, "selected") == a.startswith(("eva", "no_evolve"))
    assert (st["fresh"].read_table(2, "prompts").source == "fresh").all()
    greedy = st["no_evolve-greedy"]
    assert set(greedy.read_table(1, "train_responses").prompt_id) == set(greedy.read_table(1, "selected").prompt_id)
    table = compare_arms(stores)
    assert set(table.arm) == set(PROTOCOL_ARMS) and (table.iteration == 2).all()
    with pytest.raises(ValueError, match="not a named arm"):
        run_ablation(base, ["eva", "bogus"], seeds=[1], root=tmp_path / "x", run_fn=run_fn)


def test_an_arm_choosing_a_trainer_gets_its_recipe():
    from evalab.ablation import arm_config

    base = profile_config("ci")
    simpo = arm_config(base, {"trainer": "simpo"}, seed=1, run_dir="r")
    assert (simpo.beta, simpo.simpo_gamma, simpo.n_prompts) == (10.0, 5.0, base.n_prompts)  # not DPO's β 0.1
    assert arm_config(base, {"trainer": "simpo", "beta": 4.0}, seed=1, run_dir="r").beta == 4.0
    assert arm_config(base, {"mode": "fresh"}, seed=2, run_dir="r").beta == base.beta


def test_arms_share_one_warm_start_round_when_it_is_the_same_computation(tmp_path, monkeypatch):
    import evalab.loop
    import evalab.training
    from evalab.ablation import run_ablation
    from evalab.creator import StructuredEvolver
    from test_loop import TableBackend

    trained = []

    def fake_train(cfg, solver, pairs, out, **kw):
        trained.append(solver)
        (out / "weights.bin").write_text(f"{solver}|{cfg.trainer}")
        return {"log_history": [{"step": 1, "loss": 0.5}]}

    class FakeRun(evalab.loop.EvaRun):
        def __init__(self, cfg, **kw):
            super().__init__(cfg, backend_factory=TableBackend, creator=StructuredEvolver(llm_rewrite=False),
                             progress=False)

    monkeypatch.setattr(evalab.training, "train_preference", fake_train)
    monkeypatch.setattr(evalab.loop, "EvaRun", FakeRun)
    base = profile_config("ci", n_prompts=10, n_responses=4, warmup_round=True)
    arms = {"eva": {}, "fresh": {"mode": "fresh"}, "no_evolve": {"mode": "no_evolve", "metric": "a_avg"},
            "simpo": {"trainer": "simpo"}}
    stores = run_ablation(base, arms, seeds=[1], root=tmp_path / "abl", progress=False)
    # warm-start rounds trained: eva's (shared with fresh and no_evolve) and simpo's (another trainer)
    assert len(trained) == 2 + len(arms)
    eva, fresh, simpo = stores["eva"][0], stores["fresh"][0], stores["simpo"][0]
    for st in (fresh, stores["no_evolve"][0]):
        assert "warm_start_shared" in set(st.events().event)
        pd.testing.assert_frame_equal(st.read_table(0, "pairs"), eva.read_table(0, "pairs"))
        shared = st.path(0, "checkpoint") / "weights.bin"
        assert shared.read_text() == (eva.path(0, "checkpoint") / "weights.bin").read_text()
        assert st.has(1, "checkpoint") and st.has(2, "eval")
    assert "warm_start_shared" not in set(simpo.events().event)
    assert (simpo.path(0, "checkpoint") / "weights.bin").read_text().endswith("simpo")
