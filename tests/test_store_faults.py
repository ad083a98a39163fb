"""A write that fails part-way (ENOSPC, simulated by patching the parquet writer) stops the run with one line,
leaves the store readable, and a resume then finishes with the same artifacts as an uninterrupted run."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pandas as pd
import pytest

from evalab import __main__ as cli
from evalab.loop import EvaRun
from evalab.store import RunStore, StoreWriteError
from test_loop import make_run

UNTIL = (0, "next_prompts")  # past the failing stage; no held-out eval (run_eval=False) to stay fast


def _disk_full_on(monkeypatch, stage_file: str) -> list[str]:
    """Make the parquet write of ``stage_file`` write half a file and then fail with ENOSPC."""
    real = pd.DataFrame.to_parquet
    hits: list[str] = []

    def to_parquet(self, path, *args, **kwargs):
        if Path(str(path)).name.startswith(f".{stage_file}."):
            hits.append(str(path))
            Path(path).write_bytes(b"PAR1" + b"\0" * 100)  # part of a file, then the disk is full
            raise OSError(errno.ENOSPC, os_strerror(errno.ENOSPC))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    return hits


def os_strerror(code: int) -> str:
    import os

    return os.strerror(code)


def _artifacts(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*.parquet")):
        out[str(p.relative_to(root))] = pd.read_parquet(p)
    for p in sorted(root.rglob("eval.json")):
        e = json.loads(p.read_text())
        out[str(p.relative_to(root))] = {k: e[k] for k in ("constraint_rate", "full_rate", "per_kind", "responses")}
    return out


def test_disk_full_mid_write_stops_leaves_store_readable_and_resume_matches(tmp_path, monkeypatch):
    ref = make_run(tmp_path, "ref", run_eval=False)
    ref.run(until=UNTIL)

    run = make_run(tmp_path, "run", run_eval=False)
    hits = _disk_full_on(monkeypatch, "evolved.parquet")
    with pytest.raises(StoreWriteError) as exc:
        run.run(until=UNTIL)
    msg = str(exc.value)
    assert hits and "\n" not in msg, msg
    assert "evolved.parquet" in msg and "No space left on device" in msg and "re-run to resume" in msg
    monkeypatch.undo()

    # readable: the finished stages open, the failed one is simply not finished, no partial file anywhere
    store = RunStore(run.store.root)
    assert store.has(0, "selected") and not store.has(0, "evolved")
    assert not list(run.store.root.rglob("*.tmp"))
    for p in run.store.root.rglob("*.parquet"):
        pd.read_parquet(p)
    store.events()

    resumed = make_run(tmp_path, "run", run_eval=False)
    resumed.run(until=UNTIL)
    a, b = _artifacts(ref.store.root), _artifacts(resumed.store.root)
    assert set(a) == set(b)
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name], obj=name)
        else:
            assert a[name] == b[name], name


def test_cli_stops_with_one_line(tmp_path, monkeypatch, capsys):
    def disk_full(self, *a, **k):
        raise StoreWriteError(errno.ENOSPC, f"could not write {tmp_path}/x.parquet: [Errno 28] No space left on "
                                            "device; the run store is unchanged")

    monkeypatch.setattr(EvaRun, "run_stage", disk_full)  # the CLI runs stage by stage under its progress bar
    rc = cli.main(["run", "--profile", "ci", "--run-dir", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1 and err.startswith("evalab: stopped: could not write") and "No space left" in err


def test_cli_stops_with_one_line_on_missing_rewards(tmp_path, monkeypatch, capsys):
    from evalab.rewards import MissingRewardError

    def judge_down(self, *a, **k):
        raise MissingRewardError("reward 'judge:x' left 40% of 24 responses unscored (max_missing_reward=0.05); "
                                 "first error: ConnectionError")

    monkeypatch.setattr(EvaRun, "run_stage", judge_down)
    rc = cli.main(["run", "--profile", "ci", "--run-dir", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "judge:x" in err and "first error" in err
    with pytest.raises(MissingRewardError):  # --debug keeps the traceback
        cli.main(["run", "--profile", "ci", "--run-dir", str(tmp_path / "r"), "--quiet", "--debug"])
