"""The GPU check in one script: evalab's GPU paths run once each, timed, every result written as it comes.

    python scripts/device_check.py --out OUT              # on a GPU machine (scripts/device_check.sh sets it up)
    python scripts/device_check.py --scale tiny --out /tmp/dc   # the same steps at toy size, on this CPU

Steps, in order (a failed step is recorded with its one-line cause and the next step still runs):

1. ``env``        torch, the GPU, the versions of evalab's packages as imported.
2. ``model``      the embedded model: GGUF → plain checkpoint (once), then loaded on the device (float32, what
                  the loop's generation backend loads by default).
3. ``generation`` ``TransformersBackend`` on the device, P seed prompts × N samples × T new tokens, one row
                  each: evalab's ``loop`` decoder at the scale's row count and at its CPU-tuned default (192),
                  transformers' ``generate``, and the loop decoder in bfloat16: generated tokens/s (rows left
                  when the step's budget is spent are marked skipped); then the loop decoder twice with one
                  seed (share of identical texts: sampling is seeded per row).
4. ``iteration``  one whole eva iteration (``benchmarks/bench_iteration.py``: generate, score, select, evolve with
                  the embedded creator through litellm, mix, regenerate, pairs, DPO, held-out eval) at the
                  scale's profile; its per-stage seconds are read back from the run's event log.
5. ``launcher``   ``accelerate launch`` of ``scripts/train_pairs.py`` (one process; DDP's path) on the pairs
                  step 4 built, a few optimizer steps: the path ``train_launcher`` takes on many GPUs.
6. ``vllm``       the vLLM backend and its per-request seed, where vLLM is importable (the lent machines have
                  none, and its wheel with the torch build it pins is too large to carry: recorded as not
                  exercised, with that reason).

``--budget-s`` bounds the whole run (the device tool stops a command at 600 s): step 4 gets what is left after
the others' reserve. ``OUT/device_check.json`` holds every step's record; ``OUT/iteration.txt`` the iteration's
stage table; the exit status is 1 when a step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Per scale: generation shape (prompts, N, new tokens) and the iteration's profile and overrides.
SCALES: dict[str, dict[str, Any]] = {
    "gpu": {"prompts": 128, "n": 6, "new_tokens": 192, "max_rows": 1536, "generation_budget_s": 150,
            "profile": "paper",
            "set": ["n_prompts=400", "n_eval=120", "max_new_tokens=256", "warmup_round=false",
                    "creator_concurrency=32", "gen_batch_size=64", 'backend_kwargs={"max_rows": 1536}'],
            "launcher_config": "configs/accelerate_multigpu.yaml", "launcher_steps": 8},
    "tiny": {"prompts": 4, "n": 2, "new_tokens": 16, "max_rows": 192, "generation_budget_s": 60, "profile": "ci",
             "set": ["n_prompts=4", "n_eval=4", "n_responses=2", "max_new_tokens=16", "n_variants=1"],
             "launcher_config": "configs/accelerate_cpu_ddp.yaml", "launcher_steps": 1},
}
RESERVE_AFTER_ITERATION_S = 120   # the launcher step (start-up included) and the summary


def one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0][:400] if text else type(exc).__name__


class Check:
    """Runs steps in order; writes ``device_check.json`` after each one."""

    def __init__(self, out: Path, scale: str, budget_s: float) -> None:
        self.out, self.scale, self.budget_s = out, scale, budget_s
        self.t0 = time.time()
        self.record: dict[str, Any] = {"scale": scale, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                                       "steps": []}
        self.state: dict[str, Any] = {}
        out.mkdir(parents=True, exist_ok=True)

    def need(self, key: str, step: str) -> Any:
        """What an earlier step left for this one; a one-line error naming that step if it failed."""
        if key not in self.state:
            raise RuntimeError(f"needs the {step} step, which failed or did not run")
        return self.state[key]

    def left(self) -> float:
        return self.budget_s - (time.time() - self.t0)

    def save(self) -> None:
        self.record["seconds"] = round(time.time() - self.t0, 1)
        text = json.dumps(self.record, indent=2, default=str, ensure_ascii=False)
        (self.out / "device_check.json").write_text(text + "\n")

    def step(self, name: str, fn: Callable[[Check], dict[str, Any]]) -> None:
        print(f"=== {name} (t={time.time() - self.t0:.0f} s)", flush=True)
        t = time.time()
        try:
            rec = {"step": name, "ok": True, **fn(self)}
        except Exception as exc:  # a check records the failure and goes on to the next step
            traceback.print_exc()
            rec = {"step": name, "ok": False, "error": one_line(exc)}
        rec["seconds"] = round(time.time() - t, 1)
        self.record["steps"].append(rec)
        self.save()
        shown = {k: v for k, v in rec.items() if k not in ("step", "stages", "packages")}
        print(f"--- {name}: {json.dumps(shown, default=str, ensure_ascii=False)}", flush=True)


def step_env(c: Check) -> dict[str, Any]:
    import torch

    from evalab.provenance import package_versions

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cuda": torch.cuda.is_available(), "packages": package_versions()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported())
    elif c.scale == "gpu":
        raise RuntimeError("no CUDA device visible to torch (run with --scale tiny on a CPU)")
    c.state["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    return info


def step_model(c: Check) -> dict[str, Any]:
    from evalab.models import embedded_checkpoint, load_model

    t = time.time()
    path = embedded_checkpoint()
    convert_s = time.time() - t
    t = time.time()
    # float32: what the loop's generation backend loads by default (TransformersBackend's dtype)
    model, tok = load_model("smollm2-135m", dtype="float32", device=c.need("device", "env"))
    c.state["model"], c.state["tok"] = model, tok
    return {"checkpoint": str(path), "convert_or_find_s": round(convert_s, 1), "load_s": round(time.time() - t, 1),
            "dtype": "float32", "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1)}


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def generation_rows(scale: str) -> list[tuple[str, str, int, str]]:
    """(label, decoder, max_rows, dtype) of the generation step: the scale's rows, evalab's default row count
    (192, tuned on 2 CPU cores) where that differs, transformers' generate, and bfloat16."""
    from evalab.generation import DEFAULT_MAX_ROWS

    rows = SCALES[scale]["max_rows"]
    out = [(f"loop/{rows}", "loop", rows, "float32")]
    if rows != DEFAULT_MAX_ROWS:
        out.append((f"loop/{DEFAULT_MAX_ROWS}", "loop", DEFAULT_MAX_ROWS, "float32"))
    out += [("generate", "generate", rows, "float32"), (f"loop/{rows} bf16", "loop", rows, "bfloat16")]
    return out


