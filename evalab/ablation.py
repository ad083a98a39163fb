"""Ablations: several arms (config variants) × several seeds through the same loop, compared with
bootstrap confidence intervals on the held-out score.

    from evalab.ablation import run_ablation, compare_arms
    arms = {"eva": {}, "static": {"mode": "static"}, "uniform": {"sampling": "uniform"}}
    stores = run_ablation(profile_config("ci"), arms, seeds=[1, 2], root="runs/abl")   # resumable
    compare_arms(stores, metric="full")            # mean, 95% CI, and the gain over iteration 0, per arm
    compare_to_baseline(stores, baseline="static")  # each arm minus the baseline, paired by seed and prompt

Every (arm, seed) is an ordinary run directory ``root/<arm>/seed<k>``, so an interrupted ablation resumes
arm by arm, stage by stage, and every plot of notebook 02 works on each arm.

The paper's controls are named arms (``PROTOCOL_ARMS``), so ``run_ablation(base, ["eva", "static", "fresh",
"no_evolve-greedy", "no_evolve-sampled"], ...)`` runs them all: eva; static (the same prompts again); fresh
(the paper's "+ new human prompts": unseen prompts of ``pool_set``, same count); no_evolve-greedy / -sampled
(the paper's "[no evolve]": train on the informative subset, chosen greedily or by weighted sampling). An arm
that sets ``trainer`` gets that trainer's recipe (``config.with_trainer``) before its other overrides.

Confidence intervals: percentile bootstrap over (seed, held-out prompt) cells. Each resample draws seeds
with replacement and, inside each drawn seed, held-out prompts with replacement — so the interval
reflects both run-to-run and prompt-sampling variance. With a single seed it is a prompt-only bootstrap.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import EvaConfig, with_trainer
from .store import RunLocked, RunStore

# The paper's controls, by name: EvaConfig overrides of each arm.
PROTOCOL_ARMS: dict[str, dict[str, Any]] = {
    "eva": {},
    "static": {"mode": "static"},
    "fresh": {"mode": "fresh"},
    "no_evolve-greedy": {"mode": "no_evolve", "sampling": "greedy"},
    "no_evolve-sampled": {"mode": "no_evolve", "sampling": "weighted"},
}


def resolve_arms(arms: Mapping[str, Mapping[str, Any]] | Sequence[str]) -> dict[str, dict[str, Any]]:
    """``arms`` as {name: overrides}; a sequence names arms of ``PROTOCOL_ARMS``."""
    if isinstance(arms, Mapping):
        return {str(k): dict(v) for k, v in arms.items()}
    if isinstance(arms, str):
        arms = [arms]
    unknown = [a for a in arms if a not in PROTOCOL_ARMS]
    if unknown:
        raise ValueError(f"arms {unknown}: not a named arm; name arms of {list(PROTOCOL_ARMS)} or pass "
                         "{name: EvaConfig overrides}")
    return {a: dict(PROTOCOL_ARMS[a]) for a in arms}


def arm_config(base: EvaConfig, overrides: Mapping[str, Any], seed: int, run_dir: str | Path) -> EvaConfig:
    """The config of one (arm, seed): ``base`` with the arm's overrides, the seed and its own run_dir. An arm
    that changes the trainer gets that trainer's recipe first (the arm's own overrides still win)."""
    bad = [k for k in overrides if k in ("run_dir", "seed")]
    if bad:
        raise ValueError(f"arm overrides may not set {bad}: run_ablation sets them per (arm, seed)")
    if overrides.get("trainer", base.trainer) != base.trainer:
        base = with_trainer(base, overrides["trainer"])
    return base.replace(**dict(overrides), seed=int(seed), run_dir=str(run_dir))


def run_ablation(base: EvaConfig, arms: Mapping[str, Mapping[str, Any]] | Sequence[str], seeds: Sequence[int],
                 root: str | Path,
                 *, progress: bool = True, share_initial_eval: bool = True, share_warm_start: bool = True,
                 share_initial_responses: bool = True, run_fn: Callable[[EvaConfig], Any] | None = None,
                 on_run_end: Callable[[str, int, RunStore, float], Any] | None = None,
                 skip: Collection[tuple[str, int]] = ()) -> dict[str, list[RunStore]]:
    """Run (or resume) every arm × seed; returns {arm: [RunStore per seed]}. ``arms``: {name: EvaConfig
    overrides}, or names of ``PROTOCOL_ARMS``. ``run_fn(cfg)`` replaces the default runner
    (``EvaRun(cfg).run()``), e.g. to farm arms out to other machines.

    ``share_initial_eval``: every arm starts from the same θ₀, so its greedy held-out report is computed
    once and copied into the other runs (marked ``shared_from``) when the evaluation settings match.
    ``share_warm_start``: with ``warmup_round``, arms that differ only in what happens after the warm-start round
    (mode, selection, creator, mix: ``AFTER_WARM_START_FIELDS``) and share the seed compute the same θ0 -> θ1
    round; it runs once and the others get its samples, pairs and checkpoint (hard links where possible).
    ``share_initial_responses``: without a warm-start round, arms that differ only after step 1 of iteration 0
    (``AFTER_FIRST_SAMPLES_FIELDS``: metric, mode, sampling other than a prediction, creator, ...) and share the
    seed and X_0 sample the same responses from θ₀ there; they are generated once and copied into the others
    (event ``responses_shared``). Donors of all three are the runs under ``root`` (this call's finished runs,
    another arm group run earlier, e.g. eva's runs for the metric arms, and the runs another lane of the same grid
    has written since this call started: ``root`` is scanned again before each run), read only; a donor's stage is
    used only once it is finished.
    ``on_run_end(arm, seed, store, wall_seconds)`` is called after each (arm, seed) finishes (or is found done).
    A run directory another process is writing (its writer lock, ``store.RunLocked``) is left to that process and
    out of the returned stores, so two lanes given the same grid share it instead of colliding.
    ``skip``: (arm, seed) pairs not to run here (their results are elsewhere, e.g. a digest, or the run is already
    finished); they are left out of the returned stores. A skipped run whose store exists under ``root`` is still
    read (never written) as a donor of θ₀'s evaluation and the warm-start round."""
    import time

    from .loop import EvaRun

    if not arms:
        raise ValueError("no arms to run")
    arms = resolve_arms(arms)
    if not seeds:
        raise ValueError("no seeds given")
    out: dict[str, list[RunStore]] = {}
    found: dict[Path, tuple[EvaConfig, RunStore]] = {}  # run directory -> (its config, a reader)

    def donors_for(run_dir: str | Path) -> list[tuple[EvaConfig, RunStore]]:
        """Every run under root but ``run_dir``, read only; scanned again each time, so a run another lane of this
        grid started since counts as soon as its config is written (``has`` then says which stages are done)."""
        for d in sorted(Path(root).glob("*/seed*")):
            key = d.resolve()
            if key in found or not (d / "config.json").is_file():
                continue
            try:
                other = RunStore(d)
            except (OSError, ValueError, TypeError):  # not a run of this version's config: not a donor
                continue
            found[key] = (other.config, other)
        me = Path(run_dir).resolve()
        return [v for k, v in found.items() if k != me]

    for arm, ov in arms.items():
        out[arm] = []
        for s in seeds:
            if (arm, int(s)) in skip:
                continue
            cfg = arm_config(base, ov, s, Path(root) / arm / f"seed{s}")
            if progress:
                print(f"[evalab] ablation arm={arm} seed={s} -> {cfg.run_dir}", flush=True)
            t0 = time.time()
            if run_fn is not None:
                run_fn(cfg)
            else:
                try:
                    run = EvaRun(cfg, progress=progress)
                except RunLocked as e:  # another lane is on it: leave it to that process, go on with the rest
                    print(f"[evalab] ablation arm={arm} seed={s}: {e}; left to it", flush=True)
                    continue
                donors = donors_for(cfg.run_dir)
                if share_initial_eval and cfg.run_eval:
                    _share_initial_eval(run.store, cfg, donors)
                if share_warm_start:
                    _share_warm_start(run.store, cfg, donors)
                if share_initial_responses:
                    _share_initial_responses(run.store, cfg, donors)
                run.run()
            out[arm].append(RunStore(cfg.run_dir))
            if on_run_end is not None:
                on_run_end(arm, int(s), out[arm][-1], time.time() - t0)
    return out


