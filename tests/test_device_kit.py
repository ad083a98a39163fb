"""The GPU check's kit (scripts/device_kit.py), its shell driver (scripts/device_check.sh) and the check itself
(scripts/device_check.py) rehearsed on this CPU at toy size."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import device_kit  # noqa: E402


def test_device_package_list_parses_names_and_versions(tmp_path):
    f = tmp_path / "pk.txt"
    f.write_text("# a comment\nTorch==2.11.0\n\nsome_pkg  # trailing comment\ntyping_extensions\n")
    assert device_kit.read_device_packages(f) == {"torch": "2.11.0", "some-pkg": None, "typing-extensions": None}
    shipped = device_kit.read_device_packages()
    assert shipped["transformers"] == "5.17.0" and shipped["torch"] == "2.11.0"
    assert "trl" not in shipped and "litellm" not in shipped


def test_plan_carries_what_the_device_lacks_and_never_torch():
    carry = device_kit.plan()
    for name in ("trl", "datasets", "litellm", "gguf", "pydantic", "openai"):
        assert "missing there" in carry[name].reasons, name
    # there, but evalab pins another version: carried for the pin
    assert carry["transformers"].version == "5.23.0"
    assert any("pins ==5.23.0" in r for r in carry["transformers"].reasons)
    # there at a version every requirement accepts and not pinned: left behind
    for name in ("torch", "numpy", "tokenizers", "huggingface-hub", "pandas", "jinja2"):
        assert name not in carry, name
    # litellm requires boto3, but only its AWS providers import it: left behind, with what only it needed
    assert "boto3" in device_kit.LEAVE_BEHIND
    for name in ("boto3", "botocore", "s3transfer", "jmespath"):
        assert name not in carry, name
    assert all(p.reasons for p in carry.values())


def test_pins_read_the_same_without_tomllib(monkeypatch):
    import builtins

    with_toml = device_kit.pinned_roots()
    assert with_toml["transformers"] == "5.23.0" and with_toml["trl"] == "1.16.0" and "numpy" not in with_toml
    real_import = builtins.__import__

    def no_tomllib(name, *args, **kwargs):
        if name == "tomllib":
            raise ModuleNotFoundError("No module named 'tomllib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tomllib)
    assert device_kit.pinned_roots() == with_toml


def test_plan_carries_a_package_the_device_has_at_an_excluded_version():
    device = device_kit.read_device_packages()
    device["tokenizers"] = "0.0.1"
    carry = device_kit.plan(device)
    assert "tokenizers" in carry
    assert any(r.startswith("there 0.0.1, but") and "transformers needs" in r for r in carry["tokenizers"].reasons)


def test_plan_refuses_a_requirement_installed_nowhere(monkeypatch):
    real = device_kit.closure

    def with_ghost(roots=device_kit.ROOTS):
        found = real(roots)
        from packaging.requirements import Requirement

        found["ghost-pkg"] = (None, [("trl", Requirement("ghost-pkg>=1"))])
        return found

    monkeypatch.setattr(device_kit, "closure", with_ghost)
    with pytest.raises(RuntimeError, match="ghost-pkg is required by trl"):
        device_kit.plan()


def _fake_kit(tmp_path: Path, piece_bytes: int = 700) -> tuple[Path, dict]:
    wheels = []
    for i in range(3):
        w = tmp_path / f"pkg{i}-1.0-py3-none-any.whl"
        w.write_bytes(os.urandom(500))
        wheels.append(w)
    out = tmp_path / "kit"
    return out, device_kit.pack(wheels, out, piece_bytes=piece_bytes)


def test_pack_cuts_one_tar_into_pieces_the_manifest_checks(tmp_path):
    out, m = _fake_kit(tmp_path)
    assert [p["name"] for p in m["pieces"]] == [f"part-{i:02d}" for i in range(len(m["pieces"]))]
    assert len(m["pieces"]) == math.ceil(m["tar_bytes"] / 700) > 1
    joined = b"".join((out / p["name"]).read_bytes() for p in m["pieces"])
    assert hashlib.sha256(joined).hexdigest() == m["tar_sha256"] and len(joined) == m["tar_bytes"]
    assert json.loads((out / "manifest.json").read_text()) == m and not (out / "kit.tar").exists()
    calls = device_kit.call_plan(m)
    assert len(calls) == len(m["pieces"])
    assert all("device_check.sh stash" in c for c in calls[:-1]) and "stash" not in calls[-1]
    assert all(f".devicekit/part-{i:02d}" in c and ".devicekit/manifest.json" in c for i, c in enumerate(calls))


def _driver(src: Path, kit: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EVALAB_KIT_SRC": str(src), "EVALAB_KIT": str(kit), "EVALAB_SITE": str(kit / "site"),
           "OUT": str(kit / "out")}
    return subprocess.run(["bash", str(ROOT / "scripts/device_check.sh"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_driver_stashes_pieces_across_calls_and_refuses_an_incomplete_or_corrupt_kit(tmp_path):
    src, m = _fake_kit(tmp_path)
    first, rest = m["pieces"][0]["name"], [p["name"] for p in m["pieces"][1:]]
    kit = tmp_path / "machine"
    call = tmp_path / "call1"   # what one device call carries: one piece and the manifest
    call.mkdir()
    (call / "manifest.json").write_text((src / "manifest.json").read_text())
    (call / first).write_bytes((src / first).read_bytes())
    r = _driver(call, kit, "stash")
    assert r.returncode == 0, r.stderr
    assert f"still to carry: {rest[0]} (not carried yet)" in r.stdout and (kit / first).exists()
    r = _driver(call, kit)
    assert r.returncode == 2 and "the kit is incomplete on this machine" in r.stdout
    (kit / first).write_bytes(b"corrupt")
    (call / first).unlink()
    r = _driver(call, kit, "stash")
    assert f"{first} (sha256 differs: carry it again)" in r.stdout
    r = _driver(tmp_path / "nowhere", kit)
    assert r.returncode == 2 and "no " in r.stdout and "manifest.json here" in r.stdout


def test_every_scale_is_a_valid_config():
    """The gpu scale never runs here: its overrides must at least parse and build a config."""
    from device_check import SCALES

    from evalab.__main__ import _parse_set
    from evalab.config import profile_config

    cfgs = {name: profile_config(s["profile"], run_dir="unused", iterations=1, **_parse_set(s["set"]))
            for name, s in SCALES.items()}
    assert all((ROOT / s["launcher_config"]).is_file() for s in SCALES.values())
    gpu = cfgs["gpu"]
    assert (gpu.n_prompts, gpu.n_responses, gpu.backend_kwargs, gpu.warmup_round) == (400, 6, {"max_rows": 1536}, False)
    assert cfgs["tiny"].n_responses == SCALES["tiny"]["n"]


def test_gpu_generation_rows_time_the_default_row_count_too():
    from device_check import SCALES, generation_rows

    rows = generation_rows("gpu")
    assert [r[0] for r in rows] == [f"loop/{SCALES['gpu']['max_rows']}", "loop/192", "generate",
                                    f"loop/{SCALES['gpu']['max_rows']} bf16"]
    assert [r[3] for r in rows] == ["float32"] * 3 + ["bfloat16"]


def _tiny_wheel(folder: Path, value: int = 42) -> Path:
    """A real, minimal wheel (one module) that pip installs offline."""
    import zipfile

    w = folder / "evalabkitprobe-1.0-py3-none-any.whl"
    di = "evalabkitprobe-1.0.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    files = {"evalabkitprobe.py": f"VALUE = {value}\n",
             f"{di}/METADATA": "Metadata-Version: 2.1\nName: evalabkitprobe\nVersion: 1.0\n",
             f"{di}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{di}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{di}/RECORD,,\n"
    with zipfile.ZipFile(w, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return w


def test_driver_installs_the_kit_once_and_runs_the_check_with_it(tmp_path):
    src = tmp_path / "kit"
    m = device_kit.pack([_tiny_wheel(tmp_path / "w1")], src, piece_bytes=4096)
    kit = tmp_path / "machine"
    r = _driver(src, kit, "--scale", "tiny", "--steps", "env")
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    assert "kit installed into" in r.stdout and "every step ok" in r.stdout
    assert (kit / "site" / "evalabkitprobe.py").exists()
    assert (kit / "site" / ".evalab-kit-installed").read_text().strip() == m["tar_sha256"]
    rec = json.loads((kit / "out" / "device_check.json").read_text())
    assert [s["step"] for s in rec["steps"]] == ["env"] and rec["steps"][0]["ok"]
    r = _driver(src, kit, "--scale", "tiny", "--steps", "env")   # same kit on a warm machine: no reinstall
    assert r.returncode == 0 and "kit installed into" not in r.stdout
    (kit / "part-99").write_bytes(b"a piece of an older kit, still on the warm machine")
    m2 = device_kit.pack([_tiny_wheel(tmp_path / "w2", value=43)], src, piece_bytes=4096)
    r = _driver(src, kit, "--scale", "tiny", "--steps", "env")   # another kit: installed again
    assert r.returncode == 0 and "kit installed into" in r.stdout, r.stdout[-1500:]
    assert (kit / "site" / ".evalab-kit-installed").read_text().strip() == m2["tar_sha256"]
    assert (kit / "site" / "evalabkitprobe.py").read_text() == "VALUE = 43\n"
    probe = "import evalabkitprobe, evalab; print('probe', evalabkitprobe.VALUE)"
    r = _driver(src, kit, "run", sys.executable, "-c", probe)
    assert r.returncode == 0 and "probe 43" in r.stdout and "probe 43" in (kit / "out" / "run.log").read_text()
    r = _driver(src, kit, "run", sys.executable, "-c", "raise SystemExit(3)")
    assert r.returncode == 3
    r = _driver(src, kit, "run")
    assert r.returncode == 2 and "run: name a command" in r.stdout


def test_a_step_subprocess_is_logged_and_its_failure_named(tmp_path):
    from device_check import run_logged

    log = tmp_path / "log.txt"
    assert run_logged([sys.executable, "-c", "print('hello')"], 60, log) == ""
    assert "hello" in log.read_text() and log.read_text().startswith("$ ")
    fail = "import sys; print('boom', file=sys.stderr); sys.exit(4)"
    assert run_logged([sys.executable, "-c", fail], 60, log) == "exit 4; last stderr line: boom"
    slow = "import sys, time; print('started', file=sys.stderr, flush=True); time.sleep(30)"
    assert run_logged([sys.executable, "-c", slow], 2, log) == "timed out after 2 s; last stderr line: started"
    assert "started" in log.read_text()


def _check(out: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """scripts/device_check.py --out OUT ARGS, from the checkout; its record is OUT/device_check.json."""
    return subprocess.run([sys.executable, str(ROOT / "scripts/device_check.py"), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_check_refuses_an_unknown_step_and_records_a_failed_one(tmp_path):
    r = _check(tmp_path, "--steps", "env,warp")
    assert r.returncode == 2 and "unknown step(s) warp" in r.stderr
    r = _check(tmp_path, "--scale", "gpu", "--steps", "env")
    rec = json.loads((tmp_path / "device_check.json").read_text())
    assert r.returncode == 1 and "FAILED env" in r.stdout
    assert rec["steps"] == [{"step": "env", "ok": False, "seconds": rec["steps"][0]["seconds"],
                             "error": "RuntimeError: no CUDA device visible to torch (run with --scale tiny on a CPU)"}]
    r = _check(tmp_path, "--scale", "tiny", "--steps", "generation,launcher")
    errors = [s["error"] for s in json.loads((tmp_path / "device_check.json").read_text())["steps"]]
    assert r.returncode == 1 and errors == ["RuntimeError: needs the model step, which failed or did not run",
                                            "RuntimeError: needs the iteration step, which failed or did not run"]


@pytest.mark.slow
def test_the_gpu_check_rehearsed_on_this_cpu(tmp_path):
    """Every step at toy size: the same code the GPU run takes, so the script cannot rot unseen."""
    r = _check(tmp_path, "--scale", "tiny", timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rec = json.loads((tmp_path / "device_check.json").read_text())
    steps = {s["step"]: s for s in rec["steps"]}
    assert list(steps) == ["env", "model", "generation", "iteration", "launcher", "vllm"]
    assert all(s["ok"] for s in steps.values())
    gen = steps["generation"]
    assert list(gen["rows"]) == ["loop/192", "generate", "loop/192 bf16"]   # tiny's rows are the default's
    for row in gen["rows"].values():
        assert row["tokens"] > 0 and row["tokens_per_s"] > 0 and 0 <= row["finished_share"] <= 1
    assert gen["same_seed_identical_share"] == 1.0   # seeded per row: the same texts again
    stages = steps["iteration"]["stages"]
    for stage in ("responses", "evolved", "pairs", "checkpoint", "eval"):
        assert any(k.endswith(":" + stage) for k in stages), stage
    assert "held-out (4 prompts)" in steps["iteration"]["heldout"]
    assert steps["launcher"]["losses"] and all(math.isfinite(x) for x in steps["launcher"]["losses"])
    assert (tmp_path / "launcher" / "config.json").exists()
    assert "stage" in (tmp_path / "iteration.txt").read_text()
    assert steps["vllm"]["exercised"] is False and "not importable" in steps["vllm"]["why"]
