"""Online eva survives kill -9: a real GRPO run on the embedded model (headless CLI) is killed during the
step after its first checkpoint, then run again with the same command. The second run must continue from the
checkpoint — nothing written before it lost, event numbers and steps continuing — and finish the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _cmd(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "evalab", "online", "--profile", "ci", "--run-dir", str(run_dir),
            "--trainer", "grpo", "--steps", "4", "--evolve-every", "2", "--torch-threads", "1", "--quiet",
            "--set", "max_new_tokens=16"]


def test_online_eva_resumes_after_kill_9(tmp_path):
    run_dir = tmp_path / "online"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(_cmd(run_dir), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    ckpt = run_dir / "_trainer" / "checkpoint-2"
    t0 = time.time()
    while not (ckpt / "eva_state.json").exists():
        assert proc.poll() is None, f"run ended before its first checkpoint:\n{proc.stdout.read()[-3000:]}"
        assert time.time() - t0 < 900, "no checkpoint after 15 min"
        time.sleep(0.2)
    time.sleep(3)  # into step 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "online_summary.json").exists(), "the kill came too late: the run had finished"

    saved = json.loads((ckpt / "eva_state.json").read_text())
    assert saved["step"] == 2 and len(saved["callback"]["events"]) == 1
    saved_pool = [p["id"] for p in saved["pool"]["prompts"]]
    saved_groups = len(saved["adapter"]["groups"])

    r = subprocess.run(_cmd(run_dir), cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]

    summary = json.loads((run_dir / "online_summary.json").read_text())
    assert summary["resumed_from"] is not None and summary["steps"] == 4
    assert int(Path(summary["resumed_from"]).name.split("-")[1]) >= 2
    events = pd.read_parquet(run_dir / "online_events.parquet")
    assert events.event.tolist() == [1, 2] and events.step.tolist() == [2, 4]
    pool = pd.read_parquet(run_dir / "pool.parquet")
    assert pool.id.tolist()[:len(saved_pool)] == saved_pool          # nothing added before the kill is lost
    assert len(pool) >= len(saved_pool) and pool.slot.tolist() == list(range(len(pool)))
    groups = pd.read_parquet(run_dir / "groups.parquet")
    assert len(groups) > saved_groups and groups.call.is_monotonic_increasing
    log = pd.read_parquet(run_dir / "train_log.parquet")
    steps = log.dropna(subset=["loss"]).step.tolist()
    assert steps == [1, 2, 3, 4]                                # every step trained once, none twice
    kinds = [json.loads(line)["event"] for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert kinds.count("online_start") == 1 and kinds.count("online_resume") == 1
