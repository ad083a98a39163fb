"""A hang fails with the test's or the cell's name: pytest-timeout per test (longer for slow tests), papermill's
execution timeout per notebook cell."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nbrun import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
TINY = '''
import time
import pytest

def test_quick_enough():
    time.sleep(0.1)

def test_plain_hang():
    time.sleep(60)

@pytest.mark.slow
def test_slow_allowed_longer():
    time.sleep(1.5)

@pytest.mark.slow
def test_slow_hang():
    time.sleep(60)
'''


def test_the_suite_has_timeouts(request):
    assert float(request.config.getini("timeout")) == 300
    assert float(request.config.getini("slow_timeout")) == 1800


def test_a_hung_test_fails_with_its_name(tmp_path):
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n  slow: slow\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=1",
                        "-o", "slow_timeout=3"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert time.time() - t0 < 60, out
    assert r.returncode == 1, out
    assert "FAILED test_tiny.py::test_plain_hang - Failed: Timeout (>1.0s)" in out, out
    assert "FAILED test_tiny.py::test_slow_hang - Failed: Timeout (>3.0s)" in out, out
    assert "2 failed, 2 passed" in out, out


def test_a_hung_notebook_cell_fails_naming_the_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("import time\ntime.sleep(120)  # the hang")]
    nbformat.write(nb, tmp_path / "hang.ipynb")
    t0 = time.time()
    with pytest.raises(TimeoutError, match=r"(?s)timed out.*time\.sleep\(120\)  # the hang"):
        execute_notebook(tmp_path / "hang.ipynb", tmp_path / "out.ipynb", timeout=3, kernel_name="python3",
                         progress_bar=False)
    assert time.time() - t0 < 60


def test_run_notebooks_script_passes_a_cell_timeout():
    script = (ROOT / "scripts" / "run_notebooks.sh").read_text()
    assert '--execution-timeout "$cell_timeout"' in script
    assert "ci) default_timeout=900" in script
