#!/usr/bin/env python3
"""Where to take torch from on this machine: prints the `pip install` arguments on stdout, and one line saying
why on stderr. Standard library only (it runs before anything is installed). Used by scripts/install.sh and
scripts/install_vllm_cpu.sh:

    python3 scripts/torch_source.py                 # evalab's env: any torch 2.13.0 will do
    python3 scripts/torch_source.py --require-cpu   # the vLLM-CPU venv: only torch==2.13.0+cpu (exit 3 if none)

The decision, in order:
1. ``EVALAB_KEEP_TORCH=1`` (not with --require-cpu), or torch 2.13.0 already installed (--require-cpu: 2.13.0+cpu)
                                                                        -> nothing to install (empty stdout)
2. a GPU (``nvidia-smi -L`` works; ``EVALAB_HAS_GPU=1/0`` overrides)    -> ``torch==2.13.0`` from the index (CUDA)
3. no GPU, a CPU wheel at hand: pip finds ``torch==2.13.0+cpu`` without any index (``--find-links``, e.g. our
   machines' /opt/wheels through PIP_FIND_LINKS or pip.conf)            -> ``torch==2.13.0+cpu``
4. no GPU, PyTorch's CPU wheel index reachable and listing a wheel for this Python
   (``EVALAB_TORCH_CPU_INDEX``, default https://download.pytorch.org/whl/cpu)
                                                                        -> ``torch==2.13.0+cpu --extra-index-url URL``
5. otherwise: ``--require-cpu`` prints the reason on stdout and exits 3 (the caller skips what needs the CPU
   build, saying why in one line); else ``torch==2.13.0``
   from the index, the CUDA build (GBs; it runs on a CPU), said in one line.

``--check-only`` (or ``EVALAB_TORCH_IGNORE_INSTALLED=1``: simulating a fresh machine) runs steps 2-5 without
step 1's short cuts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
EXIT_NO_CPU_TORCH = 3


def say(msg: str) -> None:
    print(f"evalab install: {msg}", file=sys.stderr)


def installed_torch(python: str) -> str | None:
    r = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('torch'))"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def has_gpu() -> bool:
    forced = os.environ.get("EVALAB_HAS_GPU")
    if forced in ("0", "1"):
        return forced == "1"
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        r = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "GPU" in r.stdout


def cpu_wheel_at_hand(python: str) -> bool:
    """pip resolves torch==VERSION+cpu with no index at all: a wheel is in a --find-links location."""
    r = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", "--ignore-installed",
                        "-q", f"torch=={VERSION}+cpu"], capture_output=True, text=True)
    return r.returncode == 0


def python_tag(python: str) -> str:
    r = subprocess.run([python, "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def index_lists_cpu_wheel(index: str, tag: str, timeout: float) -> tuple[bool, str]:
    """(True, "") if the index's torch page lists torch-VERSION+cpu for this Python; else (False, why)."""
    url = index.rstrip("/") + "/torch/"
    parsed = urllib.parse.urlparse(url)
    try:
        if parsed.scheme == "file":
            page_path = Path(urllib.request.url2pathname(parsed.path))
            page = (page_path / "index.html" if page_path.is_dir() else page_path).read_text()
        else:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (a fixed https URL or the user's)
                page = resp.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError) as e:
        return False, f"cannot be reached ({type(e).__name__}: {getattr(e, 'reason', e)})"
    pat = re.compile(rf"torch-{re.escape(VERSION)}(\+|%2B)cpu-{tag}-")
    if not pat.search(page):
        return False, f"lists no torch {VERSION}+cpu wheel for {tag}"
    return True, ""


def decide(python: str, require_cpu: bool, check_only: bool, timeout: float) -> tuple[list[str], int]:
    if not check_only:
        if not require_cpu and os.environ.get("EVALAB_KEEP_TORCH", "0") == "1":
            say("EVALAB_KEEP_TORCH=1: keeping the installed torch")
            return [], 0
        have = installed_torch(python)
        if have and have.split("+")[0] == VERSION and (not require_cpu or have.endswith("+cpu")):
            say(f"torch {have} already installed")
            return [], 0
    if not require_cpu and has_gpu():
        say(f"GPU found: torch=={VERSION} from the package index (CUDA build)")
        return [f"torch=={VERSION}"], 0
    if cpu_wheel_at_hand(python):
        say(f"no GPU{' needed' if require_cpu else ''}: torch=={VERSION}+cpu from the local wheel pip finds")
        return [f"torch=={VERSION}+cpu"], 0
    index = os.environ.get("EVALAB_TORCH_CPU_INDEX", CPU_INDEX)
    ok, why = index_lists_cpu_wheel(index, python_tag(python), timeout)
    if ok:
        say(f"no local CPU wheel: torch=={VERSION}+cpu from PyTorch's CPU wheel index {index}")
        return [f"torch=={VERSION}+cpu", "--extra-index-url", index], 0
    if require_cpu:  # the caller prints this reason in its own one-line message
        print(f"no torch=={VERSION}+cpu at hand (no local wheel) and PyTorch's CPU index {index} {why}")
        return [], EXIT_NO_CPU_TORCH
    say(f"no GPU, no local CPU wheel, and PyTorch's CPU index {index} {why}: falling back to torch=={VERSION} "
        "from the package index (the CUDA build, several GB; it runs on a CPU) — to avoid that, put a CPU wheel "
        "in a --find-links folder (PIP_FIND_LINKS) or set EVALAB_TORCH_CPU_INDEX to a reachable mirror")
    return [f"torch=={VERSION}"], 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="the interpreter torch is for (default: this one)")
    ap.add_argument("--require-cpu", action="store_true", help="only the CPU build will do (exit 3 if none)")
    ap.add_argument("--check-only", action="store_true", help="ignore an installed torch and EVALAB_KEEP_TORCH")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the CPU index")
    a = ap.parse_args(argv)
    check_only = a.check_only or os.environ.get("EVALAB_TORCH_IGNORE_INSTALLED", "0") == "1"
    args, rc = decide(a.python, a.require_cpu, check_only, a.timeout)
    if args:
        print(" ".join(args))
    return rc


if __name__ == "__main__":
    sys.exit(main())
