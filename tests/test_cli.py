"""The command line: every --help works, every bad input is one plain line with exit code 2, `run` shows
progress with a total and an ETA per stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evalab.__main__ import build_parser, main, run_with_progress, stage_estimates
from evalab.config import profile_config
from evalab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _subcommands() -> list[str]:
    ap = build_parser()
    sub = next(a for a in ap._actions if a.dest == "cmd")
    return sorted(sub.choices)


@pytest.mark.parametrize("cmd", [[]] + [[c] for c in _subcommands()])
def test_every_help_works(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main(cmd + ["--help"])
    assert e.value.code == 0
    assert "usage: python -m evalab" in capsys.readouterr().out


def test_help_in_a_real_process():
    r = subprocess.run([sys.executable, "-m", "evalab", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "95% CIs" in r.stdout and "Traceback" not in r.stderr


@pytest.fixture()
def existing_run(tmp_path):
    d = tmp_path / "existing"
    RunStore(d, profile_config("ci", run_dir=str(d)))
    return d


def _bad_inputs(tmp: Path, existing: Path, write: bool = True) -> dict[str, list[str]]:
    if write:
        _write_bad_files(tmp)
    run = ["run", "--profile", "ci", "--run-dir", str(tmp / "r")]
    return {
        "bad value": run + ["--set", "metric=foo"],
        "bad range": run + ["--set", "subset_fraction=1.5"],
        "unknown field": run + ["--set", "metrc=a_avg"],
        "not key=value": run + ["--set", "metric"],
        "not an int": run + ["--set", "iterations=two"],
        "not a bool": run + ["--set", "lora=maybe"],
        "not a dict": run + ["--set", "backend_kwargs=tp8"],
        "bad --iterations": run + ["--iterations", "0"],
        "missing --run-dir": ["run", "--profile", "ci"],
        "unknown profile": ["run", "--profile", "huge", "--run-dir", str(tmp / "r")],
        "unknown subcommand": ["frobnicate"],
        "unknown option": run + ["--colour"],
        "missing prompt file": run + ["--set", f"prompt_set={tmp / 'nope.jsonl'}"],
        "malformed prompt file": run + ["--set", f"prompt_set={tmp / 'bad.jsonl'}"],
        "empty prompt file": run + ["--set", f"prompt_set={tmp / 'empty.jsonl'}"],
        "duplicate ids": run + ["--set", f"prompt_set={tmp / 'dup.jsonl'}"],
        "missing eval file": run + ["--set", f"eval_set={tmp / 'nope.jsonl'}"],
        "config mismatch": ["run", "--profile", "ci", "--run-dir", str(existing), "--set", "seed=7"],
        "online bad steps": ["online", "--profile", "ci", "--run-dir", str(tmp / "o"), "--steps", "-1"],
        "online bad trainer": ["online", "--profile", "ci", "--run-dir", str(tmp / "o"), "--trainer", "ppo"],
        "online bad field": ["online", "--profile", "ci", "--run-dir", str(tmp / "o"), "--set", "metric=foo"],
        "online missing prompt file": ["online", "--profile", "ci", "--run-dir", str(tmp / "o"), "--set",
                                       f"prompt_set={tmp / 'nope.jsonl'}"],
        "online config mismatch": ["online", "--profile", "ci", "--run-dir", str(existing), "--set", "seed=7"],
        "summary missing dir": ["summary", str(tmp / "nowhere")],
        "summary not a run": ["summary", str(tmp)],
        "compare missing dir": ["compare", str(tmp / "nowhere")],
        "compare empty root": ["compare", str(tmp)],
        "config bad profile": ["config", "--profile", "huge"],
    }


def _write_bad_files(tmp: Path) -> None:
    (tmp / "bad.jsonl").write_text('{"id": "a", "text": "ok"}\n{"id": 1, \n')
    (tmp / "empty.jsonl").write_text("\n")
    (tmp / "dup.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')


BAD = sorted(_bad_inputs(Path("/x"), Path("/y"), write=False))


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, existing_run, capsys):
    argv = _bad_inputs(tmp_path, existing_run)[case]
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (case, err)
    assert len(lines) == 1, (case, err)
    assert lines[0].startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()  # nothing ran, no run directory made


def test_errors_name_the_field_and_the_fix(tmp_path, existing_run, capsys):
    cases = _bad_inputs(tmp_path, existing_run)
    expect = {"bad value": ["EvaConfig.metric", "choose one of"],
              "unknown field": ["metrc", "did you mean 'metric'"],
              "not an int": ["EvaConfig.iterations", "integer"],
              "missing prompt file": ["EvaConfig.prompt_set", "--set prompt_set=PATH"],
              "malformed prompt file": ["EvaConfig.prompt_set", "bad.jsonl:2", "fix the file"],
              "config mismatch": ["seed", "new run_dir"]}
    for case, needles in expect.items():
        main(cases[case])
        err = capsys.readouterr().err
        for n in needles:
            assert n in err, (case, n, err)


def test_debug_shows_the_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "evalab", "run", "--profile", "ci", "--run-dir", str(tmp_path / "r"),
                        "--set", "metric=foo", "--debug"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Traceback" in r.stderr and "EvaConfig.metric" in r.stderr
    r = subprocess.run([sys.executable, "-m", "evalab", "run", "--profile", "ci", "--run-dir", str(tmp_path / "r"),
                        "--set", "metric=foo"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_set_parses_types(tmp_path, monkeypatch):
    from evalab.__main__ import _parse_set

    out = _parse_set(["lora=yes", "iterations=3", "temperature=0.5", "backend_kwargs={\"dtype\": \"bfloat16\"}",
                      "metric=a_avg", "run_eval=false"])
    assert out == {"lora": True, "iterations": 3, "temperature": 0.5, "backend_kwargs": {"dtype": "bfloat16"},
                   "metric": "a_avg", "run_eval": False}


# --- progress ------------------------------------------------------------------------------------------

def test_stage_estimates_use_the_same_stage_of_earlier_iterations():
    ev = pd.DataFrame([{"event": "stage_end", "iteration": 0, "stage": "responses", "seconds": 12.0},
                       {"event": "stage_end", "iteration": 0, "stage": "weights", "seconds": 0.5},
                       {"event": "stage_start", "iteration": 1, "stage": "responses"}])
    est = stage_estimates(ev, [(1, "responses"), (1, "weights"), (1, "evolved")])
    assert est == [12.0, 0.5, None]
    assert stage_estimates(pd.DataFrame(), [(0, "eval")]) == [None]


class _FakeRun:
    def __init__(self, store):
        self.store = store
        self.ran: list[tuple[int, str]] = []

    def pending(self):
        return [(0, "responses"), (0, "weights"), (1, "responses")]

    def run_stage(self, t, stage):
        self.ran.append((t, stage))

    def summary(self):
        return pd.DataFrame({"iteration": [0]})


def test_run_with_progress_shows_total_and_eta(tmp_path, capsys):
    store = RunStore(tmp_path / "r", profile_config("ci", run_dir=str(tmp_path / "r")))
    store.log_event("stage_end", iteration=0, stage="weights", seconds=75.0)
    fake = _FakeRun(store)
    out = run_with_progress(fake, show=True)
    err = capsys.readouterr().err
    assert fake.ran == fake.pending() and list(out.columns) == ["iteration"]
    assert "3/3" in err                       # the total is the pending stages
    assert "eta 1m15s" in err                 # weights: its own earlier timing
    assert "eta ?" in err                     # responses: never ran yet
