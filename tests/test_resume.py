"""Kill -9 a real run at six different points, resume it each time, and compare everything it wrote
with an uninterrupted run of the same config: same prompts, variants, pairs and held-out metrics.

The run is the real thing at a tiny size: the embedded SmolLM2-135M as solver and creator, the
constraint reward, TRL DPO with a trainer checkpoint every step (so one kill lands mid-training).
"""

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
SETTINGS = ["n_prompts=6", "n_eval=4", "n_responses=3", "max_new_tokens=16", "eval_max_new_tokens=16",
            "n_variants=2", "creator_max_tokens=32", "epochs=2", "train_batch_size=2", "trainer_save_steps=1"]


def start(run_dir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "evalab", "run", "--profile", "ci", "--run-dir", str(run_dir), "--iterations", "1",
           "--quiet"] + [x for s in SETTINGS for x in ("--set", s)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def events(run_dir: Path) -> list[dict]:
    p = run_dir / "events.jsonl"
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def started(run_dir: Path, iteration: int, stage: str) -> bool:
    return any(e["event"] == "stage_start" and e.get("iteration") == iteration and e.get("stage") == stage
               for e in events(run_dir))


def trainer_checkpoint(run_dir: Path) -> bool:
    return any((run_dir / "iter_000" / "_trainer").glob("checkpoint-*/trainer_state.json"))


def run_until_killed(run_dir: Path, condition, delay: float, timeout: float = 600) -> str:
    """Start the run, wait for ``condition``, wait ``delay`` seconds more, then SIGKILL it."""
    proc = start(run_dir)
    t0 = time.time()
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"run ended before the kill point:\n{proc.stdout.read()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("kill point never reached")
        time.sleep(0.2)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return f"killed after {time.time() - t0:.1f}s"


def finish(run_dir: Path) -> None:
    proc = start(run_dir)
    out, _ = proc.communicate(timeout=1800)
    assert proc.returncode == 0, out


TABLES = [(0, "prompts"), (0, "responses"), (0, "weights"), (0, "selected"), (0, "evolved"), (0, "next_prompts"),
          (0, "train_responses"), (0, "pairs"), (1, "prompts")]


@pytest.mark.slow
def test_kill_9_at_six_points_then_resume_matches_uninterrupted(tmp_path):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    finish(ref)

    kill_points = [
        ("mid-generation of step 1", lambda: started(killed, 0, "responses"), 2.0),
        ("mid-creator", lambda: started(killed, 0, "evolved"), 1.0),
        ("at the start of the next-set mix", lambda: started(killed, 0, "next_prompts"), 0.0),
        ("mid-generation on X_1", lambda: started(killed, 0, "train_responses"), 1.5),
        ("mid-training, after a trainer checkpoint", lambda: trainer_checkpoint(killed), 0.5),
        ("mid-evaluation of the trained solver", lambda: started(killed, 1, "eval"), 1.0),
    ]
    log = []
    for name, cond, delay in kill_points:
        if (killed / "iter_001" / "eval.json").exists():
            break
        log.append((name, run_until_killed(killed, cond, delay)))
    assert len(log) >= 5, log
    assert [e for e in events(killed) if e["event"] == "stage_start"], "the killed run made progress"
    finish(killed)

    for t, stage in TABLES:
        a = pd.read_parquet(ref / f"iter_{t:03d}" / f"{stage}.parquet")
        b = pd.read_parquet(killed / f"iter_{t:03d}" / f"{stage}.parquet")
        pd.testing.assert_frame_equal(a, b, obj=f"iteration {t} {stage}")
    for t in (0, 1):
        ea = json.loads((ref / f"iter_{t:03d}" / "eval.json").read_text())
        eb = json.loads((killed / f"iter_{t:03d}" / "eval.json").read_text())
        for key in ("constraint_rate", "full_rate", "reward_mean", "per_kind", "responses"):
            assert ea[key] == eb[key], (t, key)
    # the resumed training continued from its checkpoint instead of starting over
    resumed = [e for e in events(killed) if e["event"] == "stage_start" and e.get("stage") == "checkpoint"]
    assert len(resumed) >= 2
    # the store records where: the trainer checkpoint and its step; the global step went on from there
    (full,) = [e for e in events(ref) if e["event"] == "training"]
    assert full["resumed_from"] is None and full["steps_run"] == full["global_step"] >= 2
    (tr,) = [e for e in events(killed) if e["event"] == "training"]
    step = tr["resumed_from_step"]
    assert tr["resumed_from"] == f"checkpoint-{step}" and 1 <= step < full["global_step"], tr
    assert tr["global_step"] == full["global_step"], tr
    assert tr["steps_run"] == full["global_step"] - step, tr  # continued, not restarted
    assert not list(killed.rglob("*.tmp")), "no temporary files left behind"
