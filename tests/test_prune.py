"""Pruning finished runs (RunStore.prune_checkpoints, online.prune_online_run, reproduction.prune_runs,
`python -m evalab prune`, `reproduce --prune`): only what no later stage needs goes, the run stays finished and
resumable where it can be, and what cannot be loaded any more says so by name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from evalab.__main__ import main
from evalab.config import profile_config
from evalab.online import _online_resume_point, online_run_finished, prune_online_run
from evalab.reproduction import prune_runs, run_online_arms, run_reproduction
from evalab.store import PRUNED, RunStore


def _store_with_checkpoints(root: Path, n: int = 3, size: int = 1000) -> RunStore:
    store = RunStore(root, profile_config("ci", run_dir=str(root)))
    for t in range(n):
        store.write_table(t, "prompts", pd.DataFrame({"id": [f"p{t}"]}))
        with store.checkpoint_writer(t) as d:
            (d / "model.safetensors").write_bytes(b"w" * size * (t + 1))
            (d / "config.json").write_text("{}")
            (d / "sub").mkdir()
            (d / "sub" / "x.bin").write_bytes(b"x" * 10)
    return store


def test_prune_keeps_the_last_checkpoint_and_every_stage_finished(tmp_path):
    store = _store_with_checkpoints(tmp_path / "run")
    before = {t: store.has(t, "checkpoint") for t in range(3)}
    dry = store.prune_checkpoints(dry_run=True)
    assert [(r["iteration"], r["files"], r["bytes"]) for r in dry] == [(0, 3, 1012), (1, 3, 2012)]
    assert (store.path(0, "checkpoint") / "model.safetensors").exists()  # a dry run deletes nothing
    out = store.prune_checkpoints()
    assert [(r["iteration"], r["bytes"]) for r in out] == [(0, 1012), (1, 2012)]
    for t in (0, 1):
        d = store.path(t, "checkpoint")
        assert sorted(p.name for p in d.iterdir()) == ["DONE", PRUNED] and store.is_pruned(t)
        assert json.loads((d / PRUNED).read_text())["bytes"] == 1000 * (t + 1) + 12
    last = store.path(2, "checkpoint")
    assert (last / "model.safetensors").stat().st_size == 3000 and not store.is_pruned(2)
    assert {t: store.has(t, "checkpoint") for t in range(3)} == before  # still finished: a rerun trains nothing
    assert store.prune_checkpoints() == []  # idempotent
    ev = store.events()
    assert ev[ev.event == "checkpoint_pruned"].iteration.tolist() == [0, 1]


def test_prune_keep_and_a_prune_cut_short(tmp_path):
    store = _store_with_checkpoints(tmp_path / "run")
    assert [r["iteration"] for r in store.prune_checkpoints(keep=(0,))] == [1]
    assert not store.is_pruned(0) and store.is_pruned(1)
    # a prune killed after its marker: the next one deletes what is left
    (store.path(0, "checkpoint") / PRUNED).write_text("{}")
    assert [r["iteration"] for r in store.prune_checkpoints()] == [0]
    assert not (store.path(0, "checkpoint") / "model.safetensors").exists()


def test_a_hard_linked_checkpoint_survives_in_the_other_run(tmp_path):
    a = _store_with_checkpoints(tmp_path / "a", n=2)
    b = RunStore(tmp_path / "b", profile_config("ci", run_dir=str(tmp_path / "b")))
    with b.checkpoint_writer(0) as d:
        os.link(a.path(0, "checkpoint") / "model.safetensors", d / "model.safetensors")
    a.prune_checkpoints()
    assert (b.path(0, "checkpoint") / "model.safetensors").read_bytes() == b"w" * 1000


def test_a_pruned_solver_checkpoint_is_named_when_loaded(tmp_path):
    from test_loop import make_run

    run = make_run(tmp_path)
    for t in (0, 1):
        with run.store.checkpoint_writer(t) as d:
            (d / "model.safetensors").write_bytes(b"w")
    pending = run.pending()
    run.store.prune_checkpoints()
    assert run.pending() == pending  # pruning finishes nothing and un-finishes nothing
    assert run.solver_path(2) == str(run.store.path(1, "checkpoint"))
    with pytest.raises(FileNotFoundError, match=r"solver checkpoint of iteration 0 was pruned.*evalab prune"):
        run.solver_path(1)


def _finished_online_run(d: Path, steps: int = 6, evolve_every: int = 2) -> None:
    (d / "model").mkdir(parents=True)
    (d / "model" / "config.json").write_text("{}")
    (d / "model" / "model.safetensors").write_bytes(b"m" * 50)
    (d / "config.json").write_text(json.dumps(profile_config("ci", run_dir=str(d)).to_dict()))
    (d / "online_summary.json").write_text(json.dumps({"trainer": "grpo", "steps": steps,
                                                       "evolve_every": evolve_every}))
    for step in (4, 6):
        ck = d / "_trainer" / f"checkpoint-{step}"
        ck.mkdir(parents=True)
        (ck / "optimizer.pt").write_bytes(b"o" * 100)
        (ck / "trainer_state.json").write_text("{}")
        (ck / "eva_state.json").write_text("{}")


def test_prune_online_run_only_when_finished_and_then_refuses_to_resume(tmp_path):
    d = tmp_path / "online"
    d.mkdir()
    (d / "_trainer" / "checkpoint-2").mkdir(parents=True)
    assert not online_run_finished(d) and prune_online_run(d) is None  # unfinished: left alone
    assert (d / "_trainer" / "checkpoint-2").exists()
    import shutil

    shutil.rmtree(d)
    _finished_online_run(d)
    settings = {"trainer": "grpo", "steps": 6, "evolve_every": 2, "checkpoint_every": 2}
    assert _online_resume_point(d, settings).name == "checkpoint-6"
    assert prune_online_run(d, dry_run=True)["files"] == 6 and (d / "_trainer" / "checkpoint-6").exists()
    rec = prune_online_run(d)
    assert rec["files"] == 6 and rec["bytes"] == 2 * (100 + 4)
    assert sorted(p.name for p in (d / "_trainer").iterdir()) == [PRUNED]
    assert (d / "model" / "model.safetensors").exists()
    with pytest.raises(ValueError, match="pruned.*cannot be resumed"):
        _online_resume_point(d, settings)


def test_run_online_arms_prunes_and_skips_a_pruned_run_with_the_same_settings(tmp_path):
    calls = []

    def fake(cfg, **kw):
        calls.append((Path(cfg.run_dir).parent.name, cfg.seed))
        _finished_online_run(Path(cfg.run_dir), steps=kw["steps"], evolve_every=kw["evolve_every"])

    base = profile_config("ci")
    run_online_arms(base, [1], tmp_path, steps=6, evolve_every=2, progress=False, run_fn=fake, prune=True)
    assert calls == [("online-eva", 1), ("online-seed", 1)]
    for arm in ("online-eva", "online-seed"):
        assert sorted(p.name for p in (tmp_path / arm / "seed1" / "_trainer").iterdir()) == [PRUNED]
    out = run_online_arms(base, [1], tmp_path, steps=6, evolve_every=2, progress=False, run_fn=fake, prune=True)
    assert len(calls) == 2 and out["online-eva"] == [tmp_path / "online-eva" / "seed1"]  # nothing ran again
    with pytest.raises(ValueError, match="steps: ran 6, asked 8"):
        run_online_arms(base, [1], tmp_path, steps=8, evolve_every=2, progress=False, run_fn=fake)


def test_prune_runs_and_the_cli(tmp_path, capsys):
    root = tmp_path / "root"
    _store_with_checkpoints(root / "eva" / "seed1")
    _finished_online_run(root / "online-eva" / "seed1")
    assert main(["prune", str(root), "--dry-run"]) == 0
    assert "would free" in capsys.readouterr().out
    assert (root / "eva" / "seed1" / "iter_000" / "checkpoint" / "model.safetensors").exists()
    df = prune_runs(root)
    assert sorted(zip(df.stage, df.iteration.fillna(-1))) == [("_trainer", -1), ("checkpoint", 0), ("checkpoint", 1)]
    assert prune_runs(root).empty
    assert main(["prune", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_reproduce_prune_as_each_run_finishes(tmp_path):
    base = profile_config("ci", iterations=2)

    def fake(cfg):
        _store_with_checkpoints(Path(cfg.run_dir), n=2)

    stores = run_reproduction(base, ["eva", "static"], [1], tmp_path, progress=False, report=False, run_fn=fake,
                              prune=True)
    for arm in ("eva", "static"):
        st = stores[arm][0]
        assert st.is_pruned(0) and not st.is_pruned(1)


def test_reproduce_config_prune_must_be_a_boolean(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"profile: ci\nroot: {tmp_path / 'r'}\narms: [eva]\nseeds: [1]\nprune: sometimes\n")
    assert main(["reproduce", "--config", str(cfg)]) == 2
    assert "prune='sometimes'" in capsys.readouterr().err
