"""Ablations: several arms (config variants) × several seeds through the same loop, compared with
bootstrap confidence intervals on the held-out score.

    from evalab.ablation import run_ablation, compare_arms
    arms = {"eva": {}, "static": {"mode": "static"}, "uniform": {"sampling": "uniform"}}
    stores = run_ablation(profile_config("ci"), arms, seeds=[1, 2], root="runs/abl")   # resumable
    compare_arms(stores, metric="full_rate")       # mean, 95% CI, and the gain over iteration 0, per arm

Every (arm, seed) is an ordinary run directory ``root/<arm>/seed<k>``, so an interrupted ablation resumes
arm by arm, stage by stage, and every plot of notebook 02 works on each arm.

Confidence intervals: percentile bootstrap over (seed, held-out prompt) cells. Each resample draws seeds
with replacement and, inside each drawn seed, held-out prompts with replacement — so the interval
reflects both run-to-run and prompt-sampling variance. With a single seed it is a prompt-only bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import EvaConfig
from .store import RunStore


def arm_config(base: EvaConfig, overrides: Mapping[str, Any], seed: int, run_dir: str | Path) -> EvaConfig:
    """The config of one (arm, seed): ``base`` with the arm's overrides, the seed and its own run_dir."""
    bad = [k for k in overrides if k in ("run_dir", "seed")]
    if bad:
        raise ValueError(f"arm overrides may not set {bad}: run_ablation sets them per (arm, seed)")
    return base.replace(**dict(overrides), seed=int(seed), run_dir=str(run_dir))


def run_ablation(base: EvaConfig, arms: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], root: str | Path,
                 *, progress: bool = True,
                 run_fn: Callable[[EvaConfig], Any] | None = None) -> dict[str, list[RunStore]]:
    """Run (or resume) every arm × seed; returns {arm: [RunStore per seed]}. ``run_fn(cfg)`` replaces the
    default runner (``EvaRun(cfg).run()``), e.g. to farm arms out to other machines."""
    from .loop import EvaRun

    if not arms:
        raise ValueError("no arms to run")
    if not seeds:
        raise ValueError("no seeds given")
    out: dict[str, list[RunStore]] = {}
    for arm, ov in arms.items():
        out[arm] = []
        for s in seeds:
            cfg = arm_config(base, ov, s, Path(root) / arm / f"seed{s}")
            if progress:
                print(f"[evalab] ablation arm={arm} seed={s} -> {cfg.run_dir}", flush=True)
            if run_fn is not None:
                run_fn(cfg)
            else:
                EvaRun(cfg, progress=progress).run()
            out[arm].append(RunStore(cfg.run_dir))
    return out


def eval_cells(store: RunStore, metric: str = "full") -> pd.DataFrame:
    """Per-prompt held-out scores of every evaluated iteration: columns iteration, prompt_id, score."""
    if metric not in ("full", "frac"):
        raise ValueError(f"metric={metric!r}: choose 'full' (all constraints met) or 'frac' (fraction met)")
    rows = []
    for d in sorted(store.root.glob("iter_[0-9][0-9][0-9]")):
        t = int(d.name[5:])
        if not store.has(t, "eval"):
            continue
        pp = store.read_json(t, "eval").get("per_prompt")
        if not pp:
            continue
        rows += [{"iteration": t, "prompt_id": i, "score": float(v)} for i, v in zip(pp["prompt_id"], pp[metric])]
    return pd.DataFrame(rows, columns=["iteration", "prompt_id", "score"])


def bootstrap_ci(cells: Sequence[np.ndarray], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
                 ) -> tuple[float, float, float]:
    """(mean, low, high): hierarchical percentile bootstrap over seeds, then prompts within each seed."""
    cells = [np.asarray(c, dtype=float) for c in cells if len(c)]
    if not cells:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    mean = float(np.mean([c.mean() for c in cells]))
    stats = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(0, len(cells), len(cells))
        stats[b] = np.mean([cells[i][rng.integers(0, len(cells[i]), len(cells[i]))].mean() for i in pick])
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return mean, float(lo), float(hi)


def compare_arms(stores: Mapping[str, Sequence[RunStore]], metric: str = "full", iteration: int | None = None,
                 n_boot: int = 2000) -> pd.DataFrame:
    """One row per arm: held-out score at ``iteration`` (default: the last evaluated one) with a 95% CI,
    the iteration-0 score, and the gain (paired per seed and prompt) with its own CI."""
    rows = []
    for arm, runs in stores.items():
        final, base, gain = [], [], []
        its = []
        for st in runs:
            c = eval_cells(st, metric)
            if c.empty:
                continue
            t = c.iteration.max() if iteration is None else iteration
            its.append(int(t))
            f = c[c.iteration == t].set_index("prompt_id").score
            b = c[c.iteration == 0].set_index("prompt_id").score
            final.append(f.to_numpy())
            base.append(b.to_numpy())
            common = f.index.intersection(b.index)
            gain.append((f.loc[common] - b.loc[common]).to_numpy())
        m, lo, hi = bootstrap_ci(final, n_boot)
        gm, glo, ghi = bootstrap_ci(gain, n_boot, seed=1)
        rows.append({"arm": arm, "seeds": len(final), "iteration": max(its) if its else None,
                     f"{metric}": m, "ci_low": lo, "ci_high": hi, f"{metric}_iter0": bootstrap_ci(base, 1)[0],
                     "gain": gm, "gain_ci_low": glo, "gain_ci_high": ghi})
    return pd.DataFrame(rows)
