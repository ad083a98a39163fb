"""Provenance: every run store has manifest.json; compare warns when runs differ in it; compare --out carries it."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from evalab.ablation import compare_arms
from evalab.config import profile_config
from evalab.provenance import MANIFEST, PACKAGES, config_hash, read_manifest
from evalab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _store(root: Path, arm: str, seed: int, **overrides) -> RunStore:
    cfg = profile_config("ci", run_dir=str(root / arm / f"seed{seed}"), seed=seed, **overrides)
    st = RunStore(cfg.run_dir, cfg)
    rng = np.random.default_rng(seed)
    for t in (0, 1):
        sc = rng.integers(0, 2, 6).astype(float)
        st.write_json(t, "eval", {"iteration": t, "full_rate": float(sc.mean()),
                                  "per_prompt": {"prompt_id": [f"h{i}" for i in range(6)], "frac": sc.tolist(),
                                                 "full": sc.tolist()}})
    return st


def _edit_manifest(st: RunStore, **packages) -> None:
    m = json.loads((st.root / MANIFEST).read_text())
    m["packages"].update(packages)
    (st.root / MANIFEST).write_text(json.dumps(m))


def test_a_new_run_writes_its_manifest(tmp_path):
    st = _store(tmp_path, "eva", 1)
    m = read_manifest(st.root)
    assert set(m) >= {"packages", "git", "python", "machine", "config_hash", "created"}
    assert set(m["packages"]) == set(PACKAGES)
    assert m["packages"]["torch"] == metadata.version("torch")
    assert m["packages"]["transformers"] == metadata.version("transformers")
    assert len(m["git"]["commit"]) == 40 and isinstance(m["git"]["dirty"], bool)
    assert m["python"] == ".".join(map(str, sys.version_info[:3]))
    assert m["machine"]["cpu_count"] >= 1 and isinstance(m["machine"]["gpus"], list)
    assert m["config_hash"] == config_hash(json.loads((st.root / "config.json").read_text()))


def test_a_resume_under_another_environment_is_recorded(tmp_path):
    st = _store(tmp_path, "eva", 1)
    RunStore(st.root, st.config)  # same environment: nothing added
    assert "resumed_under" not in read_manifest(st.root)
    _edit_manifest(st, torch="0.0.1")
    RunStore(st.root, st.config)
    m = read_manifest(st.root)
    assert m["packages"]["torch"] == "0.0.1"  # the first manifest is kept ...
    assert m["resumed_under"][-1]["packages"]["torch"] == metadata.version("torch")  # ... the new one appended
    assert "environment_changed" in (st.root / "events.jsonl").read_text()


def test_compare_warns_when_runs_differ_in_their_manifest(tmp_path):
    stores = {"eva": [_store(tmp_path, "eva", s) for s in (1, 2)],
              "static": [_store(tmp_path, "static", s, mode="static") for s in (1, 2)]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same environment: no warning
        compare_arms(stores)
    _edit_manifest(stores["static"][1], trl="0.1.0")
    with pytest.warns(UserWarning, match=r"differ in their environment.*packages\.trl: .*'0\.1\.0'"):
        compare_arms(stores)


def test_compare_out_json_carries_the_manifests(tmp_path):
    for arm in ("eva", "static"):
        for s in (1, 2):
            _store(tmp_path / "abl", arm, s)
    out = tmp_path / "results.json"
    r = subprocess.run([sys.executable, "-m", "evalab", "compare", str(tmp_path / "abl"), "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    runs = res["manifests"]
    assert set(runs) == {"eva", "static"} and all(len(v) == 2 for v in runs.values())
    for by_run in runs.values():
        for run_dir, m in by_run.items():
            assert m == read_manifest(run_dir)


def test_a_run_older_than_manifests_gets_none_when_reopened(tmp_path):
    """Reopening a run made before manifest.json existed (data/demo_run) must not record the reopening code as the
    run's origin; a new run still gets its manifest."""
    import json

    from evalab.config import profile_config
    from evalab.provenance import MANIFEST
    from evalab.store import RunStore

    cfg = profile_config("ci", run_dir=str(tmp_path / "old"))
    RunStore(tmp_path / "old", cfg)
    (tmp_path / "old" / MANIFEST).unlink()  # as if made before provenance was recorded
    RunStore(tmp_path / "old", cfg)  # reopened for writing
    assert not (tmp_path / "old" / MANIFEST).exists()
    RunStore(tmp_path / "new", cfg.replace(run_dir=str(tmp_path / "new")))
    assert "git" in json.loads((tmp_path / "new" / MANIFEST).read_text())