# Fields that decide the iteration-0 held-out evaluation: greedy decoding of the same start solver on the
# same prompts gives the same report, whatever the arm or seed.
INITIAL_EVAL_FIELDS = ("solver", "eval_set", "n_eval", "eval_max_new_tokens", "backend", "backend_kwargs",
                       "gen_batch_size")


def _share_initial_eval(store: RunStore, cfg: EvaConfig, donors: Sequence[tuple[EvaConfig, RunStore]]) -> None:
    """Copy θ₀'s held-out report from an earlier (arm, seed) of this ablation when it is the same
    computation (``INITIAL_EVAL_FIELDS`` equal), instead of decoding the held-out set again."""
    if store.has(0, "eval"):
        return
    key = {k: getattr(cfg, k) for k in INITIAL_EVAL_FIELDS}
    for dcfg, dstore in donors:
        if {k: getattr(dcfg, k) for k in INITIAL_EVAL_FIELDS} == key and dstore.has(0, "eval"):
            report = dict(dstore.read_json(0, "eval"))
            report["shared_from"] = str(dcfg.run_dir)
            store.write_json(0, "eval", report)
            store.log_event("eval_shared", iteration=0, source=str(dcfg.run_dir))
            return


# Fields that only act after the warm-start round (iteration 0 of a warmup_round run is a static round on X_0):
# two configs equal in every other field compute the same warm-start round. A field not listed counts as one
# that may change it, so a new field never makes two different rounds look shared.
AFTER_WARM_START_FIELDS = ("run_dir", "iterations", "mode", "pool_set", "metric", "subset_fraction", "sampling",
                           "creator", "evolver", "n_variants", "creator_concurrency", "creator_max_tokens",
                           "max_prompt_chars", "evolved_ratio", "next_set_size", "judge", "eval_set", "n_eval",
                           "eval_max_new_tokens", "run_eval", "profile")
