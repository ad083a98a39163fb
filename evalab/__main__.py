"""Command line: run or inspect an eva run headlessly.

    python -m evalab run --profile ci --run-dir runs/ci --iterations 2 --set metric=a_avg --set sampling=greedy
    python -m evalab online --profile ci --run-dir runs/online --trainer grpo --steps 6 --evolve-every 2
    python -m evalab summary runs/ci
    python -m evalab compare runs/abl --baseline static --out results.json   # an ablation's arms, with CIs
    python -m evalab config --profile paper          # print every field with its default and help

``run`` and ``online`` resume: pointing them at an existing run directory continues from the last finished
stage (online: the last checkpoint); a config that changes what the run computes is refused, naming the fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from .config import EvaConfig, profile_config


def _parse_set(items: list[str]) -> dict[str, Any]:
    types = {f.name: f.type for f in dataclasses.fields(EvaConfig)}
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        if k not in types:
            raise SystemExit(f"--set {k}: unknown EvaConfig field (see `python -m evalab config`)")
        default = getattr(EvaConfig(), k)
        if isinstance(default, bool):
            out[k] = v.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            out[k] = int(v)
        elif isinstance(default, float):
            out[k] = float(v)
        else:
            out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evalab", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run (or resume) an eva run")
    r.add_argument("--profile", default="demo", choices=["ci", "demo", "paper"])
    r.add_argument("--run-dir", required=True)
    r.add_argument("--iterations", type=int, default=None)
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an EvaConfig field")
    r.add_argument("--quiet", action="store_true")
    o = sub.add_parser("online", help="run (or resume) online eva inside a TRL RL trainer")
    o.add_argument("--profile", default="demo", choices=["ci", "demo", "paper"])
    o.add_argument("--run-dir", required=True)
    o.add_argument("--trainer", default="grpo", choices=["grpo", "rloo"])
    o.add_argument("--steps", type=int, default=8, help="optimizer steps")
    o.add_argument("--evolve-every", type=int, default=2, help="steps between evolution events")
    o.add_argument("--prompts-per-step", type=int, default=2)
    o.add_argument("--max-completion-length", type=int, default=None)
    o.add_argument("--checkpoint-every", type=int, default=None, help="default: --evolve-every; 0 = no resume")
    o.add_argument("--torch-threads", type=int, default=0)
    o.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an EvaConfig field")
    o.add_argument("--quiet", action="store_true")
    s = sub.add_parser("summary", help="print the per-iteration summary of a run directory")
    s.add_argument("run_dir")
    cmp_ = sub.add_parser("compare", help="held-out score of an ablation's arms (run_ablation's root) with 95% CIs")
    cmp_.add_argument("root")
    cmp_.add_argument("--baseline", default="static", help="arm the others are paired against")
    cmp_.add_argument("--metric", default="full", choices=["full", "frac"])
    cmp_.add_argument("--out", default=None, help="also write the tables (and per-seed scores) to this json")
    c = sub.add_parser("config", help="print the config of a profile")
    c.add_argument("--profile", default="paper", choices=["ci", "demo", "paper"])
    a = ap.parse_args(argv)

    if a.cmd == "config":
        print(EvaConfig.describe() if a.profile == "paper" else profile_config(a.profile))
        return 0
    if a.cmd == "summary":
        from .loop import summarize
        from .store import RunStore

        print(summarize(RunStore(a.run_dir)).to_string(index=False))
        return 0
    if a.cmd == "compare":
        return _compare(a)
    overrides = _parse_set(a.set)
    if a.cmd == "online":
        from .online import run_online_eva

        out = run_online_eva(profile_config(a.profile, run_dir=a.run_dir, **overrides), trainer=a.trainer,
                             steps=a.steps, evolve_every=a.evolve_every, prompts_per_step=a.prompts_per_step,
                             max_completion_length=a.max_completion_length, checkpoint_every=a.checkpoint_every,
                             torch_threads=a.torch_threads, progress=not a.quiet)
        print(out["events"].to_string(index=False))
        return 0
    if a.iterations is not None:
        overrides["iterations"] = a.iterations
    cfg = profile_config(a.profile, run_dir=a.run_dir, **overrides)
    from .loop import EvaRun

    from .store import StoreWriteError

    try:
        summary = EvaRun(cfg, progress=not a.quiet).run()
    except StoreWriteError as e:  # disk full etc.: one line, the store stays resumable
        print(f"evalab: {e}", file=sys.stderr)
        return 1
    print(summary.to_string(index=False))
    return 0


def _compare(a: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import pandas as pd

    from .ablation import compare_arms, compare_to_baseline, load_ablation, per_seed_scores, run_manifests

    stores = load_ablation(a.root)
    arms = compare_arms(stores, metric=a.metric)
    print(arms.to_string(index=False))
    vs = compare_to_baseline(stores, baseline=a.baseline, metric=a.metric) if a.baseline in stores else pd.DataFrame()
    if len(vs):
        print()
        print(vs.to_string(index=False))
    if a.out:
        out = {"root": str(a.root), "metric": a.metric, "arms": arms.to_dict(orient="records"),
               "vs_baseline": vs.to_dict(orient="records"),
               "per_seed": per_seed_scores(stores, a.metric).to_dict(orient="records"),
               "manifests": run_manifests(stores)}  # provenance of every run behind these numbers
        Path(a.out).write_text(json.dumps(out, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
