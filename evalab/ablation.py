"""Ablations: several arms (config variants) × several seeds through the same loop, compared with
bootstrap confidence intervals on the held-out score.

    from evalab.ablation import run_ablation, compare_arms
    arms = {"eva": {}, "static": {"mode": "static"}, "uniform": {"sampling": "uniform"}}
    stores = run_ablation(profile_config("ci"), arms, seeds=[1, 2], root="runs/abl")   # resumable
    compare_arms(stores, metric="full")            # mean, 95% CI, and the gain over iteration 0, per arm
    compare_to_baseline(stores, baseline="static")  # each arm minus the baseline, paired by seed and prompt

Every (arm, seed) is an ordinary run directory ``root/<arm>/seed<k>``, so an interrupted ablation resumes
arm by arm, stage by stage, and every plot of notebook 02 works on each arm.

Confidence intervals: percentile bootstrap over (seed, held-out prompt) cells. Each resample draws seeds
with replacement and, inside each drawn seed, held-out prompts with replacement — so the interval
reflects both run-to-run and prompt-sampling variance. With a single seed it is a prompt-only bootstrap.
"""

from __future__ import annotations

import warnings
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
                 *, progress: bool = True, share_initial_eval: bool = True,
                 run_fn: Callable[[EvaConfig], Any] | None = None) -> dict[str, list[RunStore]]:
    """Run (or resume) every arm × seed; returns {arm: [RunStore per seed]}. ``run_fn(cfg)`` replaces the
    default runner (``EvaRun(cfg).run()``), e.g. to farm arms out to other machines.

    ``share_initial_eval``: every arm starts from the same θ₀, so its greedy held-out report is computed
    once and copied into the other runs (marked ``shared_from``) when the evaluation settings match."""
    from .loop import EvaRun

    if not arms:
        raise ValueError("no arms to run")
    if not seeds:
        raise ValueError("no seeds given")
    out: dict[str, list[RunStore]] = {}
    donors: list[tuple[EvaConfig, RunStore]] = []
    for arm, ov in arms.items():
        out[arm] = []
        for s in seeds:
            cfg = arm_config(base, ov, s, Path(root) / arm / f"seed{s}")
            if progress:
                print(f"[evalab] ablation arm={arm} seed={s} -> {cfg.run_dir}", flush=True)
            if run_fn is not None:
                run_fn(cfg)
            else:
                run = EvaRun(cfg, progress=progress)
                if share_initial_eval:
                    _share_initial_eval(run.store, cfg, donors)
                run.run()
                donors.append((cfg, run.store))
            out[arm].append(RunStore(cfg.run_dir))
    return out


# Fields that decide the iteration-0 held-out evaluation: greedy decoding of the same start solver on the
# same prompts gives the same report, whatever the arm or seed.
INITIAL_EVAL_FIELDS = ("solver", "eval_set", "n_eval", "eval_max_new_tokens", "backend", "backend_kwargs",
                       "gen_batch_size")


def _share_initial_eval(store: RunStore, cfg: EvaConfig, donors: Sequence[tuple[EvaConfig, RunStore]]) -> None:
    """Copy θ₀'s held-out report from an earlier (arm, seed) of this ablation when it is the same
    computation (``INITIAL_EVAL_FIELDS`` equal), instead of decoding the held-out set again."""
    if not cfg.run_eval or store.has(0, "eval"):
        return
    key = {k: getattr(cfg, k) for k in INITIAL_EVAL_FIELDS}
    for dcfg, dstore in donors:
        if {k: getattr(dcfg, k) for k in INITIAL_EVAL_FIELDS} == key and dstore.has(0, "eval"):
            report = dict(dstore.read_json(0, "eval"))
            report["shared_from"] = str(dcfg.run_dir)
            store.write_json(0, "eval", report)
            store.log_event("eval_shared", iteration=0, source=str(dcfg.run_dir))
            return


