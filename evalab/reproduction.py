"""The multi-iteration reproduction (issue 11): every arm of the paper's comparison × seeds × iterations under
one equal budget, with per-iteration curves and 95% bootstrap CIs, in one resumable command.

    python -m evalab reproduce --config configs/reproduction.yaml --root runs/reproduction \\
        --out data/reproduction.json                      # resumable: a rerun finishes what is missing

    from evalab.reproduction import run_reproduction, reproduction_results, iteration_curves
    stores = run_reproduction(profile_config("ci", iterations=2), ["eva", "static"], [1], "runs/rep")
    iteration_curves(stores)          # tidy: arm, iteration, quantity, mean, ci_low, ci_high, n_seeds
    paired_differences(stores)        # eva minus static / fresh / no_evolve, per iteration, paired
    normalised_gains(stores)          # held-out gain per million generated tokens and per training pair
    write_results("data/reproduction.json", reproduction_results(stores, base=cfg))

Arms (``REPRODUCTION_ARMS``; groups in ``ARM_GROUPS``): the paper's controls (``ablation.PROTOCOL_ARMS``: eva,
static, fresh, no_evolve-greedy, no_evolve-sampled), true uniform sampling of the subset (``sampling=uniform``:
the weights play no part) and the metric ablation (eva is A*_min; ``metric=a_avg``, ``metric=var``,
``metric=avg``, ``metric=inv_avg`` (1/avg), ``metric=inv_a_min`` (1/A*_min), ``metric=uniform`` (uniform
weights, sampled by the weighted sampler)).

The budget rule (``BUDGET_RULE``, stored in the results JSON):

- generation: every arm generates N = ``n_responses`` samples per prompt with the same ``max_new_tokens`` cap
  for the same number of prompts per generation stage (X_t and X_{t+1} keep X_0's size; no_evolve generates its
  training samples for the informative subset only and static reuses its step-1 samples, so those arms
  generate fewer tokens). The tokens actually generated are recorded per iteration (``gen_tokens``);
- training: every arm trains on at most ``pairs_per_iteration`` preference pairs per iteration, a seeded
  uniform sub-sample of the pairs it built (``evalab.pairs.budget_pairs``); an arm that built fewer trains on
  all of them and the shortfall is recorded (``pairs_shortfall``), never filled;
- the compute-normalised gains divide each arm's held-out gain by what it actually spent: generated tokens
  (per million) and training pairs, summed over the iterations before the evaluated one.

Curves: for each arm and iteration t (θ_t evaluated, X_t sampled under θ_t) the mean over seeds and a 95%
percentile bootstrap CI over seeds and, within a seed, prompts (``ablation.bootstrap_ci``): the held-out
fully-satisfied rate (``heldout_full``) and constraint rate (``heldout_frac``), over held-out prompts; the
informative share (A*_min > 0), all-fail / all-pass / mixed shares, prompt length (characters) and constraint
count of X_t, over its prompts; the mean training reward, over the training prompts' sampled rewards; pairs
trained on and tokens generated, one value per seed (a bootstrap over seeds).

The final checkpoint of each (arm, seed) stays in its run store, outside git:
``<root>/<arm>/seed<k>/iter_<last>/checkpoint`` (``final_checkpoints``).

Regimes (the issue's item 3): each lever is its own grid of eva and static (``REGIMES``: configs/regime_*.yaml);
``regime_table`` puts eva − static of every regime side by side, ``lever_table`` pairs one arm across two regimes
from their digests, ``change_table`` follows each arm's held-out score after an iteration (does one arm hold its
level while the other falls?), and ``recipe_pilot_table`` reads the training-set pilot that picked the
learning-rate lever.

Online (the issue's item 4): ``run_online_arms`` runs online eva and the same trainer on the seed stream only
(no evolution event: ``evolve_every`` past the last step), same steps and seeds; ``online_curves`` gives the
mean reward and zero-spread share per step with CIs over seeds and groups.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .ablation import (PROTOCOL_ARMS, _bootstrap, _interval, _paired_diff, bootstrap_ci, eval_cells, resolve_arms,
                       run_ablation, run_manifests)
from .config import EvaConfig
from .digest import RunDigest
from .store import PRUNED, RunLocked, RunStore, atomic_write_text, json_default, json_records

METRIC_ARMS: dict[str, dict[str, Any]] = {f"metric={m}": {"metric": m}
                                          for m in ("a_avg", "var", "avg", "inv_avg", "inv_a_min", "uniform")}
# Issue 15: the 2025 frontier curricula beside eva, one named arm each (evalab.curricula, evalab.creator_training;
# formulas and papers in their docstrings). The frontier band is SeRL's [0.2, 0.8] (arXiv 2505.20347): with N = 4 a
# pass rate in it is 1, 2 or 3 passes of 4, neither all-fail nor all-pass. "band" is verl #2791's band on the mean
# reward, [band_low, band_high] = [0.2, 0.8] by default.
CURRICULA_ARMS: dict[str, dict[str, Any]] = {
    "eva+frontier": {"frontier_band": [0.2, 0.8], "novelty_max_rougeL": 0.7},  # eva + SeRL's frontier and novelty
    "thompson": {"sampling": "thompson"},          # MoPPS: Beta posterior, Thompson draw near p* = 0.5
    "greso": {"skip": "greso"},                    # GRESO: skip prompts with a run of zero-variance observations
    "band": {"sampling": "band"},                  # parents drawn uniformly among mean rewards in the band
    "creator=r_zero": {"creator_training": "grpo", "creator_reward": "r_zero"},          # R-Zero's creator reward
    "creator=informativeness": {"creator_training": "grpo", "creator_reward": "informativeness"},  # eva's A*_min
}
# Issue 11's seed-difficulty lever: eva whose creator aims at the frontier (creator_aim="frontier", evalab.creator):
# selected prompts the solver mostly fails (step-1 pass rate < aim_pass_rate = 0.5) are relaxed, the others hardened.
# "aim=frontier@0.25" eases only prompts below a pass rate of 0.25: with N = 4 responses, the all-fail ones (0 of 4).
AIM_ARMS: dict[str, dict[str, Any]] = {"aim=frontier": {"creator_aim": "frontier"},
                                       "aim=frontier@0.25": {"creator_aim": "frontier", "aim_pass_rate": 0.25}}
REPRODUCTION_ARMS: dict[str, dict[str, Any]] = {**PROTOCOL_ARMS, "sampling=uniform": {"sampling": "uniform"},
                                                **METRIC_ARMS, **CURRICULA_ARMS, **AIM_ARMS}
ARM_GROUPS: dict[str, list[str]] = {
    "protocol": list(PROTOCOL_ARMS),
    "sampling": ["eva", "sampling=uniform"],
    "metrics": ["eva", *METRIC_ARMS],
    "curricula": ["eva", *CURRICULA_ARMS, "static"],
    "all": list(REPRODUCTION_ARMS),
}
BASELINES = ("static", "fresh", "no_evolve-greedy", "no_evolve-sampled")
# The paper's ordering (Ye et al. 2024: eva ahead of its "+ new human prompts" control, our fresh, and of
# "[no evolve]"), the reference row of the README's difference table (``markdown_tables(reference=...)``): orderings,
# not the paper's numbers; an arm the paper did not compare eva with has no entry.
PAPER_ORDERING: dict[str, str] = {"fresh": "eva ahead", "no_evolve-greedy": "eva ahead",
                                  "no_evolve-sampled": "eva ahead"}

BUDGET_RULE = (
    "Generation: every arm samples N=n_responses responses per prompt with the same max_new_tokens cap, for the "
    "same number of prompts per generation stage (X_t keeps X_0's size); no_evolve generates its training samples "
    "for the informative subset only and static reuses its step-1 samples, so they generate fewer tokens; the "
    "tokens actually generated are recorded per iteration (gen_tokens). Training: every arm trains on at most "
    "pairs_per_iteration preference pairs per iteration, a seeded uniform sub-sample of the pairs it built "
    "(0 = all); an arm that built fewer trains on all of them and the shortfall is recorded (pairs_shortfall), "
    "never filled. Compute-normalised gains divide the held-out gain by the tokens generated (per million) and "
    "the pairs trained on, summed over the iterations before the evaluated one.")

QUANTITIES = ("heldout_full", "heldout_frac", "informative_share", "all_fail", "all_pass", "mixed",
              "train_reward", "n_pairs", "gen_tokens", "prompt_chars", "n_constraints", "rollouts_per_pair")
# Quantities of the prompt set itself: a run's last iteration (eval only, no step 1) has these and the held-out
# scores, not the training-set ones (RunDigest.upto cuts a longer run to what its shorter run holds).
PROMPT_SET_QUANTITIES = ("prompt_chars", "n_constraints")
# What each iteration spent beyond the budget rule, per (arm, seed, iteration) (``curriculum_costs``, which also
# gives rollouts_per_pair, a curve quantity).
COST_COLUMNS = ("rollouts", "rollouts_saved", "creator_rollouts", "creator_train_s", "creator_reward",
                "frontier_drop_rate")
# Pass-rate bins of the training set (``pass_rate_distribution``): left-open, right-closed, with 0 and 1 alone.
PASS_RATE_BINS = ("0", "(0, 1/3]", "(1/3, 2/3]", "(2/3, 1)", "1")


def reproduction_arms(arms: Mapping[str, Mapping[str, Any]] | Sequence[str]) -> dict[str, dict[str, Any]]:
    """``arms`` as {name: EvaConfig overrides}: a mapping passes through; names are arms of
    ``REPRODUCTION_ARMS`` or groups of ``ARM_GROUPS`` (expanded, order kept, no duplicates)."""
    if isinstance(arms, Mapping):
        return resolve_arms(arms)
    names = [arms] if isinstance(arms, str) else list(arms)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        expanded = ARM_GROUPS.get(name, [name])
        for a in expanded:
            if a not in REPRODUCTION_ARMS:
                raise ValueError(f"arms={name!r}: not a named arm or group; arms: {list(REPRODUCTION_ARMS)}, "
                                 f"groups: {list(ARM_GROUPS)}")
            out.setdefault(a, dict(REPRODUCTION_ARMS[a]))
    if not out:
        raise ValueError("arms=[]: no arms to run")
    return out


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------

def run_reproduction(base: EvaConfig, arms: Mapping[str, Mapping[str, Any]] | Sequence[str], seeds: Sequence[int],
                     root: str | Path, *, progress: bool = True, report: bool = True,
                     run_fn: Callable[[EvaConfig], Any] | None = None,
                     wall: dict[str, dict[str, float]] | None = None,
                     prune: bool = False, digests: str | Path | None = None, collect_only: bool = False,
                     reuse: Sequence[str | Path] = ()) -> dict[str, list[RunStore | RunDigest]]:
    """Run (or resume) every arm × seed of the grid through ``run_ablation`` (θ0's evaluation and the warm-start
    round shared). ``progress``: the loop's stage lines; ``report``: the plan, then one line per finished
    (arm, seed) with its wall time. Fills ``wall`` ({arm: {seed: seconds of this call}}) when given. ``prune``:
    as each run finishes, keep only its last checkpoint (``RunStore.prune_checkpoints``; iteration 0's too with
    ``warmup_round``, which later arms share): a demo run then keeps ~0.5 GB instead of one per iteration.

    ``digests``: a directory of run digests (``evalab.digest``, ``DIR/<arm>/seed<k>.json``). Each run writes its
    digest when it finishes (or is found finished); an (arm, seed) whose store is not finished here but whose digest
    is there, made with the same config, is not run: its digest stands for it in the returned mapping. A digest of
    the grid made with another config raises ValueError naming the file and the fields (``grid_digests``), except
    one made before the grid's ``iterations`` grew: that run resumes (or reruns) and its digest is rewritten; and one
    of the run continued past them: it stands for the run cut to the grid's iterations (``RunDigest.upto``), as a
    finished run store under ``root`` with more iterations does.

    ``reuse``: more digest directories, read only: a digest there stands for its run as one in ``digests`` does
    (same checks), and nothing is written there; the runs the grid makes write to ``digests``. So a grid that
    extends another (more seeds of the same design) reuses the other's runs without copying their digests.

    ``collect_only``: run nothing; gather the finished runs (writing their digests) and the digests, report what is
    missing, and return those (e.g. a results file mid-grid, while other processes run the rest)."""
    from .digest import digest_of, digest_path

    arms = reproduction_arms(arms)
    n = len(arms) * len(seeds)
    source: dict[tuple[str, int], Path] = {}  # the directory each (arm, seed)'s digest was found in
    have = grid_digests(base, arms, seeds, root, digests, reuse=reuse, source=source) \
        if digests is not None or reuse else {}
    reused = {Path(r).resolve() for r in reuse}
    left = [(a, s) for a in arms for s in seeds
            if (a, int(s)) not in have and not _finished(Path(root) / a / f"seed{s}", base)]
    if report:
        print(f"[evalab] reproduce: {len(arms)} arms × {len(seeds)} seeds × {base.iterations} iterations = {n} runs "
              f"in {root}; {len(left)} to run or finish"
              + (f", {len(have)} from digests in {', '.join(map(str, digest_dirs(digests, reuse)))}" if have else ""),
              flush=True)
    took: list[float] = []  # wall seconds of each run this call finished

    def finished(arm: str, seed: int, store: RunStore, seconds: float) -> None:
        took.append(seconds)
        if wall is not None:
            wall.setdefault(arm, {})[str(seed)] = round(seconds, 1)
        if digests is not None:
            digest_of(store, arm).write(digest_path(digests, arm, seed))
        freed = sum(r["bytes"] for r in store.prune_checkpoints(keep=(0,) if base.warmup_round else ())) \
            if prune else 0
        if report:
            rest = len(left) - len(took)  # estimate: the mean run so far (a resumed run is shorter than a new one)
            print(f"[evalab] reproduce {len(took)}/{len(left)}: arm={arm} seed={seed} done in {seconds:.1f}s "
                  f"(stages so far {compute_seconds(store):.0f}s)"
                  + (f"; pruned {freed / 1e9:.1f} GB of checkpoints" if freed else "")
                  + (f"; {rest} left, about {rest * float(np.mean(took)) / 60:.0f} min" if rest > 0 else ""),
                  flush=True)

    by_seed: dict[str, dict[int, RunStore | RunDigest]] = {a: {} for a in arms}
    for (a, s), d in have.items():
        by_seed[a][s] = d
    # A run already finished under root is read, never reopened for writing: reopening would append the current
    # environment to its manifest (a spurious resume) and rewrite its digest in git. Its digest is written only
    # when there is none yet.
    for a in arms:
        for s in seeds:
            run_dir = Path(root) / a / f"seed{s}"
            if (a, int(s)) in have:
                continue
            if not _finished(run_dir, base):
                if collect_only and report:
                    print(f"[evalab] reproduce (collect): arm={a} seed={s} is neither finished in {run_dir} nor "
                          "in a digest: left out", flush=True)
                continue
            store = RunStore(run_dir)
            if store.config.iterations > base.iterations:  # a longer run of this grid (a shared root): cut to the grid
                by_seed[a][int(s)] = digest_of(store, a).upto(base.iterations)
                continue
            by_seed[a][int(s)] = store
            if digests is not None and _digest_stale(digest_path(digests, a, s), store.config) and \
                    source.get((a, int(s))) not in reused:  # a reused digest stands for it: no second copy
                digest_of(store, a).write(digest_path(digests, a, s))
            if prune and not collect_only:
                store.prune_checkpoints(keep=(0,) if base.warmup_round else ())
    todo = [(a, int(s)) for a in arms for s in seeds if int(s) not in by_seed[a]]
    if todo and not collect_only:
        skip = {(a, int(s)) for a in arms for s in seeds if int(s) in by_seed[a]}
        ran = run_ablation(base, arms, seeds, root, progress=progress, run_fn=run_fn, on_run_end=finished,
                           skip=skip)
        for a, runs in ran.items():  # a run another process holds is not among them (left to that process)
            where = {st.root.resolve(): st for st in runs}
            for s in seeds:
                st = where.get((Path(root) / a / f"seed{s}").resolve())
                if st is not None:
                    by_seed[a][int(s)] = st
    return {a: [by_seed[a][int(s)] for s in seeds if int(s) in by_seed[a]] for a in arms if by_seed[a]}


def digest_dirs(digests: str | Path | None, reuse: Sequence[str | Path] = ()) -> list[str | Path]:
    """Where a grid's digests are read from, in order: its ``digests`` directory (when it has one), then the ``reuse``
    directories."""
    return [*([digests] if digests is not None else []), *reuse]


def grid_digests(base: EvaConfig, arms: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], root: str | Path,
                 digests: str | Path | None, *, reuse: Sequence[str | Path] = (),
                 source: dict[tuple[str, int], Path] | None = None) -> dict[tuple[str, int], RunDigest]:
    """Read every digest of the grid there is in ``digests`` and the ``reuse`` directories and check it against its
    run's config (ValueError naming the file, and the fields that differ); return those that stand for a run not
    finished under ``root``. A digest of the same run continued past the grid's ``iterations``
    (``RunDigest.longer_than``) stands for it cut to them (``RunDigest.upto``); one stopped short of them does not
    (the run resumes). An (arm, seed) that two of the directories both stand for raises ValueError naming both
    files: which one is the run would be a guess. ``source``, when given, is filled with the directory (resolved)
    each (arm, seed)'s digest was found in, whether or not it stands for the run."""
    from .ablation import arm_config
    from .digest import digest_path, load_digest

    have: dict[tuple[str, int], RunDigest] = {}
    found: dict[tuple[str, int], Path] = {}
    for where in digest_dirs(digests, reuse):
        for a, ov in arms.items():
            for s in seeds:
                p, run_dir = digest_path(where, a, s), Path(root) / a / f"seed{s}"
                if not p.exists():
                    continue
                d = load_digest(p)
                want = arm_config(base, ov, s, run_dir)
                if d.shorter_than(want):  # the grid goes further than this run did: it runs on, its digest is rewritten
                    continue
                if not d.longer_than(want):
                    diff = d.config_differences(want)
                    if diff:
                        raise ValueError(f"digest {p} was made with another config: {'; '.join(diff)}; remove it to "
                                         "rerun that run, or give another digests directory")
                key = (a, int(s))
                if key in found:
                    raise ValueError(f"arm {a!r} seed {s}: a digest in both {found[key]} and {p}; keep one")
                found[key] = p
                if source is not None:
                    source[key] = Path(where).resolve()
                if not _finished(run_dir, base):  # a run finished under root is read from its store instead
                    have[key] = d.upto(want.iterations) if d.longer_than(want) else d
    return have