# the warm-start round's stages that do not depend on the fields above (weights depend on the metric and
# next_prompts writes the run's own X_1: both are cheap and recomputed)
_WARM_START_SHARED = ("responses", "train_responses", "pairs", "train_log")


def _share_warm_start(store: RunStore, cfg: EvaConfig, donors: Sequence[tuple[EvaConfig, RunStore]]) -> None:
    """Give this run the warm-start round of an earlier (arm, seed) that computed the same one."""
    import os
    import shutil

    if not cfg.warmup_round or store.has(0, "checkpoint"):
        return
    key = {k: v for k, v in cfg.to_dict().items() if k not in AFTER_WARM_START_FIELDS}
    for dcfg, dstore in donors:
        same = {k: v for k, v in dcfg.to_dict().items() if k not in AFTER_WARM_START_FIELDS} == key
        if not (same and dstore.has(0, "checkpoint") and not dstore.is_pruned(0, "checkpoint")
                and all(dstore.has(0, s) for s in _WARM_START_SHARED)):
            continue
        for stage in _WARM_START_SHARED:
            if not store.has(0, stage):
                store.write_table(0, stage, dstore.read_table(0, stage))

        def link_or_copy(src: str, dst: str) -> None:
            try:
                os.link(src, dst)  # checkpoints are never modified in place: a hard link is a safe copy
            except OSError:
                shutil.copy2(src, dst)

        with store.checkpoint_writer(0) as out:
            shutil.copytree(dstore.path(0, "checkpoint"), out, dirs_exist_ok=True, copy_function=link_or_copy,
                            ignore=shutil.ignore_patterns("DONE"))
        store.log_event("warm_start_shared", iteration=0, source=str(dcfg.run_dir))
        return