def load_ablation(root: str | Path) -> dict[str, list[RunStore]]:
    """The stores of an ablation written by :func:`run_ablation` (``root/<arm>/seed<k>``), seeds in order;
    only seeds present in every arm are kept, so the arms stay paired."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ablation directory {root} does not exist")
    seeds_of = {a.name: {int(d.name[4:]) for d in a.glob("seed*") if d.name[4:].isdigit()
                         and (d / "config.json").exists()} for a in sorted(root.iterdir()) if a.is_dir()}
    seeds_of = {a: s for a, s in seeds_of.items() if s}
    if not seeds_of:
        raise FileNotFoundError(f"{root}: no <arm>/seed<k> run directories (written by run_ablation)")
    common = sorted(set.intersection(*seeds_of.values()))
    return {a: [RunStore(root / a / f"seed{k}") for k in common] for a in seeds_of}


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
    mean, stats = _bootstrap(cells, n_boot, seed)
    return (mean, *_interval(stats, alpha))


def _interval(stats: np.ndarray | None, alpha: float) -> tuple[float, float]:
    """The percentile interval of bootstrap ``stats`` (NaNs when there are none)."""
    if stats is None:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _bootstrap(cells: Sequence[np.ndarray], n_boot: int, seed: int) -> tuple[float, np.ndarray | None]:
    """The mean over seeds of per-seed means, and ``n_boot`` resampled means (None when no cell)."""
    cells = [np.asarray(c, dtype=float) for c in cells if len(c)]
    if not cells:
        return float("nan"), None
    rng = np.random.default_rng(seed)
    mean = float(np.mean([c.mean() for c in cells]))
    stats = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(0, len(cells), len(cells))
        stats[b] = np.mean([cells[i][rng.integers(0, len(cells[i]), len(cells[i]))].mean() for i in pick])
    return mean, stats


def _scores_at(store: RunStore, metric: str, iteration: int | None) -> tuple[int, pd.Series] | None:
    """(t, per-prompt held-out scores at t) with t = ``iteration`` or the last evaluated one; None if the run
    has no evaluation yet."""
    c = eval_cells(store, metric)
    if c.empty:
        return None
    t = int(c.iteration.max() if iteration is None else iteration)
    return t, c[c.iteration == t].set_index("prompt_id").score


def _paired_diff(a: pd.Series, b: pd.Series) -> np.ndarray:
    """a − b on the held-out prompts both were scored on."""
    common = a.index.intersection(b.index)
    return (a.loc[common] - b.loc[common]).to_numpy()


def run_manifests(stores: Mapping[str, Sequence[RunStore]]) -> dict[str, dict[str, Any]]:
    """``{arm: {run_dir: manifest or None}}``: the provenance of every compared run (evalab/provenance.py)."""
    from .provenance import read_manifest

    return {arm: {str(st.root): read_manifest(st.root) for st in runs} for arm, runs in stores.items()}


def warn_if_environments_differ(stores: Mapping[str, Sequence[RunStore]]) -> list[str]:
    """Warn (once, every difference listed) when the compared runs were made under different package versions,
    commits, Python or machines; returns the differences."""
    from .provenance import manifest_differences

    flat = {run_dir: m for by_run in run_manifests(stores).values() for run_dir, m in by_run.items()}
    diffs = manifest_differences(flat)
    if diffs:
        warnings.warn("the compared runs differ in their environment (manifest.json): " + "; ".join(diffs),
                      stacklevel=3)
    return diffs


def compare_arms(stores: Mapping[str, Sequence[RunStore]], metric: str = "full", iteration: int | None = None,
                 n_boot: int = 2000) -> pd.DataFrame:
    """One row per arm: held-out score at ``iteration`` (default: the last evaluated one) with a 95% CI,
    the iteration-0 score, and the gain (paired per seed and prompt) with its own CI."""
    warn_if_environments_differ(stores)
    rows = []
    for arm, runs in stores.items():
        final, base, gain = [], [], []
        its = []
        for st in runs:
            at = _scores_at(st, metric, iteration)
            if at is None:
                continue
            t, f = at
            b = _scores_at(st, metric, 0)[1]  # type: ignore[index]  (a run with any evaluation has θ₀'s)
            its.append(t)
            final.append(f.to_numpy())
            base.append(b.to_numpy())
            gain.append(_paired_diff(f, b))
        if len(set(its)) > 1:
            warnings.warn(f"arm {arm!r}: its seeds were last evaluated at different iterations {its} (runs still "
                          "going?); pass iteration= to compare one iteration", stacklevel=2)
        m, lo, hi = bootstrap_ci(final, n_boot)
        gm, glo, ghi = bootstrap_ci(gain, n_boot, seed=1)
        rows.append({"arm": arm, "seeds": len(final), "iteration": max(its) if its else None,
                     f"{metric}": m, "ci_low": lo, "ci_high": hi, f"{metric}_iter0": bootstrap_ci(base, 1)[0],
                     "gain": gm, "gain_ci_low": glo, "gain_ci_high": ghi})
    return pd.DataFrame(rows)


def compare_to_baseline(stores: Mapping[str, Sequence[RunStore]], baseline: str = "static", metric: str = "full",
                        iteration: int | None = None, n_boot: int = 2000, alpha: float = 0.05) -> pd.DataFrame:
    """Each arm against ``baseline``, paired: the k-th seed of an arm is compared with the k-th seed of the
    baseline (same seed, same θ₀) on the same held-out prompts. One row per arm: the mean difference in
    held-out score, its bootstrap CI, and ``p_better`` = the share of bootstrap resamples in which the arm
    beats the baseline."""
    if baseline not in stores:
        raise ValueError(f"baseline={baseline!r}: not an arm of this ablation {sorted(stores)}")

    def final(st: RunStore) -> pd.Series:
        at = _scores_at(st, metric, iteration)
        if at is None:
            raise ValueError(f"{st.root}: no held-out evaluation to compare")
        return at[1]

    base = [final(st) for st in stores[baseline]]
    rows = []
    for arm, runs in stores.items():
        if arm == baseline:
            continue
        if len(runs) != len(base):
            raise ValueError(f"arm {arm!r} has {len(runs)} seeds, baseline {baseline!r} has {len(base)}: "
                             "pairing needs the same seeds")
        diffs = [_paired_diff(final(st), b) for st, b in zip(runs, base)]
        mean, stats = _bootstrap(diffs, n_boot, seed=2)
        lo, hi = _interval(stats, alpha)
        rows.append({"arm": arm, "vs": baseline, "seeds": len(diffs), f"delta_{metric}": mean,
                     "ci_low": lo, "ci_high": hi,
                     "p_better": float((stats > 0).mean()) if stats is not None else float("nan")})
    return pd.DataFrame(rows)


def per_seed_scores(stores: Mapping[str, Sequence[RunStore]], metric: str = "full") -> pd.DataFrame:
    """One row per (arm, seed, evaluated iteration): the mean held-out score over prompts."""
    rows = []
    for arm, runs in stores.items():
        for st in runs:
            c = eval_cells(st, metric)
            rows += [{"arm": arm, "seed": st.config.seed, "iteration": int(t), metric: float(g.score.mean()),
                      "n_prompts": int(len(g))} for t, g in c.groupby("iteration")]
    return pd.DataFrame(rows, columns=["arm", "seed", "iteration", metric, "n_prompts"])