def prune_runs(root: str | Path, *, dry_run: bool = False) -> pd.DataFrame:
    """Prune every finished run under ``root`` (any depth): an offline run store keeps only its last checkpoint
    (``RunStore.prune_checkpoints``), a finished online run with a saved ``model/`` loses its trainer checkpoints
    (``online.prune_online_run``). Tables, eval reports, logs and final policies stay, so results files and notebooks
    re-render unchanged. One row per checkpoint folder freed: run, iteration (None online), stage, files, bytes."""
    import os

    def online(d: Path) -> bool:
        return (d / "online_summary.json").exists() or (d / "online_run.json").exists()

    rows: list[dict[str, Any]] = []
    for here, dirs, files in os.walk(root):  # top-down: a run's own folders (checkpoints, models) are not searched
        d = Path(here)
        dirs.sort()
        if "config.json" not in files:
            continue
        if online(d):
            from .online import prune_online_run  # imports TRL: only when there is an online run

            dirs.clear()
            rec = prune_online_run(d, dry_run=dry_run)  # None unless finished with its model/
            if rec and rec["files"]:
                rows.append({"run": str(d), "iteration": None, "stage": "_trainer", "files": rec["files"],
                             "bytes": rec["bytes"]})
        elif any(d.glob("iter_[0-9][0-9][0-9]")):
            dirs.clear()
            rows += [{"run": str(d), **{k: r[k] for k in ("iteration", "stage", "files", "bytes")}}
                     for r in RunStore(d).prune_checkpoints(dry_run=dry_run)]
    return pd.DataFrame(rows, columns=["run", "iteration", "stage", "files", "bytes"])


def _digest_stale(path: Path, config: EvaConfig) -> bool:
    """Is there no digest at ``path``, or one of this run before it was extended (``RunDigest.shorter_than``)?"""
    from .digest import load_digest

    return not path.exists() or load_digest(path).shorter_than(config)


def _finished(run_dir: Path, base: EvaConfig) -> bool:
    """The run holds its final evaluation (or, without evaluation, its last checkpoint)."""
    k = base.iterations + int(base.warmup_round)
    return (run_dir / f"iter_{k:03d}" / "eval.json").exists() if base.run_eval else \
        (run_dir / f"iter_{k - 1:03d}" / "checkpoint" / "DONE").exists()


def _rounded(seconds: float) -> float | None:
    """Seconds for a results file: None where unknown (a digest cut to fewer iterations, ``RunDigest.upto``)."""
    return None if not np.isfinite(seconds) else round(seconds, 1)


def compute_seconds(store: RunStore | RunDigest) -> float:
    """Seconds the stages of a run took, summed over every attempt (``stage_end`` events of events.jsonl)."""
    if isinstance(store, RunDigest):
        return store.stage_seconds
    ev = store.events()
    if not len(ev) or "seconds" not in ev:
        return 0.0
    return float(pd.to_numeric(ev.loc[ev["event"] == "stage_end", "seconds"], errors="coerce").sum())


def final_checkpoints(stores: Mapping[str, Sequence[RunStore]]) -> dict[str, dict[str, str | None]]:
    """{arm: {seed: path of the run's last trained checkpoint, or None if it has none yet}}."""
    out: dict[str, dict[str, str | None]] = {}
    for arm, runs in stores.items():
        out[arm] = {}
        for st in runs:
            if isinstance(st, RunDigest):
                out[arm][str(st.config.seed)] = st.checkpoint
                continue
            done = [t for t in st.iterations() if st.has(t, "checkpoint")]
            out[arm][str(st.config.seed)] = str(st.path(max(done), "checkpoint")) if done else None
    return out


# --------------------------------------------------------------------------------------------------
# Per-seed rows and per-prompt cells
# --------------------------------------------------------------------------------------------------

def _n_constraints(text: Any) -> int:
    if isinstance(text, str):
        return len(json.loads(text)) if text.strip() else 0
    return len(text) if isinstance(text, (list, tuple)) else 0


def _outcomes(store: RunStore, t: int) -> pd.Series | None:
    """The all_fail / all_pass / mixed / unscored outcome of every prompt of X_t (None before the weights)."""
    step1 = _step1(store, t)
    return None if step1 is None else step1["outcome"]


def prompt_cells(store: RunStore | RunDigest, t: int, quantity: str) -> np.ndarray:
    """The per-prompt values of ``quantity`` at iteration t of one run (per-seed values — ``n_pairs``,
    ``gen_tokens``, ``rollouts_per_pair`` — as one value); empty when the run has not reached that stage."""
    from .breakdown import iteration_gen_tokens

    if isinstance(store, RunDigest):
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity={quantity!r}: choose one of {QUANTITIES}")
        return store.cells(t, quantity)

    if quantity in ("heldout_full", "heldout_frac"):
        c = eval_cells(store, "full" if quantity == "heldout_full" else "frac")
        return c.loc[c.iteration == t, "score"].to_numpy(float)
    if quantity == "informative_share":
        return ((store.read_table(t, "weights")["a_min"].to_numpy(float) > 0).astype(float)
                if store.has(t, "weights") else np.empty(0))
    if quantity in ("all_fail", "all_pass", "mixed"):
        o = _outcomes(store, t)
        if o is None:
            return np.empty(0)
        o = o[o != "unscored"]
        return (o == quantity).to_numpy(float)
    if quantity == "train_reward":
        if not store.has(t, "train_responses"):
            return np.empty(0)
        r = store.read_table(t, "train_responses")
        return r.groupby("prompt_id")["reward"].mean().dropna().to_numpy(float)
    if quantity == "n_pairs":
        return np.array([float(len(store.read_table(t, "pairs")))]) if store.has(t, "pairs") else np.empty(0)
    if quantity == "gen_tokens":
        v = iteration_gen_tokens(store, t)
        return np.array([v]) if np.isfinite(v) else np.empty(0)
    if quantity == "rollouts_per_pair":
        v = curriculum_costs(store, t)["rollouts_per_pair"]
        return np.array([v]) if np.isfinite(v) else np.empty(0)
    if quantity in ("prompt_chars", "n_constraints"):
        if not store.has(t, "prompts"):
            return np.empty(0)
        p = store.read_table(t, "prompts")
        if quantity == "prompt_chars":
            return p["text"].astype(str).str.len().to_numpy(float)
        return np.array([_n_constraints(c) for c in p.get("constraints", pd.Series([], dtype=object))], dtype=float)
    raise ValueError(f"quantity={quantity!r}: choose one of {QUANTITIES}")


def _pair_budget(store: RunStore, t: int) -> dict[str, float]:
    """n_pairs_built, pairs_budget and pairs_shortfall of iteration t (the pairs table's ``attrs["budget"]``;
    without a budget every built pair is trained on)."""
    if not store.has(t, "pairs"):
        return {}
    pairs = store.read_table(t, "pairs")
    b = pairs.attrs.get("budget")
    if b:
        return {k: float(b[k]) for k in ("n_pairs_built", "pairs_budget", "pairs_shortfall")}
    return {"n_pairs_built": float(len(pairs)), "pairs_budget": 0.0, "pairs_shortfall": 0.0}


def _training_responses(store: RunStore, t: int) -> pd.DataFrame | None:
    """The responses iteration t's pairs are built from (step 6; static reuses step 1's), or None."""
    for stage in ("train_responses", "responses"):
        if store.has(t, stage):
            return store.read_table(t, stage)
    return None


def curriculum_costs(store: RunStore, t: int) -> dict[str, float]:
    """What iteration t of one run spent (``COST_COLUMNS`` and ``rollouts_per_pair``; NaN where the stage is absent):

    - ``rollouts``: solver responses generated for the curriculum (step 1, plus step 6 except in static mode, which
      trains on step 1's);
    - ``rollouts_saved``: responses that prediction before sampling did not generate (``sampling="thompson"``,
      ``skip="greso"``: skipped prompts × N; 0 for the other arms);
    - ``creator_rollouts``: solver responses spent scoring the trained creator's valid proposals (N each; 0 without
      ``creator_training``) and ``creator_train_s``, the seconds of its GRPO steps; ``creator_reward``, the mean
      reward of its proposals;
    - ``frontier_drop_rate``: the share of evolved prompts the frontier check dropped (NaN without it);
    - ``rollouts_per_pair``: (rollouts + creator_rollouts) / pairs built — the rollouts each usable pair cost."""
    n = int(store.config.n_responses)
    out = {c: float("nan") for c in (*COST_COLUMNS, "rollouts_per_pair")}
    stages = ["responses"] + ([] if store.config.mode == "static" else ["train_responses"])
    have = [s for s in stages if store.has(t, s)]
    if not have:  # nothing sampled in iteration t (yet): nothing spent to report
        return out
    out["rollouts"] = float(sum(len(store.read_table(t, s)) for s in have))
    out["rollouts_saved"] = 0.0
    if store.has(t, "prediction"):
        plan = store.read_table(t, "prediction")
        out["rollouts_saved"] = float(plan.loc[plan.in_set.astype(bool), "rollouts_saved"].sum())
    out["creator_rollouts"] = 0.0
    if store.has(t, "creator_training"):
        ct = store.read_table(t, "creator_training")
        out["creator_rollouts"] = float(ct["valid"].astype(bool).sum() * n)
        out["creator_reward"] = float(ct["reward"].mean()) if len(ct) else float("nan")
        ev = store.events()
        if len(ev) and "iteration" in ev:
            sec = ev.loc[(ev.event == "creator_training") & (ev.iteration == t), "seconds"]
            out["creator_train_s"] = float(sec.iloc[-1]) if len(sec) else float("nan")
    if store.has(t, "pairs"):
        pairs = store.read_table(t, "pairs")
        fr = pairs.attrs.get("frontier") or {}
        if fr.get("frontier_drop_rate") is not None:
            out["frontier_drop_rate"] = float(fr["frontier_drop_rate"])
        built = _pair_budget(store, t).get("n_pairs_built", float(len(pairs)))
        spent = out["rollouts"] + out["creator_rollouts"]
        out["rollouts_per_pair"] = spent / built if built > 0 and np.isfinite(spent) else float("nan")
    return out


def pass_rate_distribution(stores: Mapping[str, Sequence[RunStore]]) -> pd.DataFrame:
    """The pass-rate distribution of each iteration's training set (the prompts pairs are built from, under the
    solver that samples them): one row per (arm, iteration, bin of ``PASS_RATE_BINS``) with ``share`` (mean over
    seeds of each seed's share of scored prompts in the bin) and ``n_seeds``."""
    rows = []
    for arm, runs in stores.items():
        per: dict[int, list[np.ndarray]] = {}
        for st in runs:
            for t, rate in _training_pass_rates(st).items():
                per.setdefault(int(t), []).append(pass_rate_shares(rate))
        for t, shares in sorted(per.items()):
            m = np.mean(shares, axis=0)
            rows += [{"arm": arm, "iteration": t, "bin": b, "share": float(v), "n_seeds": len(shares)}
                     for b, v in zip(PASS_RATE_BINS, m)]
    return pd.DataFrame(rows, columns=["arm", "iteration", "bin", "share", "n_seeds"])


def _training_pass_rates(store: RunStore | RunDigest) -> dict[int, np.ndarray]:
    """{iteration: pass rates of the scored prompts of its training set} (iterations with none left out)."""
    from .breakdown import pass_breakdown
    from .loop import reward_matrix

    if isinstance(store, RunDigest):
        return {t: r[np.isfinite(r)] for t, r in store.pass_rates().items() if np.isfinite(r).any()}
    out = {}
    for t in store.iterations():
        resp = _training_responses(store, t)
        if resp is None or not len(resp):
            continue
        ids = list(dict.fromkeys(str(i) for i in resp.prompt_id))
        rate = pass_breakdown(reward_matrix(resp, ids), store.config.pass_threshold)["pass_rate"].dropna()
        if len(rate):
            out[int(t)] = rate.to_numpy(float)
    return out