def step_generation(c: Check) -> dict[str, Any]:
    import torch

    from evalab.generation import TransformersBackend
    from evalab.prompts import load_prompts

    s = SCALES[c.scale]
    texts = [p.text for p in load_prompts(str(ROOT / "data/seed_constraint_prompts.jsonl"), s["prompts"])]
    out: dict[str, Any] = {"prompts": len(texts), "n": s["n"], "max_new_tokens": s["new_tokens"], "rows": {}}
    model, tok, t_step = c.need("model", "model"), c.need("tok", "model"), time.time()
    for label, decoder, max_rows, dtype in generation_rows(c.scale):
        if time.time() - t_step > s["generation_budget_s"]:
            out["rows"][label] = {"skipped": f"the step's {s['generation_budget_s']} s were spent"}
            continue
        model.to(getattr(torch, dtype))
        be = TransformersBackend.from_loaded(model, tok, batch_size=min(64, len(texts)),
                                             decoder=decoder, max_rows=max_rows)
        be.generate(texts[:2], n=2, max_new_tokens=4, seed=0, progress=False)  # warm-up (kernels, caches)
        _sync()
        t = time.time()
        res = be.generate(texts, n=s["n"], max_new_tokens=s["new_tokens"], seed=1, progress=False)
        _sync()
        dt = time.time() - t
        tokens = sum(sum(row) for row in be.last_token_counts)
        finished = [f for row in be.last_finished for f in row]
        if len(res) != len(texts) or any(len(r) != s["n"] for r in res):
            raise RuntimeError(f"{label}: expected {len(texts)} × {s['n']} texts")
        out["rows"][label] = {"seconds": round(dt, 2), "tokens": tokens, "tokens_per_s": round(tokens / dt, 1),
                              "finished_share": round(sum(finished) / max(1, len(finished)), 3)}
    model.to(torch.float32)
    be = TransformersBackend.from_loaded(model, tok, batch_size=16, decoder="loop", max_rows=s["max_rows"])
    k = min(16, len(texts))
    a = be.generate(texts[:k], n=s["n"], max_new_tokens=32, seed=7, progress=False)
    b = be.generate(texts[:k], n=s["n"], max_new_tokens=32, seed=7, progress=False)
    pairs = [(x, y) for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    out["same_seed_identical_share"] = round(sum(x == y for x, y in pairs) / len(pairs), 3)
    del c.state["model"]  # the iteration loads its own copies
    return out


def run_logged(cmd: list[str], timeout: float, log: Path) -> str:
    """Run ``cmd`` from the checkout, its command line, stdout and last 60 stderr lines written to ``log``.
    Returns "" on success, else why it failed ("exit N" or "timed out after N s") with its last stderr line."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stdout, stderr = None, exc.stdout or "", exc.stderr or ""
        stdout, stderr = (x.decode() if isinstance(x, bytes) else x for x in (stdout, stderr))
    log.write_text(f"$ {' '.join(cmd)}\n{stdout}\n--- stderr (last 60 lines)\n"
                   + "\n".join(stderr.splitlines()[-60:]) + "\n")
    if rc == 0:
        return ""
    last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    why = f"timed out after {timeout:.0f} s" if rc is None else f"exit {rc}"
    return f"{why}; last stderr line: {last[:300]}"


def step_iteration(c: Check) -> dict[str, Any]:
    s = SCALES[c.scale]
    run_dir = c.out / "iteration_run" if c.scale == "tiny" else Path("/tmp/evalab-device-iteration")
    timeout = max(60.0, c.left() - RESERVE_AFTER_ITERATION_S)
    cmd = [sys.executable, str(ROOT / "benchmarks/bench_iteration.py"), "--profile", s["profile"], "--no-peak",
           "--run-dir", str(run_dir)] + [x for kv in s["set"] for x in ("--set", kv)]
    t = time.time()
    failed = run_logged(cmd, timeout, c.out / "iteration.txt")
    c.state["run_dir"] = run_dir
    stages = _stage_seconds(run_dir)
    if failed:
        raise RuntimeError(f"bench_iteration {failed}; stages done {stages}")
    from evalab.breakdown import heldout_headline

    return {"command": " ".join(cmd[1:]), "wall_s": round(time.time() - t, 1), "stages": stages,
            "heldout": heldout_headline(run_dir)}


def _stage_seconds(run_dir: Path) -> dict[str, float]:
    from evalab.store import RunStore

    try:
        ev = RunStore(run_dir).events()
    except Exception:
        return {}
    end = ev[ev.event == "stage_end"]
    return {f"{int(r.iteration)}:{r.stage}": round(float(r.seconds), 1) for r in end.itertuples()}


def step_launcher(c: Check) -> dict[str, Any]:
    s = SCALES[c.scale]
    run_dir = c.need("run_dir", "iteration")
    pairs = sorted(Path(run_dir).glob("iter_*/pairs.parquet"))
    if not pairs:
        raise RuntimeError("no pairs.parquet from the iteration step to train on")
    out_dir = Path("/tmp/evalab-device-launcher") if c.scale == "gpu" else c.out / "launcher"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ROOT / s["launcher_config"]),
           "--num_processes", "1", str(ROOT / "scripts/train_pairs.py"), "--config", str(Path(run_dir) / "config.json"),
           "--model", "smollm2-135m", "--pairs", str(pairs[0]), "--out", str(out_dir),
           "--max-steps", str(s["launcher_steps"]), "--no-progress"]
    t = time.time()
    failed = run_logged(cmd, max(30.0, c.left() - 15), c.out / "launcher.txt")
    if failed:
        raise RuntimeError(f"accelerate launch {failed}")
    result = json.loads((out_dir / "train_result.json").read_text())
    losses = [h["loss"] for h in result.get("log_history", []) if "loss" in h]
    if not (out_dir / "config.json").exists():
        raise RuntimeError(f"no trained checkpoint in {out_dir}")
    return {"wall_s": round(time.time() - t, 1), "pairs": str(pairs[0].relative_to(run_dir)),
            "max_steps": s["launcher_steps"], "losses": losses, "runtime_s": result.get("train_runtime")}


def step_vllm(c: Check) -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return {"exercised": False,
                "why": "vllm is not importable here (the lent GPU machines have none; its wheel and the torch "
                       "build it pins are too large to carry)"}
    from evalab.generation import VLLMBackend

    be = VLLMBackend("smollm2-135m", seed=42)
    texts = ["Write one sentence about bees.", "Name three colours."]
    a = be.generate(texts, n=4, max_new_tokens=24, seed=3)
    b = be.generate(texts, n=4, max_new_tokens=24, seed=3)
    d = be.generate(texts, n=4, max_new_tokens=24, seed=4)
    return {"exercised": True, "same_seed_equal": a == b, "other_seed_differs": a != d}


STEPS: list[tuple[str, Callable[[Check], dict[str, Any]]]] = [
    ("env", step_env), ("model", step_model), ("generation", step_generation), ("iteration", step_iteration),
    ("launcher", step_launcher), ("vllm", step_vllm)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for device_check.json and the step logs")
    ap.add_argument("--scale", choices=sorted(SCALES), default=None,
                    help="gpu (default where CUDA is visible) or tiny (a CPU rehearsal)")
    ap.add_argument("--budget-s", type=float, default=540.0, help="seconds for the whole check")
    ap.add_argument("--steps", default="", help="comma-separated subset of: " + ",".join(n for n, _ in STEPS))
    a = ap.parse_args(argv)
    if a.scale is None:
        import torch

        a.scale = "gpu" if torch.cuda.is_available() else "tiny"
    wanted = [s for s in a.steps.split(",") if s] or [n for n, _ in STEPS]
    unknown = sorted(set(wanted) - {n for n, _ in STEPS})
    if unknown:
        ap.error(f"--steps: unknown step(s) {', '.join(unknown)}")
    check = Check(Path(a.out), a.scale, a.budget_s)
    for name, fn in STEPS:
        if name in wanted:
            check.step(name, fn)
    failed = [r["step"] for r in check.record["steps"] if not r["ok"]]
    print(f"device check ({a.scale}) done in {time.time() - check.t0:.0f} s: "
          + (f"FAILED {', '.join(failed)}" if failed else "every step ok") + f"; {Path(a.out) / 'device_check.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