# Fields that act only after step 1 of iteration 0 (θ₀ sampling N responses for each prompt of X_0), in a run without
# a warm-start round: two configs equal in every other field, neither choosing step 1's prompts by a prediction,
# generate the same iteration-0 responses. A field not listed counts as one that may change them.
AFTER_FIRST_SAMPLES_FIELDS = AFTER_WARM_START_FIELDS


def _share_initial_responses(store: RunStore, cfg: EvaConfig, donors: Sequence[tuple[EvaConfig, RunStore]]) -> None:
    """Give this run the iteration-0 responses of an earlier run that sampled the same ones (same fields but
    ``AFTER_FIRST_SAMPLES_FIELDS``, same X_0), instead of generating them again."""
    if cfg.warmup_round or cfg.predicts or store.has(0, "responses") or not store.has(0, "prompts"):
        return
    key = {k: v for k, v in cfg.to_dict().items() if k not in AFTER_FIRST_SAMPLES_FIELDS}
    x0 = store.read_table(0, "prompts")
    for dcfg, dstore in donors:
        if dcfg.predicts or dcfg.warmup_round or not dstore.has(0, "responses"):
            continue
        if {k: v for k, v in dcfg.to_dict().items() if k not in AFTER_FIRST_SAMPLES_FIELDS} != key:
            continue
        if not (dstore.has(0, "prompts") and dstore.read_table(0, "prompts").equals(x0)):
            continue
        store.write_table(0, "responses", dstore.read_table(0, "responses"))
        store.log_event("responses_shared", iteration=0, source=str(dcfg.run_dir))
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
    """``{arm: {run_dir: manifest or None}}``: the provenance of every compared run (evalab/provenance.py). A run
    digest (evalab/digest.py) carries its run's manifest."""
    from .digest import RunDigest
    from .provenance import read_manifest

    return {arm: {str(st.root): st.manifest if isinstance(st, RunDigest) else read_manifest(st.root) for st in runs}
            for arm, runs in stores.items()}


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
        its, judged = [], []
        for st in runs:
            at = _scores_at(st, metric, iteration)
            if at is None:
                continue
            t, f = at
            b = _scores_at(st, metric, 0)[1]  # type: ignore[index]  (a run with any evaluation has θ₀'s)
            its.append(t)
            judged.append((st, t))
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
        rows[-1].update(judge_columns(judged))
    return pd.DataFrame(rows)


def judge_columns(judged: Sequence[tuple[RunStore, int]]) -> dict[str, Any]:
    """An arm's judge results at the compared iteration of each seed (``evaluation.judge_summary``): the mean
    win rate over seeds, and a ``*_status``; one seed's invalid judge evaluation makes the arm's win rate NaN
    and its status "invalid: seed <k>: <reason>" (never a win rate made of the verdicts that came back)."""
    from .evaluation import judge_summary

    per_seed = [(st.config.seed, judge_summary(st.read_json(t, "eval"))) for st, t in judged if st.has(t, "eval")]
    out: dict[str, Any] = {}
    for prefix, cols in (("judge", ("winrate",)), ("ref", ("winrate", "lc_winrate"))):
        have = [(seed, row) for seed, row in per_seed if f"{prefix}_status" in row]
        if not have:
            continue
        bad = [(seed, row[f"{prefix}_status"]) for seed, row in have if row[f"{prefix}_status"] != "ok"]
        for c in cols:
            out[f"{prefix}_{c}"] = float("nan") if bad else float(np.mean([row[f"{prefix}_{c}"] for _, row in have]))
        out[f"{prefix}_status"] = f"invalid: seed {bad[0][0]}: {bad[0][1][len('invalid: '):]}" if bad else "ok"
    return out


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