def pass_rate_shares(rate: np.ndarray) -> np.ndarray:
    """Shares of the pass rates ``rate`` in each bin of ``PASS_RATE_BINS`` (they sum to 1)."""
    r = np.asarray(rate, dtype=float)
    if not len(r):
        raise ValueError("pass_rate_shares: no pass rates")
    eps = 1e-9
    counts = [(r <= eps).sum(), ((r > eps) & (r <= 1 / 3 + eps)).sum(), ((r > 1 / 3 + eps) & (r <= 2 / 3 + eps)).sum(),
              ((r > 2 / 3 + eps) & (r < 1 - eps)).sum(), (r >= 1 - eps).sum()]
    return np.asarray(counts, dtype=float) / len(r)


OFFSPRING_COLUMNS = ("seed", "iteration", "root_id", "root_pass_rate", "eased", "child_id", "outcome")
CHILD_OUTCOMES = ("mixed", "all_pass", "all_fail")


def _step1(store: RunStore, t: int) -> pd.DataFrame | None:
    """Iteration t's step-1 pass rate and outcome per prompt id (None before the weights)."""
    from .breakdown import pass_breakdown
    from .loop import reward_matrix

    if not store.has(t, "weights"):
        return None
    w = store.read_table(t, "weights")
    ids = [str(i) for i in w.prompt_id]
    if {"pass_rate", "outcome"} <= set(w.columns):
        return pd.DataFrame({"pass_rate": w.pass_rate.to_numpy(float), "outcome": w.outcome.to_numpy()}, index=ids)
    if not store.has(t, "responses"):
        return None
    b = pass_breakdown(reward_matrix(store.read_table(t, "responses"), ids), store.config.pass_threshold)
    return b.set_index(pd.Index(ids))


def offspring_records(store: RunStore | RunDigest) -> pd.DataFrame:
    """Where the creator's children landed: one row per evolved prompt of X_{t+1} (``next_prompts`` with source
    "evolved"), for every t whose next step 1 exists. ``root_id`` is the selected prompt its chain started from,
    ``root_pass_rate`` that prompt's step-1 pass rate at t, ``eased`` whether the creator steered the chain toward
    the frontier (``creator_aim="frontier"``: the root is one ``loop.aimed_at_frontier`` eases), ``outcome`` the
    child's step-1 outcome at t + 1 under the next solver (all_fail / all_pass / mixed / unscored). Empty for an arm
    without evolution (static). Each iteration's step 1 is read once (it serves as t + 1, then as t, and gives the
    eased roots' pass rates)."""
    from .loop import aimed_at_frontier

    if isinstance(store, RunDigest):
        return store.offspring()
    cfg = store.config
    rows = []
    step1: dict[int, pd.DataFrame | None] = {}

    def read(t: int) -> pd.DataFrame | None:
        if t not in step1:
            step1[t] = _step1(store, t)
        return step1[t]

    for t in store.iterations():
        if not (store.has(t, "evolved") and store.has(t, "next_prompts")):
            continue
        now, nxt = read(t), read(t + 1)
        if now is None or nxt is None:
            continue
        ev = store.read_table(t, "evolved")
        ev = ev[ev.accepted.astype(bool)]
        roots = ev.root_id if "root_id" in ev else ev.parent_id  # stores before chained evolution: parent = root
        root_of = dict(zip(ev.id.astype(str), roots.astype(str)))
        children = store.read_table(t, "next_prompts")
        step1_rates = pd.DataFrame({"prompt_id": now.index, "pass_rate": now.pass_rate.to_numpy(float)})
        eased = (set(aimed_at_frontier(step1_rates, sorted(set(root_of.values())), cfg.aim_pass_rate))
                 if cfg.creator_aim == "frontier" else set())
        for cid in children.loc[children.source == "evolved", "id"].astype(str):
            if cid not in root_of or root_of[cid] not in now.index or cid not in nxt.index:
                raise ValueError(f"{store.root}: iteration {t}: evolved prompt {cid!r} has no accepted chain, "
                                 "root with a step-1 pass rate, or step-1 outcome at t + 1")
            rate = float(now.at[root_of[cid], "pass_rate"])
            rows.append({"seed": int(cfg.seed), "iteration": int(t), "root_id": root_of[cid],
                         "root_pass_rate": rate,
                         "eased": root_of[cid] in eased,
                         "child_id": cid, "outcome": str(nxt.at[cid, "outcome"])})
    return pd.DataFrame(rows, columns=list(OFFSPRING_COLUMNS))


def offspring_outcomes(stores: Mapping[str, Sequence[RunStore | RunDigest]], n_boot: int = 2000,
                       alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """The children's outcomes by their root's step-1 pass rate: one row per (arm, root_pass_rate, eased) with
    ``n_roots``, ``n_children`` (scored ones) and, for each of ``CHILD_OUTCOMES``, the share of children with that
    outcome (pooled over seeds and iterations) and a percentile CI from a bootstrap over roots (children of one root
    share it, so roots are the resampled unit). It shows what easing or hardening a prompt at a given pass rate does
    to the next set (configs/aim_frontier_gentle.yaml)."""
    cols = ["arm", "root_pass_rate", "eased", "n_roots", "n_children"]
    cols += [c for o in CHILD_OUTCOMES for c in (o, f"{o}_ci_low", f"{o}_ci_high")]
    out = []
    rng = np.random.default_rng(seed)
    for arm, runs in stores.items():
        rec = pd.concat([offspring_records(r) for r in runs], ignore_index=True) if runs else pd.DataFrame()
        if rec.empty:
            continue
        rec = rec[rec.outcome != "unscored"]
        for (rate, eased), g in rec.groupby(["root_pass_rate", "eased"], sort=True):
            per_root = pd.crosstab([g.seed, g.iteration, g.root_id], g.outcome).reindex(columns=list(CHILD_OUTCOMES),
                                                                                         fill_value=0)
            counts = per_root.to_numpy(float)
            pick = rng.integers(0, len(counts), (n_boot, len(counts)))
            boot = counts[pick].sum(axis=1)
            boot = boot / boot.sum(axis=1, keepdims=True)
            row: dict[str, Any] = {"arm": arm, "root_pass_rate": float(rate), "eased": bool(eased),
                                   "n_roots": len(counts), "n_children": int(counts.sum())}
            for j, o in enumerate(CHILD_OUTCOMES):
                lo, hi = np.quantile(boot[:, j], [alpha / 2, 1 - alpha / 2])
                row.update({o: float(counts[:, j].sum() / counts.sum()), f"{o}_ci_low": float(lo),
                            f"{o}_ci_high": float(hi)})
            out.append(row)
    return pd.DataFrame(out, columns=cols)


def offspring_markdown_table(table: pd.DataFrame) -> str:
    """``offspring_outcomes`` as markdown: a row per (arm, root pass rate, eased), the children's shares with their
    95% CIs (two decimals; a bootstrap over roots)."""
    head = "| arm | root pass rate | eased | roots | children | " + " | ".join(CHILD_OUTCOMES) + " |"
    lines = [head, "| --- | --- | --- | --- | --- |" + " --- |" * len(CHILD_OUTCOMES)]
    for r in table.itertuples(index=False):
        d = r._asdict()
        cells = [f"{d[o]:.2f} [{d[f'{o}_ci_low']:.2f}, {d[f'{o}_ci_high']:.2f}]" for o in CHILD_OUTCOMES]
        lines.append(f"| {r.arm} | {r.root_pass_rate:.2f} | {'yes' if r.eased else 'no'} | {r.n_roots} | "
                     f"{r.n_children} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def per_seed_rows(stores: Mapping[str, Sequence[RunStore]]) -> pd.DataFrame:
    """One row per (arm, seed, iteration): the per-seed value of every curve quantity (mean over prompts),
    the pair budget (``n_pairs_built``, ``pairs_budget``, ``pairs_shortfall``), the creator's acceptance and what
    the iteration spent (``COST_COLUMNS``, ``curriculum_costs``)."""
    from .loop import round_of, summarize

    rows = []
    for arm, runs in stores.items():
        for st in runs:
            if isinstance(st, RunDigest):
                rows += [{**r, "arm": arm} for r in st.rows()]
                continue
            summ = summarize(st).set_index("iteration") if st.iterations() else pd.DataFrame()
            for t in st.iterations():
                row: dict[str, Any] = {"arm": arm, "seed": int(st.config.seed), "iteration": int(t),
                                       "round": round_of(st.config, t)}
                costs = curriculum_costs(st, t)  # read once: rollouts_per_pair is both a quantity and a cost
                for q in QUANTITIES:
                    c = np.array([costs[q]]) if q == "rollouts_per_pair" else prompt_cells(st, t, q)
                    row[q] = float(c.mean()) if len(c) else float("nan")
                row.update(_pair_budget(st, t))
                if "acceptance" in summ and t in summ.index:
                    row["acceptance"] = float(summ.at[t, "acceptance"])
                row.update({k: v for k, v in costs.items() if k in COST_COLUMNS})
                rows.append(row)
    cols = ["arm", "seed", "iteration", "round", *QUANTITIES, "n_pairs_built", "pairs_budget", "pairs_shortfall",
            "acceptance", *COST_COLUMNS]
    df = pd.DataFrame(rows)
    return df.reindex(columns=cols)


# --------------------------------------------------------------------------------------------------
# Curves, paired differences, compute-normalised gains
# --------------------------------------------------------------------------------------------------

def iteration_curves(stores: Mapping[str, Sequence[RunStore]], quantities: Sequence[str] = QUANTITIES,
                     n_boot: int = 1000, alpha: float = 0.05, iterations: Sequence[int] | None = None
                     ) -> pd.DataFrame:
    """The tidy per-iteration curves of every arm: one row per (arm, iteration, quantity) with ``mean`` (over
    seeds of the per-seed means), ``ci_low`` / ``ci_high`` (percentile bootstrap over seeds, then prompts within
    each seed) and ``n_seeds`` (seeds that reached that stage). ``iterations``: these instead of the iterations
    the runs hold a prompt set for (an online run has held-out reports only)."""
    bad = [q for q in quantities if q not in QUANTITIES]
    if bad:
        raise ValueError(f"quantities {bad}: choose from {QUANTITIES}")
    rows = []
    for arm, runs in stores.items():
        its = sorted(iterations) if iterations is not None else sorted({t for st in runs for t in st.iterations()})
        for t in its:
            for q in quantities:
                cells = [c for c in (prompt_cells(st, t, q) for st in runs) if len(c)]
                if not cells:
                    continue
                mean, stats = _bootstrap(cells, n_boot, seed=t)
                lo, hi = _interval(stats, alpha)
                rows.append({"arm": arm, "iteration": int(t), "quantity": q, "mean": mean, "ci_low": lo,
                             "ci_high": hi, "n_seeds": len(cells)})
    return pd.DataFrame(rows, columns=["arm", "iteration", "quantity", "mean", "ci_low", "ci_high", "n_seeds"])


def _eval_cells(run: RunStore | RunDigest, metric: str) -> pd.DataFrame:
    """``ablation.eval_cells`` of a run store or a digest."""
    return run.eval_cells(metric) if isinstance(run, RunDigest) else eval_cells(run, metric)


def _by_seed(runs: Sequence[RunStore]) -> dict[int, RunStore]:
    return {int(st.config.seed): st for st in runs}


def paired_differences(stores: Mapping[str, Sequence[RunStore]], arm: str = "eva",
                       baselines: Sequence[str] = BASELINES, metric: str = "full", n_boot: int = 1000,
                       alpha: float = 0.05) -> pd.DataFrame:
    """``arm`` minus each baseline present, per evaluated iteration, paired by seed and held-out prompt: one row
    per (baseline, iteration) with the mean difference, its bootstrap CI and ``p_better`` (share of resamples in
    which ``arm`` wins). Seeds missing from either side are left out."""
    cols = ["arm", "vs", "iteration", "metric", "delta", "ci_low", "ci_high", "p_better", "n_seeds"]
    if arm not in stores:
        return pd.DataFrame(columns=cols)
    mine = _by_seed(stores[arm])
    rows = []
    for b in baselines:
        if b not in stores or b == arm:
            continue
        theirs = _by_seed(stores[b])
        seeds = sorted(set(mine) & set(theirs))
        cells = {s: (_eval_cells(mine[s], metric), _eval_cells(theirs[s], metric)) for s in seeds}
        its = sorted({int(t) for a, _ in cells.values() for t in a.iteration})
        for t in its:
            diffs = []
            for a, c in cells.values():
                x = a[a.iteration == t].set_index("prompt_id").score
                y = c[c.iteration == t].set_index("prompt_id").score
                common = x.index.intersection(y.index)
                if len(common):
                    diffs.append((x.loc[common] - y.loc[common]).to_numpy())
            if not diffs:
                continue
            mean, stats = _bootstrap(diffs, n_boot, seed=3 + t)
            lo, hi = _interval(stats, alpha)
            rows.append({"arm": arm, "vs": b, "iteration": t, "metric": metric, "delta": mean, "ci_low": lo,
                         "ci_high": hi, "p_better": float((stats > 0).mean()) if stats is not None else float("nan"),
                         "n_seeds": len(diffs)})
    return pd.DataFrame(rows, columns=cols)


def normalised_gains(stores: Mapping[str, Sequence[RunStore]], metric: str = "full", n_boot: int = 1000,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Per arm and evaluated iteration t > 0: the held-out gain over θ0 (paired per seed and prompt, bootstrap
    CI), the tokens generated and pairs trained on in iterations 0..t-1 (mean over seeds), and the gain per
    million generated tokens and per training pair (mean gain / mean cost; the CI is the gain's CI over the same
    cost)."""
    rows = []
    for arm, runs in stores.items():
        evals = [(st, _eval_cells(st, metric)) for st in runs]
        its = sorted({int(t) for _, c in evals for t in c.iteration if t > 0})
        for t in its:
            gains, toks, pairs = [], [], []
            for st, c in evals:
                x = c[c.iteration == t].set_index("prompt_id").score
                y = c[c.iteration == 0].set_index("prompt_id").score
                common = x.index.intersection(y.index)
                if not len(common):
                    continue
                gains.append((x.loc[common] - y.loc[common]).to_numpy())
                tk = [prompt_cells(st, s, "gen_tokens") for s in range(t)]
                toks.append(float(sum(v.sum() for v in tk)) if all(len(v) for v in tk) else float("nan"))
                toks[-1] = toks[-1] if toks[-1] > 0 else float("nan")
                pairs.append(float(sum(prompt_cells(st, s, "n_pairs").sum() for s in range(t))))
            if not gains:
                continue
            g, lo, hi = bootstrap_ci(gains, n_boot, alpha, seed=5 + t)
            tk, pr = float(np.mean(toks)), float(np.mean(pairs))
            mtok = tk / 1e6
            rows.append({"arm": arm, "iteration": t, "metric": metric, "gain": g, "gain_ci_low": lo,
                         "gain_ci_high": hi, "gen_tokens": tk, "n_pairs": pr,
                         "gain_per_mtok": g / mtok if mtok > 0 else float("nan"),
                         "gain_per_mtok_ci_low": lo / mtok if mtok > 0 else float("nan"),
                         "gain_per_mtok_ci_high": hi / mtok if mtok > 0 else float("nan"),
                         "gain_per_pair": g / pr if pr > 0 else float("nan"),
                         "gain_per_pair_ci_low": lo / pr if pr > 0 else float("nan"),
                         "gain_per_pair_ci_high": hi / pr if pr > 0 else float("nan"),
                         "n_seeds": len(gains)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# The results JSON
# --------------------------------------------------------------------------------------------------

RESULT_TABLES = ("per_seed", "curves", "paired", "normalised", "pass_rates")
ONLINE_RESULT_TABLES = ("per_seed", "curves", "heldout", "paired")  # reproduce-online's results file


def paired_table(stores: Mapping[str, Sequence[RunStore]], n_boot: int = 1000, arm: str = "eva",
                 baseline: str = "static") -> pd.DataFrame:
    """Every paired difference a results file reports, held-out ``full`` and ``frac``: ``arm`` (eva) minus every
    other arm present, then every other arm minus ``baseline`` (static, when it ran) — the rows of
    ``paired_differences``. The online comparison: ``arm="online-eva", baseline="online-seed"``."""
    others = [a for a in stores if a != arm]
    parts = [paired_differences(stores, arm, others, metric=m, n_boot=n_boot) for m in ("full", "frac")]
    if baseline in stores:
        parts += [paired_differences(stores, a, [baseline], metric=m, n_boot=n_boot)
                  for m in ("full", "frac") for a in stores if a not in (arm, baseline)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else paired_differences({}, arm)


def paired_ahead(paired: pd.DataFrame, arm: str, ref: str, metric: str, t: int
                 ) -> tuple[float, float, float, float]:
    """``arm`` minus ``ref`` at iteration t from a paired table (``paired_table``): (delta, ci_low, ci_high, share
    of bootstrap resamples in which ``arm`` is ahead), read from the row ``arm`` vs ``ref`` or, negated, from
    ``ref`` vs ``arm`` (the share is then 1 − ``ref``'s: ``arm`` ahead or tied); NaNs when neither is there."""
    if arm != ref and len(paired):
        pm = paired[(paired.metric == metric) & (paired.iteration == t)]
        fwd, rev = pm[(pm.arm == arm) & (pm.vs == ref)], pm[(pm.arm == ref) & (pm.vs == arm)]
        if len(fwd):
            return fwd.delta.item(), fwd.ci_low.item(), fwd.ci_high.item(), fwd.p_better.item()
        if len(rev):
            return -rev.delta.item(), -rev.ci_high.item(), -rev.ci_low.item(), 1.0 - rev.p_better.item()
    return float("nan"), float("nan"), float("nan"), float("nan")


def paired_delta(paired: pd.DataFrame, arm: str, ref: str, metric: str, t: int) -> tuple[float, float, float]:
    """``arm`` minus ``ref`` at iteration t: (delta, ci_low, ci_high) of ``paired_ahead``."""
    return paired_ahead(paired, arm, ref, metric, t)[:3]


def summary_table(results: Mapping[str, Any], metric: str = "full") -> pd.DataFrame:
    """One row per arm of a results file (``load_results``) at its last evaluated iteration: the held-out score,
    the gain over θ0 and the arm's difference with static and with eva (paired, 95% CI), and what it spent over
    the trained iterations, mean over seeds: rollouts generated, rollouts saved by prediction, the creator's
    training rollouts and seconds, rollouts per pair built, and the gain per million generated tokens."""
    curves, paired, norm, ps = (results[k] for k in ("curves", "paired", "normalised", "per_seed"))
    q = "heldout_full" if metric == "full" else "heldout_frac"
    rows = []
    for arm in dict.fromkeys(curves.arm):
        c = curves[(curves.arm == arm) & (curves.quantity == q)]
        if not len(c):
            continue
        t = int(c.iteration.max())
        last = c[c.iteration == t].iloc[0]
        row: dict[str, Any] = {"arm": arm, "iteration": t, "n_seeds": int(last.n_seeds), "heldout": last["mean"],
                               "heldout_ci": (last.ci_low, last.ci_high)}
        g = norm[(norm.arm == arm) & (norm.iteration == t) & (norm.metric == metric)] if len(norm) else norm
        row["gain"], row["gain_ci"] = ((g.gain.item(), (g.gain_ci_low.item(), g.gain_ci_high.item())) if len(g)
                                       else (float("nan"), (float("nan"), float("nan"))))
        row["gain_per_mtok"] = g.gain_per_mtok.item() if len(g) else float("nan")
        for ref in ("static", "eva"):
            d, lo, hi = paired_delta(paired, arm, ref, metric, t)
            row[f"minus_{ref}"], row[f"minus_{ref}_ci"] = d, (lo, hi)
        spent = ps[(ps.arm == arm) & (ps.iteration < t)]
        for col in ("rollouts", "rollouts_saved", "creator_rollouts", "creator_train_s"):
            v = spent.groupby("seed")[col].sum(min_count=1) if col in spent else pd.Series(dtype=float)
            row[col] = float(v.mean()) if v.notna().any() else float("nan")
        rpp = spent["rollouts_per_pair"] if "rollouts_per_pair" in spent else pd.Series(dtype=float)
        row["rollouts_per_pair"] = float(rpp.mean()) if rpp.notna().any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def reproduction_results(stores: Mapping[str, Sequence[RunStore]], *, base: EvaConfig | None = None,
                         arms: Mapping[str, Mapping[str, Any]] | None = None, wall: Mapping[str, Any] | None = None,
                         command: str = "", n_boot: int = 1000) -> dict[str, Any]:
    """Everything a reproduction reports, JSON-ready: the budget rule, the base config and arms, per-seed rows
    (with what each iteration spent), the CI curves, the paired differences (``paired_table``), the
    compute-normalised gains, the training sets' pass-rate distribution, wall time ({arm: {seed: seconds of this
    invocation}}) and stage seconds (every attempt), final checkpoints and the manifests of every run
    (evalab/provenance.py)."""
    paired = paired_table(stores, n_boot=n_boot)
    return {
        "command": command,
        "budget_rule": BUDGET_RULE,
        "pairs_per_iteration": base.pairs_per_iteration if base is not None else None,
        "base_config": base.to_dict() if base is not None else None,
        "arms": {a: dict(v) for a, v in (arms or {}).items()} or {a: {} for a in stores},
        "seeds": sorted({int(st.config.seed) for runs in stores.values() for st in runs}),
        "per_seed": json_records(per_seed_rows(stores)),
        "curves": json_records(iteration_curves(stores, n_boot=n_boot)),
        "paired": json_records(paired),
        "normalised": json_records(normalised_gains(stores, n_boot=n_boot)),
        "pass_rates": json_records(pass_rate_distribution(stores)),
        "wall_s": dict(wall or {}),
        "stage_seconds": {a: {str(st.config.seed): _rounded(compute_seconds(st)) for st in runs}
                          for a, runs in stores.items()},
        "checkpoints": final_checkpoints(stores),
        "manifests": run_manifests(stores),
    }


def markdown_tables(results: Mapping[str, Any], arms: Sequence[str] | None = None, metric: str = "full",
                    reference: Mapping[str, str] | None = None) -> str:
    """The README's two tables of a results file (``load_results``), as markdown: the held-out score of each arm
    per evaluated iteration (mean over seeds, 95% CI), then eva minus each other arm, paired by seed and prompt
    (95% CI, and in parentheses the share of bootstrap resamples in which eva is ahead). Minus signs are "−".
    ``reference`` (e.g. ``PAPER_ORDERING``: arm -> the paper's finding for eva − arm) adds a last row "paper" to
    the second table, "—" under an arm it has no entry for; each of its arms must be a known arm."""
    curves, paired = results["curves"], results["paired"]
    q = "heldout_full" if metric == "full" else "heldout_frac"
    arms = _check_arms(results, arms)
    unknown = sorted(set(reference or {}) - set(REPRODUCTION_ARMS))
    if unknown:
        raise ValueError(f"reference arms {unknown}: not reproduction arms (known: {sorted(REPRODUCTION_ARMS)})")
    its = sorted({int(t) for t in curves[(curves.quantity == q) & curves.arm.isin(arms)].iteration})

    lines = ["| t | " + " | ".join(arms) + " |", "| --- |" + " --- |" * len(arms)]
    for t in its:
        cells = []
        for a in arms:
            c = curves[(curves.arm == a) & (curves.quantity == q) & (curves.iteration == t)]
            cells.append(format_ci(c["mean"].item(), (c.ci_low.item(), c.ci_high.item()), signed=False)
                         .replace("-", "−") if len(c) else "—")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    others = [a for a in arms if a != "eva"]
    lines += ["", "| t | " + " | ".join(f"eva − {a}" for a in others) + " |", "| --- |" + " --- |" * len(others)]
    for t in its:
        if t == 0:
            continue
        cells = []
        for a in others:
            d = paired[(paired.arm == "eva") & (paired.vs == a) & (paired.metric == metric) & (paired.iteration == t)]
            cells.append(paired_cell(d.delta.item(), d.ci_low.item(), d.ci_high.item(), d.p_better.item())
                         if len(d) else "—")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    if reference is not None:
        lines.append("| paper | " + " | ".join(reference.get(a, "—") for a in others) + " |")
    return "\n".join(lines) + "\n"


def curriculum_verdict(n_seeds: int, seeds: int, minus_eva: tuple[float, float],
                       minus_static: tuple[float, float]) -> str:
    """One phrase for the README's table: "interim (k of n seeds)" while seeds are missing; otherwise, against eva
    and against static (each a 95% CI of arm − other; NaN for the arm itself), "ahead of" when the CI is above 0,
    "behind" when below, "null vs" when it holds 0 — a null result is stated, never read as a win."""
    if n_seeds < seeds:
        return f"interim ({n_seeds} of {seeds} seeds)"
    parts = []
    for other, (lo, hi) in (("eva", minus_eva), ("static", minus_static)):
        if not (np.isfinite(lo) and np.isfinite(hi)):
            continue
        parts.append(f"ahead of {other}" if lo > 0 else f"behind {other}" if hi < 0 else f"null vs {other}")
    return ", ".join(parts)


def _check_arms(results: Mapping[str, Any], arms: Sequence[str] | None) -> list[str]:
    """``arms`` (None: every arm of the results file, in its order), each checked to be in the file's curves."""
    have = list(dict.fromkeys(results["curves"].arm))
    arms = list(arms) if arms is not None else have
    missing = [a for a in arms if a not in have]
    if missing:
        raise ValueError(f"arms {missing}: not in the results file (arms: {have})")
    return arms


def paired_markdown_table(results: Mapping[str, Any], arm: str, refs: Sequence[str] = ("eva", "static"),
                          metric: str = "full") -> str:
    """``arm`` minus each of ``refs`` per evaluated iteration t >= 1, paired by seed and held-out prompt (95% CI; in
    parentheses the share of bootstrap resamples in which ``arm`` is ahead), from a results file's paired table
    (``paired_ahead``: a stored ``ref`` − ``arm`` row is negated). ``markdown_tables`` gives eva minus the others;
    this gives any arm's view, e.g. a new arm against eva and static. Minus signs are "−"."""
    paired, curves = results["paired"], results["curves"]
    _check_arms(results, [arm, *refs])
    q = "heldout_full" if metric == "full" else "heldout_frac"
    its = sorted({int(t) for t in curves[(curves.arm == arm) & (curves.quantity == q)].iteration if t > 0})
    lines = ["| t | " + " | ".join(f"{arm} − {r}" for r in refs) + " |", "| --- |" + " --- |" * len(refs)]
    for t in its:
        cells = []
        for r in refs:
            d, lo, hi, ahead = paired_ahead(paired, arm, r, metric, t)
            cells.append(paired_cell(d, lo, hi, ahead) if np.isfinite(d) else "—")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def seed_deltas(runs: Mapping[str, Sequence[RunStore | RunDigest]], arm: str = "eva", vs: str = "static",
                metric: str = "full", t: int | None = None, n_boot: int = 2000, alpha: float = 0.05) -> pd.DataFrame:
    """``arm`` minus ``vs`` seed by seed, at iteration ``t`` (default: the last both arms of every seed evaluated),
    paired by held-out prompt: one row per seed both arms ran, with the mean difference and its bootstrap CI over
    the prompts (the seed fixed). How far apart the seeds of one design land: the spread a design's seed count has
    to average out. Columns: seed, iteration, delta, ci_low, ci_high, n_prompts; ValueError naming a missing arm."""
    missing = [a for a in (arm, vs) if not runs.get(a)]
    if missing:
        raise ValueError(f"seed_deltas: no runs of {missing} (arms: {[a for a in runs if runs[a]]})")
    mine, theirs = _by_seed(runs[arm]), _by_seed(runs[vs])
    seeds = sorted(set(mine) & set(theirs))
    cells = {s: (_eval_cells(mine[s], metric), _eval_cells(theirs[s], metric)) for s in seeds}
    last = min(int(c.iteration.max()) for pair in cells.values() for c in pair) if cells else 0
    t = last if t is None else int(t)
    rows = []
    for s in seeds:
        diff = _paired_diff(*(c[c.iteration == t].set_index("prompt_id").score for c in cells[s])).astype(float)
        if not len(diff):
            raise ValueError(f"seed_deltas: seed {s} has no held-out scores of both arms at t = {t}")
        d, lo, hi = bootstrap_ci([diff], n_boot, alpha, seed=s)
        rows.append({"seed": s, "iteration": t, "delta": d, "ci_low": lo, "ci_high": hi, "n_prompts": len(diff)})
    return pd.DataFrame(rows, columns=["seed", "iteration", "delta", "ci_low", "ci_high", "n_prompts"])


def seed_split_markdown_table(parts: Mapping[str, Mapping[str, Any]], arm: str = "eva", vs: str = "static",
                              metric: str = "full") -> str:
    """``arm`` minus ``vs`` per evaluated iteration t >= 1 in several results files of one design, a row each
    (``parts``: label to results, e.g. the seeds first run, the seeds added later and all of them), with its seeds
    and the paired 95% CI and share ahead (``paired_ahead``): do the seeds added later tell the first ones' story?"""
    its = sorted({int(t) for res in parts.values() for t in res["paired"].iteration if t > 0})
    lines = ["| seeds | n | " + " | ".join(f"t = {t}" for t in its) + " |", "| --- | --- |" + " --- |" * len(its)]
    for label, res in parts.items():
        _check_arms(res, [arm, vs])
        seeds = sorted(set(res["per_seed"][res["per_seed"].arm == arm].seed)
                       & set(res["per_seed"][res["per_seed"].arm == vs].seed))
        cells = []
        for t in its:
            d, lo, hi, ahead = paired_ahead(res["paired"], arm, vs, metric, t)
            cells.append(paired_cell(d, lo, hi, ahead) if np.isfinite(d) else "—")
        lines.append(f"| {label} | {len(seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def quantity_markdown_table(results: Mapping[str, Any], quantities: Sequence[str],
                            arms: Sequence[str] | None = None) -> str:
    """Per-iteration curves of a results file (``load_results``) as one markdown table: a row per (t, quantity),
    a column per arm with its mean over seeds and 95% CI (``iteration_curves``), "—" where the arm has no value
    (a run's last iteration has no training set). For the mechanism behind a held-out difference: informative
    share, all-fail share, constraints per prompt... Minus signs are "−"."""
    curves = results["curves"]
    bad = [q for q in quantities if q not in QUANTITIES]
    if bad:
        raise ValueError(f"quantities {bad}: choose from {QUANTITIES}")
    arms = _check_arms(results, arms)
    big = {"prompt_chars", "gen_tokens"}
    lines = ["| t | quantity | " + " | ".join(arms) + " |", "| --- | --- |" + " --- |" * len(arms)]
    for t in sorted({int(t) for t in curves[curves.arm.isin(arms)].iteration}):
        for q in quantities:
            cells = []
            for a in arms:
                c = curves[(curves.arm == a) & (curves.quantity == q) & (curves.iteration == t)]
                if not len(c):
                    cells.append("—")
                    continue
                fmt = "{:.0f}" if q in big else "{:.2f}"
                cells.append(f"{fmt.format(c['mean'].item())} [{fmt.format(c.ci_low.item())}, "
                             f"{fmt.format(c.ci_high.item())}]".replace("-", "−"))
            if any(x != "—" for x in cells):
                lines.append(f"| {t} | {q} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def per_seed_range_table(results: Mapping[str, Any], column: str = "n_pairs_built",
                         arms: Sequence[str] | None = None) -> str:
    """One per-seed column of a results file (``load_results``) per iteration as a markdown table: a row per t, a
    column per arm with the mean over seeds and the range "(min–max)", "—" where the arm has no value. For counts
    whose spread over a few seeds says more than a CI, e.g. the pairs each seed's training set gave before the
    budget cut them (``n_pairs_built``): whether a fixed set runs low on pairs. ValueError naming a bad column."""
    ps = results["per_seed"]
    if column not in ps.columns or column in ("arm", "seed", "iteration"):
        raise ValueError(f"column {column!r}: not a per-seed quantity (have: {[c for c in ps.columns][3:]})")
    arms = _check_arms(results, arms)
    lines = ["| t | " + " | ".join(f"{a}: {column}" for a in arms) + " |", "| --- |" + " --- |" * len(arms)]
    for t in sorted({int(t) for t in ps[ps.arm.isin(arms)].iteration}):
        cells = []
        for a in arms:
            v = ps[(ps.arm == a) & (ps.iteration == t)][column].dropna()
            cells.append(f"{v.mean():.1f} ({v.min():g}–{v.max():g})".replace("-", "−") if len(v) else "—")
        if any(x != "—" for x in cells):
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def grid_seeds(results: Mapping[str, Any]) -> int | None:
    """How many seeds the grid of a results file asks for (``results["seeds"]``), or None where it does not say
    (``summary_view`` then takes the most any arm has)."""
    return len(results.get("seeds") or []) or None


def results_status(results: Mapping[str, Any], source: str | Path = "") -> str:
    """One line saying what a results file (``load_results``) holds: its arms, seeds and evaluated iterations, and
    each (arm, seed) of the grid not finished when it was written (``missing``; a ``--collect`` mid-grid)."""
    curves = results["curves"]
    arms = list(dict.fromkeys(curves.arm)) if len(curves) else []
    its = sorted({int(t) for t in curves.iteration}) if len(curves) else []
    missing = results.get("missing") or []
    head = f"{source}: " if str(source) else ""
    tail = ("; not finished yet: " + ", ".join(f"{m['arm']} seed {m['seed']}" for m in missing)) if missing else ""
    return f"{head}arms {', '.join(arms)}; seeds {results.get('seeds')}; iterations {its}{tail}"


def curricula_markdown_table(results: Mapping[str, Any], metric: str = "full") -> str:
    """The README's curricula table of a results file (``load_results``), one row per arm at its last evaluated
    iteration (``summary_table``): seeds, held-out score (95% CI), gain over θ0, arm − eva and arm − static (paired
    by seed and prompt, 95% CI; in parentheses the share of bootstrap resamples in which eva is not ahead of it),
    and what the trained iterations spent per seed: rollouts generated, rollouts saved by prediction, the trained
    creator's rollouts and GRPO seconds, rollouts per pair built, and the verdict (``curriculum_verdict``, against
    the grid's seeds ``results["seeds"]``). Minus signs are "−"."""
    table = summary_table(results, metric=metric)
    paired = results["paired"]
    n_grid = (grid_seeds(results) or int(table.n_seeds.max())) if len(table) else 0
    lines = ["| arm | seeds | held-out | gain over θ0 | − eva | − static | rollouts | saved | creator rollouts "
             "| creator s | rollouts / pair | verdict |", "| --- |" + " --- |" * 11]

    def num(v: float, fmt: str = "{:.0f}") -> str:
        return fmt.format(v) if np.isfinite(v) else "—"

    for _, r in table.iterrows():
        p = paired[(paired.arm == "eva") & (paired.vs == r.arm) & (paired.metric == metric)
                   & (paired.iteration == r.iteration)]
        ahead = f" ({1 - p.p_better.item():.2f})" if len(p) else ""  # resamples in which eva is not ahead
        cells = [str(int(r.n_seeds)), format_ci(r.heldout, r.heldout_ci, signed=False), format_ci(r.gain, r.gain_ci),
                 format_ci(r.minus_eva, r.minus_eva_ci) + (ahead if np.isfinite(r.minus_eva) else ""),
                 format_ci(r.minus_static, r.minus_static_ci), num(r.rollouts), num(r.rollouts_saved),
                 num(r.creator_rollouts), num(r.creator_train_s), num(r.rollouts_per_pair, "{:.1f}"),
                 curriculum_verdict(int(r.n_seeds), n_grid, r.minus_eva_ci, r.minus_static_ci)]
        lines.append(f"| {r.arm} | " + " | ".join(c.replace("-", "−") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def summary_view(table: pd.DataFrame, seeds: int | None = None) -> pd.DataFrame:
    """``summary_table`` for reading: each difference as "+0.012 [-0.010, +0.035]", costs rounded, and the
    ``curriculum_verdict`` of each arm against a grid of ``seeds`` seeds (default: the most any arm has)."""
    if table.empty:
        return table
    n_grid = seeds or int(table.n_seeds.max())
    view = table.assign(**{c: [format_ci(v, ci) for v, ci in zip(table[c], table[f"{c}_ci"])]
                           for c in ("gain", "minus_static", "minus_eva")},
                        verdict=[curriculum_verdict(int(n), n_grid, e, st) for n, e, st in
                                 zip(table.n_seeds, table.minus_eva_ci, table.minus_static_ci)])
    cols = ["arm", "iteration", "n_seeds", "heldout", "gain", "minus_static", "minus_eva", "rollouts",
            "rollouts_saved", "creator_rollouts", "creator_train_s", "rollouts_per_pair", "gain_per_mtok", "verdict"]
    return view[cols].round(3)


# Issue 11's regimes: eva against static under one lever each, one results file per regime (the same 120 held-out
# prompts, so their scores compare). Keys are the labels notebook 04 and the README use.
REGIMES: dict[str, str] = {
    "standard": "data/reproduction.json",          # configs/reproduction.yaml: <= 24 pairs per iteration
    "easy seed set": "data/regime_easy.json",      # configs/regime_easy.yaml: X_0 of one easy constraint each
    "all pairs": "data/regime_all_pairs.json",     # configs/regime_all_pairs.yaml: pairs_per_iteration = 0
    "small set": "data/regime_small_set.json",     # configs/regime_small_set.yaml: 16 prompts, 6 iterations
    "lr ×5": "data/regime_high_lr.json",           # configs/regime_high_lr.yaml: DPO lr 1e-4 (the demo's 2e-5 × 5)
    "lr ×5, 3 epochs": "data/regime_high_lr_ep3.json",  # configs/regime_high_lr_ep3.yaml: and 3 epochs per round
    "large set": "data/regime_large_set.json",     # configs/regime_large_set.yaml: 96 prompts, <= 48 pairs
}
# The regimes whose runs left digests in git (``evalab.digest``): the same arm in two of them can be paired by seed and
# held-out prompt (``lever_table``). The easy seed set ran before digests existed.
REGIME_DIGESTS: dict[str, str] = {
    "standard": "data/digests/reproduction",
    "all pairs": "data/digests/regime_all_pairs",
    "small set": "data/digests/regime_small_set",
    "lr ×5": "data/digests/regime_high_lr",
    "lr ×5, 3 epochs": "data/digests/regime_high_lr_ep3",
    "large set": "data/digests/regime_large_set",
}
REGIME_QUANTITIES = ("heldout_full", "informative_share", "all_fail", "n_pairs", "train_reward", "n_constraints")


# The standard design's runs on every seed measured (stop 40), as one regime of ``pooled_regime_delta`` /
# ``seed_power``: its grid's seeds 1-3, eva on seeds 4-5 (the A*_avg re-test ran eva with the same config) and
# configs/reproduction_seeds.yaml's runs (static 4-9, eva 6-9). ``pooled_results`` of them is
# data/reproduction_seeds.json.
STANDARD_ALL_SEEDS = ("data/digests/reproduction", "data/digests/replication_a_avg", "data/digests/reproduction_seeds")


def load_regimes(root: str | Path, regimes: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The regimes' results files (``REGIMES`` by default, paths relative to ``root``) that exist, loaded, in
    order; a regime whose file is missing is left out (``regime_table`` and ``regime_curves`` show what is there)."""
    out = {}
    for name, rel in (REGIMES if regimes is None else regimes).items():
        path = Path(root) / rel
        if path.is_file():
            out[name] = load_results(path)
    return out


def _regime_arms(results: Mapping[str, Any], arm: str, vs: str, name: str) -> None:
    missing = [a for a in (arm, vs) if a not in set(results["curves"].arm)]
    if missing:
        raise ValueError(f"regime {name!r}: its results have no arm {', '.join(map(repr, missing))} "
                         f"(arms: {sorted(set(results['curves'].arm))})")


def regime_curves(regimes: Mapping[str, Mapping[str, Any]], arms: Sequence[str] = ("eva", "static"),
                  quantities: Sequence[str] = REGIME_QUANTITIES) -> pd.DataFrame:
    """The curves of several regimes' results in one tidy frame for ``plots.fig_iteration_curves``: each row's
    ``arm`` is "<regime> · <arm>", and ``regime`` and ``solver_arm`` keep the two apart."""
    frames = []
    for name, res in regimes.items():
        _regime_arms(res, arms[0], arms[-1], name)
        c = res["curves"]
        c = c[c.arm.isin(arms) & c.quantity.isin(quantities)]
        frames.append(c.assign(regime=name, solver_arm=c.arm, arm=[f"{name} · {a}" for a in c.arm]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["arm", "iteration", "quantity", "mean", "ci_low", "ci_high", "regime", "solver_arm"])


def regime_table(regimes: Mapping[str, Mapping[str, Any]], arm: str = "eva", vs: str = "static",
                 metric: str = "full") -> pd.DataFrame:
    """One row per regime and evaluated iteration t >= 1: ``arm`` minus ``vs`` on the held-out score, paired by
    seed and prompt (delta, 95% CI, share of resamples with ``arm`` ahead), beside what each arm trained on in the
    iteration before (t - 1): its informative share, all-fail share and pairs trained on (means over seeds).
    A regime whose results lack either arm raises, naming it."""
    q = "heldout_full" if metric == "full" else "heldout_frac"
    rows = []
    for name, res in regimes.items():
        _regime_arms(res, arm, vs, name)
        c, p = res["curves"], res["paired"]

        def mean(a: str, quantity: str, t: int) -> float:
            v = c[(c.arm == a) & (c.quantity == quantity) & (c.iteration == t)]["mean"]
            return float(v.iloc[0]) if len(v) else float("nan")

        its = sorted({int(t) for t in c[(c.quantity == q) & (c.arm == arm)].iteration if t >= 1})
        for t in its:
            d = p[(p.arm == arm) & (p.vs == vs) & (p.metric == metric) & (p.iteration == t)]
            if not len(d):
                continue
            d = d.iloc[0]
            row: dict[str, Any] = {"regime": name, "iteration": t, arm: mean(arm, q, t), vs: mean(vs, q, t),
                                   "delta": float(d.delta), "ci_low": float(d.ci_low), "ci_high": float(d.ci_high),
                                   "p_better": float(d.p_better)}
            for quantity in ("informative_share", "all_fail", "n_pairs"):
                for a in (arm, vs):
                    row[f"{quantity}_{a}"] = mean(a, quantity, t - 1)
            rows.append(row)
    return pd.DataFrame(rows)


def regime_markdown_table(regimes: Mapping[str, Mapping[str, Any]], arm: str = "eva", vs: str = "static",
                          metric: str = "full") -> str:
    """``regime_table`` as the README's markdown: per regime and iteration, ``arm`` − ``vs`` with its 95% CI (share
    of resamples ahead), and the pairs each arm trained on in the iteration before."""
    t = regime_table(regimes, arm, vs, metric)
    lines = [f"| regime | t | {arm} | {vs} | {arm} − {vs} | pairs {arm} / {vs} |", "| --- | --- | --- | --- | --- | --- |"]
    for r in t.itertuples(index=False):
        r = r._asdict()
        diff = paired_cell(r["delta"], r["ci_low"], r["ci_high"], r["p_better"])
        lines.append(f"| {r['regime']} | {r['iteration']} | {r[arm]:.3f} | {r[vs]:.3f} | {diff} | "
                     f"{r[f'n_pairs_{arm}']:.1f} / {r[f'n_pairs_{vs}']:.1f} |")
    return "\n".join(lines) + "\n"


def lever_table(root: str | Path, regime: str, ref: str = "standard", arms: Sequence[str] = ("eva", "static"),
                metric: str = "full", n_boot: int = 2000) -> pd.DataFrame:
    """What one lever does to each arm: the arm's held-out score in ``regime`` minus the same arm's in ``ref``, per
    evaluated iteration t >= 1, paired by seed and held-out prompt (both regimes evaluate the same prompts from the
    same θ0), from the two regimes' digests (``REGIME_DIGESTS``, paths relative to ``root``). One row per arm and
    iteration: delta, 95% bootstrap CI, ``p_better`` (share of resamples in which ``regime`` is ahead), seeds.
    A regime without digests, or an arm missing from either, raises ValueError naming it."""
    from .digest import load_digests

    for name in (regime, ref):
        if name not in REGIME_DIGESTS:
            raise ValueError(f"regime {name!r} has no digests in git (regimes with digests: {list(REGIME_DIGESTS)})")
    got = {name: load_digests(Path(root) / REGIME_DIGESTS[name], arms=list(arms)) for name in (regime, ref)}
    frames = []
    for arm in arms:
        for name, by_arm in got.items():
            if arm not in by_arm:
                raise ValueError(f"regime {name!r}: no digest of arm {arm!r} in {REGIME_DIGESTS[name]}")
        d = paired_differences({regime: got[regime][arm], ref: got[ref][arm]}, arm=regime, baselines=[ref],
                               metric=metric, n_boot=n_boot)
        frames.append(d[d.iteration >= 1].assign(solver_arm=arm))
    out = pd.concat(frames, ignore_index=True)
    return out.rename(columns={"arm": "regime", "vs": "ref"})[
        ["solver_arm", "regime", "ref", "iteration", "metric", "delta", "ci_low", "ci_high", "p_better", "n_seeds"]]


def lever_markdown_table(table: pd.DataFrame) -> str:
    """``lever_table`` as the README's markdown: one row per iteration, one column per arm."""
    arms = list(dict.fromkeys(table.solver_arm))
    regime, ref = table.regime.iloc[0], table.ref.iloc[0]
    lines = ["| t | " + " | ".join(f"{a}: {regime} − {ref}" for a in arms) + " |",
             "| --- |" + " --- |" * len(arms)]
    for t in sorted(set(table.iteration)):
        cells = []
        for a in arms:
            r = table[(table.solver_arm == a) & (table.iteration == t)].iloc[0]
            cells.append(paired_cell(r.delta, r.ci_low, r.ci_high, r.p_better))
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def change_table(stores: Mapping[str, Sequence[RunStore | RunDigest]], arms: Sequence[str] = ("eva", "static"),
                 since: int = 1, metric: str = "full", n_boot: int = 2000, alpha: float = 0.05) -> pd.DataFrame:
    """How each arm's held-out score moves after iteration ``since``: per arm and evaluated iteration t > ``since``,
    the score of θ_t minus that of θ_since, paired by seed and held-out prompt; and, with two arms, the first arm's
    change minus the second's (a difference in differences: (a − b) at t minus (a − b) at ``since``), paired over
    the seeds both ran. Asks whether one arm holds its level while the other falls, which ``paired_differences`` at
    each t alone does not. One row per (``row``: an arm, or ``"a − b"``; iteration): delta, 95% bootstrap CI,
    ``p_up`` (share of resamples above 0), seeds. An arm missing from ``stores``, or ``since`` not evaluated in
    every run, raises ValueError naming it."""
    arms = list(arms)
    if not 1 <= len(arms) <= 2:
        raise ValueError(f"change_table: arms must name one or two arms, got {arms!r}")
    cells: dict[str, dict[int, pd.Series]] = {}  # arm -> seed -> score indexed by (iteration, prompt_id)
    for arm in arms:
        if arm not in stores or not stores[arm]:
            raise ValueError(f"change_table: no runs of arm {arm!r} (arms present: {list(stores)})")
        cells[arm] = {}
        for run in stores[arm]:
            c = _eval_cells(run, metric)
            if not (c.iteration == since).any():
                raise ValueError(f"change_table: arm {arm!r} seed {int(run.config.seed)} has no evaluation at "
                                 f"since={since} (evaluated: {sorted(set(int(t) for t in c.iteration))})")
            cells[arm][int(run.config.seed)] = c.set_index(["iteration", "prompt_id"]).score

    def change(x: pd.Series, t: int) -> pd.Series:
        if t not in x.index.get_level_values(0):
            return pd.Series(dtype=float)
        return (x.loc[t] - x.loc[since]).dropna()

    rows = []
    labels = arms + ([f"{arms[0]} − {arms[1]}"] if len(arms) == 2 else [])
    its = sorted({int(t) for a in arms for x in cells[a].values() for t in x.index.get_level_values(0) if t > since})
    for t in its:
        for label in labels:
            if label in cells:
                diffs = [change(x, t).to_numpy() for x in cells[label].values()]
            else:
                a, b = cells[arms[0]], cells[arms[1]]
                diffs = []
                for s in sorted(set(a) & set(b)):
                    ca, cb = change(a[s], t), change(b[s], t)
                    common = ca.index.intersection(cb.index)
                    diffs.append((ca.loc[common] - cb.loc[common]).to_numpy())
            diffs = [d for d in diffs if len(d)]
            if not diffs:
                continue
            mean, stats = _bootstrap(diffs, n_boot, seed=11 + t)
            lo, hi = _interval(stats, alpha)
            rows.append({"row": label, "since": since, "iteration": t, "metric": metric, "delta": mean,
                         "ci_low": lo, "ci_high": hi,
                         "p_up": float((stats > 0).mean()) if stats is not None else float("nan"),
                         "n_seeds": len(diffs)})
    return pd.DataFrame(rows, columns=["row", "since", "iteration", "metric", "delta", "ci_low", "ci_high", "p_up",
                                       "n_seeds"])


def _change_headers(labels: Sequence[str], since: int) -> str:
    """The column headers of ``change_table``'s rows: an arm's change, or the two arms' difference in changes."""
    return " | ".join(f"{r}: θ_t − θ_{since}" if "−" not in r else f"{r}: change since t = {since}" for r in labels)


def change_markdown_table(table: pd.DataFrame) -> str:
    """``change_table`` as the README's markdown: one row per iteration, one column per arm (and the difference)."""
    labels = list(dict.fromkeys(table.row))
    since = int(table.since.iloc[0])
    lines = ["| t | " + _change_headers(labels, since) + " |", "| --- |" + " --- |" * len(labels)]
    for t in sorted(set(table.iteration)):
        cells = []
        for r in labels:
            hit = table[(table.row == r) & (table.iteration == t)]
            cells.append(paired_cell(*hit[["delta", "ci_low", "ci_high", "p_up"]].iloc[0]) if len(hit) else "—")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


RegimeDigests = Mapping[str, str | Sequence[str]]  # a regime: its digest directory, or several of one design


def _regime_delta_matrices(root: str | Path, regimes: RegimeDigests | None, arm: str, vs: str, metric: str,
                           caller: str) -> tuple[dict[str, tuple[int, np.ndarray]], list[str]]:
    """Per regime with digests (``REGIME_DIGESTS`` by default; a regime may name several directories of one design,
    e.g. a grid and the seeds added to it later: ``merged_digests``): its last iteration both arms evaluated and the
    seeds × held-out prompts matrix of ``arm`` minus ``vs`` there (prompts in one sorted order shared by all
    regimes), and that prompt order. A regime missing an arm, or whose held-out prompts differ, is refused by name."""
    mats: dict[str, tuple[int, np.ndarray]] = {}
    prompts: list[str] | None = None
    for name, rel in (REGIME_DIGESTS if regimes is None else regimes).items():
        dirs = [Path(root) / d for d in ([rel] if isinstance(rel, (str, Path)) else rel)]
        runs = merged_digests(dirs, [arm, vs])
        missing = [a for a in (arm, vs) if not runs[a]]
        if missing:
            raise ValueError(f"regime {name!r}: no digests of {missing} under {', '.join(map(str, dirs))}")
        mine, theirs = _by_seed(runs[arm]), _by_seed(runs[vs])
        seeds = sorted(set(mine) & set(theirs))
        cells = {s: (_eval_cells(mine[s], metric), _eval_cells(theirs[s], metric)) for s in seeds}
        t = min(int(c.iteration.max()) for pair in cells.values() for c in pair)
        rows = []
        for s in seeds:
            x, y = (c[c.iteration == t].set_index("prompt_id").score for c in cells[s])
            ids = sorted(x.index)
            if prompts is None:
                prompts = ids
            if ids != prompts or sorted(y.index) != prompts:
                raise ValueError(f"regime {name!r}, seed {s}: its held-out prompts differ from the first regime's; "
                                 "a crossed bootstrap needs one prompt set")
            rows.append((x.loc[prompts] - y.loc[prompts]).to_numpy(float))
        mats[name] = (t, np.vstack(rows))
    if not mats:
        raise ValueError(f"{caller}: no regimes given")
    return mats, prompts or []


def _crossed_bootstrap(mats: Mapping[str, tuple[int, np.ndarray]], n_prompts: int, n_boot: int,
                       seed: int) -> np.ndarray:
    """``pooled_regime_delta``'s resamples of each regime's mean difference (n_boot × regimes): the held-out prompts
    drawn once per resample for every regime, each regime's seeds on their own."""
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, len(mats)))
    for b in range(n_boot):
        p_idx = rng.integers(0, n_prompts, n_prompts)
        for j, (_, d) in enumerate(mats.values()):
            per_seed = d[:, p_idx].mean(axis=1)
            boot[b, j] = per_seed[rng.integers(0, len(per_seed), len(per_seed))].mean()
    return boot


def pooled_regime_delta(root: str | Path, regimes: RegimeDigests | None = None, arm: str = "eva",
                        vs: str = "static", metric: str = "full", n_boot: int = 2000, alpha: float = 0.05,
                        seed: int = 0) -> pd.DataFrame:
    """``arm`` minus ``vs`` at each regime's last evaluated iteration (from its digests, ``REGIME_DIGESTS`` by
    default), paired by seed and held-out prompt, then their equal-weight mean over the regimes (row "pooled"): how
    large an average difference the designs tried, taken together, leave room for. A summary across designs that
    differ in recipe, set size and iterations, not a test of one design.

    The bootstrap resamples the held-out prompts once for every regime and seed (the same prompts serve all of them,
    so a prompt's effect is shared: crossed, a little wider than the nested CIs of ``paired_differences``) and each
    regime's seeds on their own. Columns: regime, iteration, n_seeds, delta, ci_low, ci_high, p_better (share of
    resamples with ``arm`` ahead). Regimes whose held-out prompts differ are refused by name."""
    mats, prompts = _regime_delta_matrices(root, regimes, arm, vs, metric, "pooled_regime_delta")
    boot = _crossed_bootstrap(mats, len(prompts), n_boot, seed)
    out = []
    points = [float(d.mean()) for _, d in mats.values()]
    for j, (name, (t, d)) in enumerate(mats.items()):
        lo, hi = _interval(boot[:, j], alpha)
        out.append({"regime": name, "iteration": t, "n_seeds": len(d), "delta": points[j], "ci_low": lo,
                    "ci_high": hi, "p_better": float((boot[:, j] > 0).mean())})
    pooled = boot.mean(axis=1)
    lo, hi = _interval(pooled, alpha)
    out.append({"regime": "pooled", "iteration": float("nan"), "n_seeds": sum(len(d) for _, d in mats.values()),
                "delta": float(np.mean(points)), "ci_low": lo, "ci_high": hi,
                "p_better": float((pooled > 0).mean())})
    return pd.DataFrame(out, columns=["regime", "iteration", "n_seeds", "delta", "ci_low", "ci_high", "p_better"])


def pooled_markdown_table(table: pd.DataFrame, arm: str = "eva", vs: str = "static") -> str:
    """``pooled_regime_delta`` as markdown: a row per regime (its last iteration, seeds, the paired difference with
    its crossed-bootstrap CI and share ahead), the pooled row last, in bold."""
    lines = [f"| regime | t | seeds | {arm} − {vs} |", "| --- | --- | --- | --- |"]
    for r in table.itertuples(index=False):
        cell = paired_cell(r.delta, r.ci_low, r.ci_high, r.p_better)
        t = "—" if not np.isfinite(r.iteration) else str(int(r.iteration))
        lines.append(f"| **{r.regime}** | {t} | {r.n_seeds} | **{cell}** |" if r.regime == "pooled"
                     else f"| {r.regime} | {t} | {r.n_seeds} | {cell} |")
    return "\n".join(lines) + "\n"


def seed_power(root: str | Path, ks: Sequence[int] = (3, 6, 12, 24), regimes: RegimeDigests | None = None,
               arm: str = "eva", vs: str = "static", metric: str = "full", n_boot: int = 4000, alpha: float = 0.05,
               power: float = 0.8, seed: int = 0) -> pd.DataFrame:
    """How many seeds a design would need: the projected 95% CI half-width of one design's ``arm`` − ``vs`` (paired
    by seed and held-out prompt, at its last iteration) with k seeds per arm, and the smallest true difference that
    CI would exclude 0 for with probability ``power`` (normal approximation: half-width × (z_{1−α/2} + z_power) /
    z_{1−α/2}).

    The spread comes from the regimes with digests (``REGIME_DIGESTS`` by default, via ``pooled_regime_delta``'s
    matrices): each regime's seed rows minus that regime's per-prompt mean (rescaled by sqrt(n/(n − 1)) for the
    centring), pooled, give the seed-to-seed variation; the pooled mean per-prompt difference gives the spread over
    prompts. Each bootstrap draw resamples the held-out prompts once for all k of the pooled seed rows it draws
    (crossed, as ``pooled_regime_delta``'s bootstrap; a little wider than the nested CIs of ``paired_differences``,
    which draw prompts within each seed). It assumes a new design's seeds vary as the pooled designs' did; a check
    is that k = 3 gives about the half-widths those designs measured (``observed_half_width`` in ``attrs``: the mean
    over the regimes of their half-widths in ``pooled_regime_delta``'s crossed bootstrap, from the same matrices).
    Columns: k, runs (2k), half_width, mde."""
    from statistics import NormalDist

    if any(int(k) < 1 for k in ks):
        raise ValueError(f"seed_power: every k must be >= 1 (got {list(ks)})")
    mats, prompts = _regime_delta_matrices(root, regimes, arm, vs, metric, "seed_power")
    small = [name for name, (_, d) in mats.items() if len(d) < 2]
    if small:
        raise ValueError(f"seed_power: regimes {small} have fewer than 2 seeds; a seed-to-seed spread needs 2")
    resid = np.vstack([(d - d.mean(axis=0)) * np.sqrt(len(d) / (len(d) - 1)) for _, d in mats.values()])
    profile = np.mean([d.mean(axis=0) for _, d in mats.values()], axis=0)
    rng = np.random.default_rng(seed)
    n_p = len(prompts)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    factor = (z + NormalDist().inv_cdf(power)) / z
    out = []
    for k in ks:
        est = np.empty(n_boot)
        for b in range(n_boot):
            p_idx = rng.integers(0, n_p, n_p)
            rows = resid[rng.integers(0, len(resid), int(k))][:, p_idx]
            est[b] = profile[p_idx].mean() + rows.mean()
        lo, hi = _interval(est, alpha)
        half = (hi - lo) / 2
        out.append({"k": int(k), "runs": 2 * int(k), "half_width": half, "mde": half * factor})
    table = pd.DataFrame(out, columns=["k", "runs", "half_width", "mde"])
    boot = _crossed_bootstrap(mats, n_p, 2000, seed)   # what the regimes measured, as pooled_regime_delta has it
    measured = [(hi - lo) / 2 for lo, hi in (_interval(col, alpha) for col in boot.T)]
    table.attrs.update(observed_half_width=float(np.mean(measured)), seed_rows=len(resid), regimes=list(mats),
                       power=power, alpha=alpha)
    return table


def seed_power_markdown_table(table: pd.DataFrame) -> str:
    """``seed_power`` as markdown: a row per k with the runs it takes (both arms), the projected 95% CI half-width
    and the smallest difference detected with the table's power."""
    pct = int(round(100 * table.attrs.get("power", 0.8)))
    lines = [f"| seeds per arm | runs | 95% CI half-width | smallest difference found {pct}% of the time |",
             "| --- | --- | --- | --- |"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.k} | {r.runs} | ±{r.half_width:.3f} | {r.mde:.3f} |")
    return "\n".join(lines) + "\n"


def regime_change_table(root: str | Path, regimes: Mapping[str, str] | None = None, since: int = 1,
                        metric: str = "full", n_boot: int = 2000) -> pd.DataFrame:
    """``change_table`` (eva and static, from ``since``) of every regime with digests (``REGIME_DIGESTS``, paths
    relative to ``root``) at its last evaluated iteration, one block of rows per regime (column ``regime``)."""
    from .digest import load_digests

    regimes = REGIME_DIGESTS if regimes is None else regimes
    if not regimes:
        raise ValueError("regime_change_table: no regimes given (regimes with digests: "
                         f"{list(REGIME_DIGESTS)})")
    frames = []
    for name, d in regimes.items():
        t = change_table(load_digests(Path(root) / d, arms=["eva", "static"]), since=since, metric=metric,
                         n_boot=n_boot)
        frames.append(t[t.iteration == t.iteration.max()].assign(regime=name))
    return pd.concat(frames, ignore_index=True)[["regime", *frames[0].columns[:-1]]]


def regime_change_markdown_table(table: pd.DataFrame) -> str:
    """``regime_change_table`` as the README's markdown: one row per regime."""
    since = int(table.since.iloc[0])
    labels = list(dict.fromkeys(table.row))
    lines = ["| regime | t | " + _change_headers(labels, since) + " |", "| --- | --- |" + " --- |" * len(labels)]
    for regime in dict.fromkeys(table.regime):
        part = table[table.regime == regime].set_index("row")
        cells = [paired_cell(*part.loc[r, ["delta", "ci_low", "ci_high", "p_up"]]) for r in labels]
        lines.append(f"| {regime} | {int(part.iteration.iloc[0])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# Issue 11's learning-rate / epochs lever was picked on the training set, never on the held-out prompts: static on the
# first 16 seed prompts, 3 iterations, under each recipe below (docs/experiments.md "A stronger recipe"). Does a
# recipe make the solver learn its fixed set, so that the set can saturate? Label -> digest directory (static,
# seeds 1-3).
RECIPE_PILOTS: dict[str, str] = {
    "lr 2e-5, 1 epoch (demo)": "data/digests/recipe_pilot/lr2e-5_ep1",
    "lr 1e-4, 1 epoch": "data/digests/recipe_pilot/lr1e-4_ep1",
    "lr 3e-4, 1 epoch": "data/digests/recipe_pilot/lr3e-4_ep1",
    "lr 1e-4, 3 epochs": "data/digests/recipe_pilot/lr1e-4_ep3",
}
RECIPE_QUANTITIES = ("pass_rate", "train_reward", "all_pass", "all_fail")
# Config fields that must agree between two pilots for their training sets to pair prompt by prompt.
_PILOT_SAME = ("mode", "prompt_set", "n_prompts", "n_responses", "max_new_tokens", "iterations")


def _pilot_cells(d: RunDigest, t: int, quantity: str) -> np.ndarray:
    """Per-prompt training-set values of one pilot run at iteration t: its pass rates (share of the N samples that
    satisfy every constraint) or a ``QUANTITIES`` cell; NaN where a prompt was not scored."""
    if quantity == "pass_rate":
        return np.asarray(d.pass_rates().get(t, np.empty(0)), dtype=float)
    return np.asarray(d.cells(t, quantity), dtype=float)


def recipe_pilot_table(root: str | Path, recipes: Mapping[str, str] | None = None, ref: str | None = None,
                       quantities: Sequence[str] = RECIPE_QUANTITIES, n_boot: int = 2000,
                       alpha: float = 0.05) -> pd.DataFrame:
    """How much each training recipe makes static learn its own fixed training set: per recipe, iteration and
    quantity (``RECIPE_QUANTITIES``: the training set's mean pass rate, mean reward, all-pass and all-fail shares,
    measured on the samples of θ_t before its round t), the mean over seeds with a 95% bootstrap CI over seeds and
    prompts, and the difference from ``ref`` (default: the first recipe) paired by seed and training prompt, with
    its CI. ``recipes``: label -> digest directory relative to ``root`` (``RECIPE_PILOTS``). The pilots must be
    static runs of one prompt set (so prompt k is the same prompt in every run); a pilot that is not raises
    ValueError naming the field that differs."""
    from .digest import load_digests

    recipes = dict(RECIPE_PILOTS if recipes is None else recipes)
    if not recipes:
        raise ValueError("recipe_pilot_table: no recipes")
    ref = next(iter(recipes)) if ref is None else ref
    if ref not in recipes:
        raise ValueError(f"ref={ref!r}: not one of the recipes {list(recipes)}")
    bad = [q for q in quantities if q not in RECIPE_QUANTITIES]
    if bad:
        raise ValueError(f"quantities {bad}: choose from {RECIPE_QUANTITIES}")
    runs: dict[str, dict[int, RunDigest]] = {}
    for label, rel in recipes.items():
        got = load_digests(Path(root) / rel, arms=["static"]).get("static", [])
        if not got:
            raise ValueError(f"recipe {label!r}: no static digest in {rel}")
        runs[label] = {int(d.config.seed): d for d in got}
    first = next(iter(runs[ref].values()))
    for label, by_seed in runs.items():
        for d in by_seed.values():
            for f in _PILOT_SAME:
                if getattr(d.config, f) != getattr(first.config, f):
                    raise ValueError(f"recipe {label!r} seed {d.config.seed}: {f}={getattr(d.config, f)!r}, but "
                                     f"{ref!r} has {getattr(first.config, f)!r}; the pilots must train static on "
                                     f"one prompt set")
    rows = []
    for label, by_seed in runs.items():
        cfg = next(iter(by_seed.values())).config
        its = sorted({t for d in by_seed.values() for t in d.pass_rates()})
        for t in its:
            for q in quantities:
                vals = {s: _pilot_cells(d, t, q) for s, d in by_seed.items()}
                cells = [c[np.isfinite(c)] for c in vals.values()]
                mean, stats = _bootstrap([c for c in cells if len(c)], n_boot, seed=t)
                lo, hi = _interval(stats, alpha)
                diffs = []
                for s, a in vals.items():
                    if s in runs[ref]:   # same prompt set and n_prompts (checked above): prompt k pairs with k
                        b = _pilot_cells(runs[ref][s], t, q)
                        keep = np.isfinite(a) & np.isfinite(b)
                        diffs.append(a[keep] - b[keep])
                dmean, dstats = _bootstrap([x for x in diffs if len(x)], n_boot, seed=7 + t)
                dlo, dhi = _interval(dstats, alpha)
                rows.append({"recipe": label, "ref": ref, "iteration": int(t), "quantity": q, "mean": mean,
                             "ci_low": lo, "ci_high": hi, "delta": dmean, "delta_low": dlo, "delta_high": dhi,
                             "p_better": float((dstats > 0).mean()) if dstats is not None else float("nan"),
                             "n_seeds": len(by_seed), "learning_rate": float(cfg.learning_rate),
                             "epochs": float(cfg.epochs)})
    return pd.DataFrame(rows)


def recipe_pilot_markdown_table(table: pd.DataFrame, quantity: str = "pass_rate") -> str:
    """``recipe_pilot_table`` as the README's markdown for one quantity: one row per recipe and iteration, the
    mean with its CI, then the difference from the reference recipe paired by seed and prompt, with the share of
    resamples in which the recipe is higher (blank for the reference itself, and at t = 0, where every recipe
    samples from the same θ0)."""
    t = table[table.quantity == quantity]
    if t.empty:
        raise ValueError(f"quantity={quantity!r}: not in the table (quantities: {sorted(set(table.quantity))})")
    ref = t.ref.iloc[0]
    lines = [f"| recipe | t | {quantity} | − {ref} |", "| --- | --- | --- | --- |"]
    for r in t.itertuples(index=False):
        diff = "" if r.recipe == ref or r.iteration == 0 else paired_cell(r.delta, r.delta_low, r.delta_high,
                                                                          r.p_better)
        lines.append(f"| {r.recipe} | {r.iteration} | {format_ci(r.mean, (r.ci_low, r.ci_high), signed=False)} | "
                     f"{diff} |")
    return "\n".join(lines) + "\n"


def write_results(path: str | Path, results: Mapping[str, Any]) -> Path:
    """Write the results JSON atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(results, indent=1, default=json_default, allow_nan=False))
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """A results JSON (``reproduce`` or ``reproduce-online``) with its tables (``RESULT_TABLES``,
    ``ONLINE_RESULT_TABLES``) as DataFrames (None -> NaN)."""
    return _with_frames(json.loads(Path(path).read_text()))


def _with_frames(out: dict[str, Any]) -> dict[str, Any]:
    for k in dict.fromkeys(RESULT_TABLES + ONLINE_RESULT_TABLES):
        if k in out:
            out[k] = pd.DataFrame(out[k]).fillna(value=np.nan).infer_objects()
    return out


def merged_digests(digest_dirs: Sequence[str | Path], arms: Sequence[str]) -> dict[str, list[RunDigest]]:
    """Each arm's digests from every directory (``load_digests``), pooled by seed (an arm found nowhere: an empty
    list); an (arm, seed) found in two directories raises ValueError naming both."""
    from .digest import load_digests

    pooled: dict[str, list[RunDigest]] = {a: [] for a in arms}
    where: dict[tuple[str, int], str] = {}
    for d in digest_dirs:
        for arm, runs in load_digests(d, arms=list(arms)).items():
            for r in runs:
                key = (arm, int(r.config.seed))
                if key in where:
                    raise ValueError(f"arm {arm!r} seed {key[1]}: a digest in both {where[key]} and {d}")
                where[key] = str(d)
                pooled[arm].append(r)
    return pooled


def pooled_results(digest_dirs: Sequence[str | Path], arms: Sequence[str], n_boot: int = 2000) -> dict[str, Any]:
    """One grid's results (``reproduction_results``, tables as DataFrames, as ``load_results`` gives them) over the
    runs of several digest directories of the same grid, e.g. seeds 1-3 of data/digests/reproduction and the fresh
    seeds of a replication: each arm's digests from every directory, pooled by seed. An (arm, seed) found in two
    directories, or an arm found in none, raises ValueError naming it."""
    pooled = merged_digests(digest_dirs, arms)
    empty = [a for a, runs in pooled.items() if not runs]
    if empty:
        raise ValueError(f"arms {empty}: no digest in {[str(d) for d in digest_dirs]}")
    return runs_results(pooled, n_boot=n_boot)


def runs_results(runs: Mapping[str, Sequence[RunStore | RunDigest]], n_boot: int = 2000) -> dict[str, Any]:
    """``reproduction_results`` of runs already loaded (e.g. a subset of ``merged_digests``' seeds), as
    ``load_results`` gives a results file: JSON-clean, tables as DataFrames."""
    res = reproduction_results(runs, n_boot=n_boot)
    return _with_frames(json.loads(json.dumps(res, default=json_default, allow_nan=False)))


# --------------------------------------------------------------------------------------------------
# Online: eva against the same trainer on the seed stream only
# --------------------------------------------------------------------------------------------------

# Each online arm: the config fields it sets on the base config (the seed stream differs by its cadence instead)
ONLINE_ARM_FIELDS: dict[str, dict[str, Any]] = {
    "online-eva": {},
    "online-seed": {},
    "online-eva+dynamic": {"dynamic_sampling": True},   # DAPO's dynamic sampling (issue 15)
    "online-thompson": {"sampling": "thompson"},        # MoPPS before each generation batch (issue 15)
    "online-greso": {"skip": "greso"},                  # GRESO before each generation batch (issue 15)
}
ONLINE_ARMS = tuple(ONLINE_ARM_FIELDS)


def online_arm_config(base: EvaConfig, arm: str) -> EvaConfig:
    """The config an online arm runs: ``base`` with the arm's fields (``ONLINE_ARM_FIELDS``); ValueError naming an
    unknown arm."""
    if arm not in ONLINE_ARM_FIELDS:
        raise ValueError(f"arm={arm!r}: choose among {ONLINE_ARMS}")
    return base.replace(**{"dynamic_sampling": False, **ONLINE_ARM_FIELDS[arm]})


def run_online_arms(base: EvaConfig, seeds: Sequence[int], root: str | Path, *, steps: int = 8,
                    evolve_every: int = 2, trainer: str = "grpo", progress: bool = True,
                    seed_prompts: Sequence[Any] | None = None, run_fn: Callable[..., Any] | None = None,
                    arms: Sequence[str] = ONLINE_ARMS[:2], wall: dict[str, dict[str, float]] | None = None,
                    prune: bool = False, **kw: Any) -> dict[str, list[Path]]:
    """Online arms, same trainer, steps, seeds and checkpoint cadence, each seed in ``root/<arm>/seed<k>``;
    resumable like any online run:

    - ``online-eva``: an evolution event every ``evolve_every`` steps;
    - ``online-seed``: ``evolve_every = steps + 1``, so no event fires and the trainer samples the seed prompts only;
    - ``online-eva+dynamic`` (issue 15): online eva with DAPO's dynamic sampling (``dynamic_sampling=True``, GRPO and
      RLOO): zero-spread groups dropped and refilled, up to ``base.max_resample`` rounds; its cost is the run's
      ``dynamic_sampling.parquet`` (``extra_completions``);
    - ``online-thompson`` / ``online-greso`` (issue 15): online eva whose generation batches are chosen before
      sampling by MoPPS's Thompson draw / GRESO's skip (``evalab.online.PoolPredictor``); its record is the run's
      ``prediction.parquet`` (``rollouts_declined``, ``groups_skipped`` in the summary).

    ``seed_prompts`` (default ``base.prompt_set``) and ``kw`` go to ``online.run_online_eva``, which ``run_fn``
    replaces. Fills ``wall`` ({arm: {seed: seconds of this call}}) when given. ``prune`` (with
    ``save_model=True``): as each run finishes, delete its trainer checkpoints (``online.prune_online_run``); a
    pruned run is final, and a rerun skips it after checking that its summary has the same trainer, steps and
    cadence. Between runs the freed heap is handed back (``loop.release_memory``), so a process that runs several
    runs in a row does not carry one run's memory into the next. Returns {arm: [run_dir per seed]}."""
    from . import loop  # loop.release_memory looked up at each call: benchmarks/bench_memory.py swaps it

    if run_fn is None:
        from .online import run_online_eva as run_fn
    if steps < 1 or evolve_every < 1:
        raise ValueError(f"steps={steps}, evolve_every={evolve_every}: each must be >= 1")
    bad = [a for a in arms if a not in ONLINE_ARMS]
    if bad or not arms:
        raise ValueError(f"arms={list(arms)}: choose among {ONLINE_ARMS}")
    checkpoint_every = kw.pop("checkpoint_every", evolve_every)  # the same cadence in every arm
    if seed_prompts is not None:
        kw["seeds"] = list(seed_prompts)
    out: dict[str, list[Path]] = {a: [] for a in arms}
    for arm in arms:
        every = steps + 1 if arm == "online-seed" else evolve_every
        cfg = online_arm_config(base, arm)
        for s in seeds:
            run_dir = Path(root) / arm / f"seed{s}"
            t0 = time.time()
            if (run_dir / "_trainer" / PRUNED).exists():  # finished and pruned: nothing to resume, nothing to do
                _check_pruned_online_run(run_dir, trainer=trainer, steps=steps, evolve_every=every)
                out[arm].append(run_dir)
                continue
            try:
                run_fn(cfg.replace(seed=int(s), run_dir=str(run_dir)), trainer=trainer, steps=steps,
                       evolve_every=every, checkpoint_every=checkpoint_every, progress=progress, **kw)
            except RunLocked as e:  # another lane is on it: leave it to that process
                print(f"[evalab] online arm={arm} seed={s}: {e}; left to it", flush=True)
                continue
            # The run's result (its trainer, model, reference model, optimizer state) is dropped here: return the
            # heap before the next run, or each run starts on the last one's ~2.4 GB (ci profile; measured with
            # benchmarks/bench_memory.py --online --compare).
            loop.release_memory()
            if prune:
                from .online import prune_online_run

                rec = prune_online_run(run_dir)
                if progress and rec:
                    print(f"[evalab] online arm={arm} seed={s}: pruned {rec['bytes'] / 1e9:.1f} GB of trainer "
                          "checkpoints", flush=True)
            if wall is not None:
                wall.setdefault(arm, {})[str(s)] = round(time.time() - t0, 1)
            if progress:
                print(f"[evalab] online arm={arm} seed={s} done in {time.time() - t0:.1f}s", flush=True)
            out[arm].append(run_dir)
    return out


def _check_pruned_online_run(run_dir: Path, **expected: Any) -> None:
    """A pruned online run is reused only if it ran what is asked now (ValueError naming the difference)."""
    summ = json.loads((run_dir / "online_summary.json").read_text())
    diff = {k: (summ.get(k), v) for k, v in expected.items() if summ.get(k) != v}
    if diff:
        what = ", ".join(f"{k}: ran {a!r}, asked {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"{run_dir}: a finished, pruned online run with other settings ({what}); use another root, "
                         "or delete it to train again")


def online_curves(runs: Mapping[str, Sequence[str | Path]], n_boot: int = 1000, alpha: float = 0.05) -> pd.DataFrame:
    """Per arm and optimizer step: the mean reward of the scored groups (``reward``) and the share of groups
    with zero reward spread (``zero_spread``), from each run's ``groups.parquet``, with a bootstrap CI over
    seeds and groups. One row per (arm, step, quantity)."""
    from .online import SPREAD_TOL

    rows = []
    for arm, dirs in runs.items():
        frames = []
        for d in dirs:
            p = Path(d) / "groups.parquet"
            if not p.exists():
                raise FileNotFoundError(f"{p}: no scored groups (is {d} a finished online run?)")
            frames.append(pd.read_parquet(p))
        steps = sorted({int(s) for f in frames for s in f["step"]})
        for step in steps:
            at = [f[f["step"] == step] for f in frames]
            for q in ("reward", "zero_spread"):
                cells = [(g["reward_mean"].dropna() if q == "reward" else (g["spread"] <= SPREAD_TOL).astype(float)
                          ).to_numpy(float) for g in at]
                cells = [c for c in cells if len(c)]
                if not cells:
                    continue
                mean, stats = _bootstrap(cells, n_boot, seed=step)
                lo, hi = _interval(stats, alpha)
                rows.append({"arm": arm, "step": step, "quantity": q, "mean": mean, "ci_low": lo, "ci_high": hi,
                             "n_seeds": len(cells)})
    return pd.DataFrame(rows, columns=["arm", "step", "quantity", "mean", "ci_low", "ci_high", "n_seeds"])


# The final policy's held-out report is iteration 1 of an online run's store (θ0's is iteration 0), in the offline
# loop's eval.json format, so paired_differences and iteration_curves read online runs as they read offline ones.
ONLINE_FINAL = 1


def evaluate_online_runs(runs: Mapping[str, Sequence[str | Path]], *, progress: bool = True,
                         backend_factory: Callable[[str], Any] | None = None) -> dict[str, list[RunStore]]:
    """Held-out greedy evaluation of online runs (``run_online_arms`` with ``save_model=True``): θ0 (the run's
    ``solver``) as iteration 0 and the final policy (``<run_dir>/model``) as iteration ``ONLINE_FINAL`` of each
    run's store (``iter_<t>/eval.json``, the offline loop's format, with the optimizer ``step`` it was taken at).
    θ0 is decoded once and copied into the other runs with the same evaluation settings
    (``ablation._share_initial_eval``: ``INITIAL_EVAL_FIELDS`` equal; marked ``shared_from``). A stored report is kept, so a rerun only evaluates
    what is missing. ``backend_factory(path)`` replaces ``generation.make_backend`` (tests). Returns
    {arm: [RunStore per run]}."""
    from .ablation import _share_initial_eval
    from .evaluation import heldout_report
    from .loop import release_memory, solver_backend, stage_seed
    from .prompts import load_prompts

    def evaluate(store: RunStore, t: int, path: str) -> dict[str, Any]:
        cfg = store.config
        prompts = load_prompts(cfg.eval_set, cfg.n_eval)
        b = backend_factory(path) if backend_factory is not None else solver_backend(cfg, path)
        try:
            return heldout_report(b, prompts, max_new_tokens=cfg.eval_max_new_tokens,
                                  seed=stage_seed(cfg.seed, t, "eval"), solver=path, iteration=t, progress=progress)
        finally:
            del b
            release_memory()

    donors: list[tuple[EvaConfig, RunStore]] = []  # runs holding θ0's report, copied when the eval is the same
    out: dict[str, list[RunStore]] = {}
    for arm, dirs in runs.items():
        out[arm] = []
        for d in dirs:
            d = Path(d)
            summary = d / "online_summary.json"
            if not summary.exists():
                raise FileNotFoundError(f"{summary}: not a finished online run (arm {arm}); run it first")
            store = RunStore(d)
            cfg = store.config
            _share_initial_eval(store, cfg, donors)
            if not store.has(0, "eval"):
                t0 = time.time()
                store.write_json(0, "eval", evaluate(store, 0, cfg.solver))
                store.log_event("online_eval", iteration=0, seconds=round(time.time() - t0, 3))
            donors.append((cfg, store))
            if not store.has(ONLINE_FINAL, "eval"):
                model = d / "model"
                if not (model / "config.json").exists():
                    raise FileNotFoundError(f"{model}: the run kept no final policy; rerun the arm with "
                                            "save_model=True (run_online_arms passes it for reproduce-online)")
                t0 = time.time()
                report = evaluate(store, ONLINE_FINAL, str(model))
                report["step"] = int(json.loads(summary.read_text())["steps"])
                store.write_json(ONLINE_FINAL, "eval", report)
                store.log_event("online_eval", iteration=ONLINE_FINAL, seconds=round(time.time() - t0, 3))
            if progress:
                ev = store.read_json(ONLINE_FINAL, "eval")
                print(f"[evalab] online eval arm={arm} seed={cfg.seed}: held-out full "
                      f"{store.read_json(0, 'eval')['full_rate']:.3f} -> {ev['full_rate']:.3f}", flush=True)
            out[arm].append(store)
    return out


def online_per_seed_rows(stores: Mapping[str, Sequence[RunStore]]) -> pd.DataFrame:
    """One row per (arm, seed) of evaluated online runs: held-out fully-satisfied and constraint rates of θ0 and
    the final policy, the mean reward and zero-spread share over every scored group, the share of groups drawn
    from evolved prompts, rollouts scored (groups × N), dynamic sampling's extra completions (0 without it),
    prediction's declined candidates × N and GRESO's skips (0 without a predictor), evolution events, pool size and
    the trainer's runtime."""
    from .online import SPREAD_TOL

    rows = []
    for arm, runs in stores.items():
        for st in runs:
            summ = json.loads((st.root / "online_summary.json").read_text())
            g = pd.read_parquet(st.root / "groups.parquet")
            e0 = st.read_json(0, "eval") if st.has(0, "eval") else {}
            e1 = st.read_json(ONLINE_FINAL, "eval") if st.has(ONLINE_FINAL, "eval") else {}
            nan = float("nan")
            rows.append({
                "arm": arm, "seed": int(st.config.seed), "steps": int(summ["steps"]),
                "heldout_full_0": e0.get("full_rate", nan), "heldout_full": e1.get("full_rate", nan),
                "heldout_frac_0": e0.get("constraint_rate", nan), "heldout_frac": e1.get("constraint_rate", nan),
                "reward_mean": float(g["reward_mean"].mean()) if len(g) else nan,
                "zero_spread": float((g["spread"] <= SPREAD_TOL).mean()) if len(g) else nan,
                "evolved_share": float(g["evolved"].mean()) if len(g) and "evolved" in g else nan,
                "rollouts": int(summ["groups_scored"]) * int(summ["num_generations"]),
                "extra_completions": float((summ.get("dynamic_sampling") or {}).get("extra_completions", 0.0)),
                "rollouts_declined": float((summ.get("prediction") or {}).get("rollouts_declined", 0.0)),
                "groups_skipped": float((summ.get("prediction") or {}).get("groups_skipped", 0.0)),
                "n_events": int(summ["n_events"]), "pool_size": int(summ["pool_size"]),
                "pool_evolved": int(summ.get("pool_evolved", 0)), "train_runtime_s": summ.get("train_runtime", nan),
            })
    return pd.DataFrame(rows)


def online_results(runs: Mapping[str, Sequence[str | Path]], stores: Mapping[str, Sequence[RunStore]], *,
                   settings: Mapping[str, Any] | None = None, base: EvaConfig | None = None,
                   wall: Mapping[str, Any] | None = None, command: str = "", n_boot: int = 1000) -> dict[str, Any]:
    """Everything the online comparison reports, JSON-ready: the trainer settings (same for every arm), per-seed
    rows (``online_per_seed_rows``), reward and zero-spread curves per step (``online_curves``), the held-out
    curves (iteration 0 = θ0, ``ONLINE_FINAL`` = the final policy; ``iteration_curves``), the paired held-out
    differences (online eva minus the other arms, each arm minus the seed stream; by seed and prompt) and wall
    time ({arm: {seed: seconds}})."""
    names = list(stores)
    paired = paired_table(stores, n_boot=n_boot, arm="online-eva", baseline="online-seed")
    return {
        "command": command,
        "settings": dict(settings or {}),
        "base_config": base.to_dict() if base is not None else None,
        "arms": names,
        "seeds": sorted({int(st.config.seed) for rs in stores.values() for st in rs}),
        "per_seed": json_records(online_per_seed_rows(stores)),
        "curves": json_records(online_curves(runs, n_boot=n_boot)),
        "heldout": json_records(iteration_curves(stores, quantities=("heldout_full", "heldout_frac"), n_boot=n_boot,
                                                 iterations=(0, ONLINE_FINAL))),
        "paired": json_records(paired),
        "wall_s": dict(wall or {}),
        "manifests": run_manifests(stores),
    }


def online_summary_table(results: Mapping[str, Any], metric: str = "full") -> pd.DataFrame:
    """One row per arm of an online results file (``load_results``): the final policy's held-out score (95% CI),
    its paired difference with the seed stream (``online-seed``) and with online eva, and, mean over seeds, the
    reward and zero-spread share of the trainer's groups, rollouts scored and dynamic sampling's extra
    completions."""
    heldout, paired, ps = results["heldout"], results["paired"], results["per_seed"]
    q = "heldout_full" if metric == "full" else "heldout_frac"
    rows = []
    for arm in results["arms"]:
        h = heldout[(heldout.arm == arm) & (heldout.quantity == q) & (heldout.iteration == ONLINE_FINAL)]
        if not len(h):
            continue
        row: dict[str, Any] = {"arm": arm, "n_seeds": int(h.n_seeds.item()), "heldout": h["mean"].item(),
                               "heldout_ci": (h.ci_low.item(), h.ci_high.item())}
        for ref, col in (("online-seed", "minus_seed"), ("online-eva", "minus_eva")):
            d, lo, hi = paired_delta(paired, arm, ref, metric, ONLINE_FINAL)
            row[col], row[f"{col}_ci"] = d, (lo, hi)
        mine = ps[ps.arm == arm]
        for col in ("reward_mean", "zero_spread", "evolved_share", "rollouts", "extra_completions",
                    "rollouts_declined", "groups_skipped", "train_runtime_s"):
            row[col] = float(mine[col].mean()) if col in mine and mine[col].notna().any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def paired_cell(delta: float, ci_low: float, ci_high: float, p_better: float) -> str:
    """A paired difference as a README table cell: ``+0.017 [−0.031, +0.072] (0.71)``, typographic minus signs,
    the share of bootstrap resamples ahead in parentheses."""
    return format_ci(delta, (ci_low, ci_high)).replace("-", "−") + f" ({p_better:.2f})"


def format_ci(v: float, ci: Sequence[float], signed: bool = True) -> str:
    """``v [low, high]`` with three decimals ("—" for NaN); ``signed``: with a sign, and no "-0.000"."""
    if not np.isfinite(v):
        return "—"
    z = 0.0  # adding +0.0 turns a -0.0 into 0.0
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(v + z)} [{f.format(ci[0] + z)}, {f.format(ci[1] + z)}]"


def online_markdown_table(results: Mapping[str, Any], metric: str = "full", ref: str = "online-seed") -> str:
    """The README's online table of a results file (``load_results`` of reproduce-online's output), as markdown:
    per arm, the held-out score of θ0 and of the final policy (mean over seeds, 95% CI), the final policy minus
    ``ref``'s (the seed stream by default), paired by seed and prompt (95% CI; in parentheses the share of
    bootstrap resamples in which the arm is ahead), and, mean over seeds, the trainer groups' reward and
    zero-spread share, the share of groups drawn from evolved prompts and dynamic sampling's extra completions;
    when an arm predicted before sampling, also the rollouts its predictor declined and GRESO's skips. Minus
    signs are "−"."""
    heldout, paired = results["heldout"], results["paired"]
    q = "heldout_full" if metric == "full" else "heldout_frac"
    table = online_summary_table(results, metric=metric).set_index("arm")
    predicted = "rollouts_declined" in table and bool((table.rollouts_declined.fillna(0) > 0).any())
    head = ["arm", "θ0", "final", f"− {ref}", "reward", "zero-spread", "evolved share", "extra completions"]
    head += ["declined", "GRESO skips"] if predicted else []
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " --- |" * (len(head) - 1)]
    for arm in table.index:
        r = table.loc[arm]
        h0 = heldout[(heldout.arm == arm) & (heldout.quantity == q) & (heldout.iteration == 0)]
        cells = [format_ci(h0["mean"].item(), (h0.ci_low.item(), h0.ci_high.item()), signed=False) if len(h0)
                 else "—", format_ci(r.heldout, r.heldout_ci, signed=False)]
        d, lo, hi, ahead = paired_ahead(paired, arm, ref, metric, ONLINE_FINAL)
        cells.append(format_ci(d, (lo, hi)) + f" ({ahead:.2f})" if np.isfinite(d) else "—")
        cells += [f"{r[c]:.3f}" if np.isfinite(r[c]) else "—" for c in ("reward_mean", "zero_spread", "evolved_share")]
        cols = ("extra_completions", "rollouts_declined", "groups_skipped") if predicted else ("extra_completions",)
        cells += [f"{r[c]:.0f}" if np.isfinite(r[c]) else "—" for c in cols]
        lines.append(f"| {arm} | " + " | ".join(c.replace("-", "−") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def online_results_text(results: Mapping[str, Any], *, drop: Sequence[str] = ()) -> str:
    """What notebook 05 prints for an online results file (``load_results``): the command that wrote it, the
    trainer settings, the seeds, the trainers' runtime summed over runs (``train_runtime_s``; the writing call's
    own wall time covers only what it ran, seconds when it rebuilt the file from finished runs), then
    ``online_summary_view`` without the columns in ``drop``."""
    settings = {k: results["settings"][k] for k in ("trainer", "steps", "evolve_every", "prompts_per_step")
                if k in results["settings"]}
    view = online_summary_view(online_summary_table(results)).drop(columns=list(drop))
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        table = view.to_string(index=False)
    train = float(results["per_seed"]["train_runtime_s"].sum())
    return (f"{results['command']}\n{settings} seeds {results['seeds']}, training {train / 60:.0f} min summed over "
            f"runs (this file written in {results.get('total_wall_s', float('nan')) / 60:.0f} min)\n{table}")


def online_summary_view(table: pd.DataFrame) -> pd.DataFrame:
    """``online_summary_table`` for reading: each value with its CI as one string, the rest rounded."""
    if table.empty:
        return table
    view = table.assign(heldout=[format_ci(v, ci, signed=False) for v, ci in zip(table.heldout, table.heldout_ci)],
                        **{c: [format_ci(v, ci) for v, ci in zip(table[c], table[f"{c}_ci"])]
                           for c in ("minus_seed", "minus_eva")})
    cols = ["arm", "n_seeds", "heldout", "minus_seed", "minus_eva", "reward_mean", "zero_spread", "evolved_share",
            "rollouts", "extra_completions", "rollouts_declined", "groups_skipped", "train_runtime_s"]
    return view[cols].round(3)

