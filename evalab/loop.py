"""The eva loop: one iteration = eval → generate → reward → weigh → sample → evolve → mix → generate →
pairs → train, every stage a file in the run store, so a run killed at any moment resumes where it stopped.

    from evalab.config import profile_config
    from evalab.loop import EvaRun
    run = EvaRun(profile_config("ci", run_dir="runs/ci", iterations=2))
    run.creator_step(0)        # steps 1-5 of iteration 0 only (what notebook 01 shows)
    run.run()                  # everything left, resuming from the last finished stage
    run.summary()              # one row per iteration: held-out score, informativeness, acceptance, pairs, loss
                               # + all-fail/all-pass/mixed shares, solver tokens generated (evalab.breakdown)

Iteration t (solver θ_t = the configured solver for t = 0, else iteration t-1's checkpoint):

    eval            held-out score of θ_t                                     evaluate_solver
    responses       N samples of θ_t on every x in X_t, with rewards         generate_and_score   (step 1)
    weights         informativeness per prompt, all metrics                  weigh_prompts        (step 2)
    selected        the informative subset                                   select_informative   (step 3)
    evolved         creator variants, accepted or rejected with a reason     evolve_prompts       (step 4)
    next_prompts    X_{t+1} = evolved (80%) + buffer from X_t (20%)          next_prompt_set      (step 5)
    train_responses N samples of θ_t on X_{t+1}, with rewards                generate_and_score   (step 6)
    pairs           best-vs-worst preference pairs                           build_pairs
    checkpoint      θ_{t+1} = train(θ_t, pairs) through TRL                  train_preference

After the last iteration, iter_k holds X_k and the eval of θ_k. ``mode="static"`` is the baseline with
the same budget: no weights-driven selection and no creator; X_{t+1} = X_t.

The paper's protocol and controls (``round_of`` names each iteration's kind; ``summary()`` shows it as ``round``):

    warm-start round  ``warmup_round=True`` (paper profile): iteration 0 trains θ0 -> θ1 on X_0's own pairs
                      (the run's trainer, DPO by default; a static round: X_1 = X_0, step-1 samples reused);
                      eva's iterations are then 1..``iterations`` and the final eval is at iteration
                      ``iterations + 1``. Off in ci/demo, where θ0 is the embedded solver as shipped.
    mode="fresh"      the paper's "+ new human prompts": X_{t+1} = unseen prompts of ``pool_set`` (same count
                      as X_t, never a prompt of an earlier X), no selection, no creator      fresh_prompt_set
    mode="no_evolve"  the paper's "[no evolve]": iteration t trains on the informative subset of X_t
                      (``sampling`` greedy or weighted), with new samples of θ_t; X_{t+1} = X_t, so the next
                      iteration selects again under θ_{t+1}                                  informative_subset

Beyond eva (``evalab.curricula``, issue 15): ``sampling="thompson"`` (MoPPS) and ``skip="greso"`` (GRESO) decide
before step 1 which prompts of X_t are generated for (stage ``prediction``, written with ``responses``; the
summary's ``rollouts_saved``); ``frontier_band`` drops out-of-band evolved prompts before pairs (``frontier_*``
columns); ``novelty_max_rougeL`` rejects variants too close to X_t (reason ``not_novel``).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import inspect
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .breakdown import iteration_gen_tokens
from .config import METRICS, PREDICTIVE, EvaConfig
from .informativeness import all_metrics, as_reward_matrix, reward_stats, weights_from_values
from .prompts import Prompt, frame_to_prompts, load_prompts, prompts_to_frame
from .sampling import in_band, mix_next_set, sample_subset
from .store import RunStore

log = logging.getLogger("evalab.loop")

EVA_STAGES = ("eval", "responses", "weights", "selected", "evolved", "next_prompts", "train_responses", "pairs",
              "checkpoint")
MEAN_METRICS = ("avg", "inv_avg")  # metrics of a prompt's mean reward: the EMA replaces that mean when on
STATIC_STAGES = ("eval", "responses", "weights", "next_prompts", "train_responses", "pairs", "checkpoint")
NO_EVOLVE_STAGES = ("eval", "responses", "weights", "selected", "next_prompts", "train_responses", "pairs",
                    "checkpoint")
# each round kind's stages: the warm-start round is a static round on X_0; fresh prompts need no selection
ROUND_STAGES = {"eva": EVA_STAGES, "static": STATIC_STAGES, "fresh": STATIC_STAGES, "no_evolve": NO_EVOLVE_STAGES,
                "warmup": STATIC_STAGES}


def round_of(cfg: EvaConfig, t: int) -> str:
    """What iteration t of a run is: "warmup" (the warm-start round), the run's mode, or "final" (eval only)."""
    if t >= cfg.iterations + int(cfg.warmup_round):
        return "final"
    return "warmup" if cfg.warmup_round and t == 0 else cfg.mode


def solver_backend(cfg: EvaConfig, path: str) -> Any:
    """The generation backend ``cfg.backend`` of the solver weights at ``path``, with ``cfg.backend_kwargs``
    (the transformers backend batches ``cfg.gen_batch_size`` rows by default, vLLM is seeded with ``cfg.seed``)."""
    from .generation import make_backend

    kw = dict(cfg.backend_kwargs)
    if cfg.backend == "transformers":
        kw.setdefault("batch_size", cfg.gen_batch_size)
    else:
        kw.setdefault("seed", cfg.seed)
    return make_backend(cfg.backend, path, **kw)


def release_memory() -> None:
    """Collect garbage, then hand the freed heap back to the operating system (glibc's ``malloc_trim``; a no-op
    elsewhere). Called where a model is dropped (the loop's generation backend before training or when the solver
    changes, its trainer after training; the online runs' evaluation backend, ``evaluate_online_runs``): without the trim a freed model's pages stay in the process's RSS, which
    another grid lane or the tests on the same machine cannot use. ``benchmarks/bench_memory.py --compare``
    measures the difference."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def stage_seed(seed: int, t: int, stage: str) -> int:
    """A stable per-(iteration, stage) seed, so re-running one stage after a crash repeats it exactly."""
    return int(hashlib.sha256(f"{seed}:{t}:{stage}".encode()).hexdigest()[:8], 16)


# --------------------------------------------------------------------------------------------------
# The steps, as plain functions of their inputs (no store, no I/O): what a reader of the paper looks for.
# --------------------------------------------------------------------------------------------------

def generate_and_score(backend: Any, reward: Any, prompts: Sequence[Prompt], cfg: EvaConfig, seed: int,
                       progress: bool = True) -> pd.DataFrame:
    """Steps 1 / 6: N sampled responses per prompt and their rewards, one row per (prompt, sample).
    More than ``cfg.max_missing_reward`` unscored responses raise ``rewards.MissingRewardError`` (one line naming
    the reward and its first error) unless ``cfg.on_missing_reward="skip"``."""
    if not prompts:
        raise ValueError("empty prompt set: nothing to generate for")
    responses = backend.generate([p.text for p in prompts], n=cfg.n_responses, max_new_tokens=cfg.max_new_tokens,
                                 temperature=cfg.temperature, top_p=cfg.top_p, seed=seed, progress=progress)
    rewards = np.asarray(reward(prompts, responses), dtype=float)
    if rewards.shape != (len(prompts), cfg.n_responses):
        raise ValueError(f"reward {getattr(reward, 'name', reward)!r} returned shape {rewards.shape}; "
                         f"expected ({len(prompts)}, {cfg.n_responses})")
    as_reward_matrix(rewards, [p.id for p in prompts])  # inf -> ValueError naming the prompt
    if np.isnan(rewards).all():
        raise ValueError(f"reward {getattr(reward, 'name', reward)!r} scored none of the {rewards.size} responses "
                         "(all NaN): check the reward function and the prompts' constraints")
    if cfg.on_missing_reward == "stop":  # over max_missing_reward: one line, nothing written (the stage reruns)
        from .rewards import check_missing_rewards

        check_missing_rewards(reward, rewards, cfg.max_missing_reward)
    n_missing = int(np.isnan(rewards).sum())
    if n_missing:
        log.warning("reward %r left %d of %d responses unscored (NaN = missing)", getattr(reward, "name", reward),
                    n_missing, rewards.size)
    rows = [{"prompt_id": p.id, "sample": j, "response": responses[i][j], "reward": float(rewards[i, j])}
            for i, p in enumerate(prompts) for j in range(cfg.n_responses)]
    return pd.DataFrame(rows)


def reward_matrix(responses: pd.DataFrame, prompt_ids: Sequence[str], column: str = "reward") -> np.ndarray:
    """(n_prompts, N) rewards in the order of ``prompt_ids`` from a responses table (``column``: the reward, or
    a component of a composite reward, ``reward_<name>``)."""
    wide = responses.pivot(index="prompt_id", columns="sample", values=column)
    missing = [i for i in prompt_ids if i not in wide.index]
    if missing:
        raise ValueError(f"responses table has no rows for prompt(s) {missing[:3]}")
    return wide.loc[list(prompt_ids)].to_numpy(dtype=float)


def weigh_prompts(prompt_ids: Sequence[str], rewards: np.ndarray, metric: str,
                  reward_ema: np.ndarray | None = None) -> pd.DataFrame:
    """Step 2: informativeness of every prompt under every metric; ``weight`` is the run's metric and
    ``sampling_weight`` its mapping to weights >= 0 for step 3 (see ``evalab.informativeness``).
    ``reward_ema``: each prompt's EMA mean reward across iterations (``evalab.breakdown``), stored as a column
    and, for the metrics that read a mean (avg, inv_avg), the weight's input in place of this iteration's mean."""
    ms = all_metrics(rewards, prompt_ids)
    if metric not in ms:
        raise ValueError(f"metric {metric!r} is not a built-in metric; choose one of {METRICS}")
    weight, weight_input = ms[metric], rewards
    if reward_ema is not None and metric in MEAN_METRICS:
        from .informativeness import informativeness

        weight_input = np.asarray(reward_ema, dtype=float)[:, None]
        weight = informativeness(weight_input, metric=metric, prompt_ids=list(prompt_ids))
    df = pd.DataFrame({"prompt_id": list(prompt_ids), "weight": weight,
                       "sampling_weight": weights_from_values(weight, metric, weight_input)})
    for m in METRICS:
        df[m] = ms.get(m, np.full(len(prompt_ids), np.nan))
    for k, v in reward_stats(rewards).items():
        df[k] = v
    if reward_ema is not None:
        df["reward_ema"] = np.asarray(reward_ema, dtype=float)
    return df


def select_informative(weights: pd.DataFrame, fraction: float, strategy: str, seed: int,
                       band: tuple[float, float] = (0.2, 0.8)) -> pd.DataFrame:
    """Step 3: the informative subset (prompt_id, weight, rank in selection order); ``strategy="band"``
    adds reward_mean and in_band (False for the nearest out-of-band prompts taken when the band is short)."""
    col = "sampling_weight" if "sampling_weight" in weights else "weight"  # runs made before the mapping
    mean = weights["reward_mean"].to_numpy(float) if "reward_mean" in weights else None
    idx = sample_subset(weights[col].to_numpy(), fraction=fraction, strategy=strategy, seed=seed,
                        reward_mean=mean, band=band)
    sel = weights.iloc[idx][["prompt_id", "weight"]].reset_index(drop=True)
    sel["rank"] = np.arange(len(sel))
    if strategy == "band" and mean is not None:
        sel["reward_mean"] = mean[idx]
        sel["in_band"] = in_band(mean[idx], band)
        if not sel["in_band"].all():
            log.warning("sampling='band': only %d of %d selected prompts have a mean reward in [%g, %g]; the "
                        "rest are the nearest prompts outside the band", int(sel["in_band"].sum()), len(sel), *band)
    return sel


CREATOR_STATS = ("calls", "retries", "prompt_tokens", "completion_tokens", "seconds", "cost_usd")


def evolve_prompts(creator: Any, prompts: Sequence[Prompt], n_variants: int, iteration: int, seed: int,
                   progress: bool = True, existing: Sequence[str] = (), evolution: str | None = None,
                   quota: int = 0, max_rounds: int = 0, novelty_max_rougeL: float = 1.0,
                   ease: Sequence[str] = ()) -> pd.DataFrame:
    """Step 4: creator variants of every selected prompt, each accepted or rejected with a reason.

    ``existing``: texts already in the prompt set (a variant equal to one is rejected as a duplicate).
    ``evolution``: "chained" | "independent" (None: the creator's own scheme). ``quota`` > 0 (fill="quota"):
    while fewer than ``quota`` variants are accepted, ask the creator again (new seed, every earlier text
    counted as existing), at most ``max_rounds`` extra rounds; column ``round`` says which. The creator's
    accounting of every round, summed (calls, retries, tokens, wall seconds, USD), is ``df.attrs["creator"]``.
    ``novelty_max_rougeL`` < 1: accepted variants whose ROUGE-L F against ``existing`` or an earlier accepted
    variant exceeds it are rejected as ``not_novel`` (``evalab.curricula.novelty_reject``).
    ``ease``: ids of prompts whose constraint operators turn to "relax" (``creator_aim="frontier"``;
    ``aimed_at_frontier`` picks them); the creator must take ``ease=``.
    """
    from .creator import variants_to_frame

    kw: dict[str, Any] = {}
    if ease:
        if "ease" not in inspect.signature(creator.evolve).parameters:
            raise ValueError(f"creator_aim='frontier': creator {type(creator).__name__!r} takes no ease= argument "
                             "(use evalab's StructuredEvolver)")
        kw["ease"] = list(ease)
    if evolution is not None:
        if "evolution" in inspect.signature(creator.evolve).parameters:
            kw["evolution"] = evolution
        else:
            log.warning("creator %r takes no evolution= argument: its own scheme is used, not %r",
                        type(creator).__name__, evolution)
    seen = list(existing)
    frames: list[pd.DataFrame] = []
    totals = {k: 0.0 for k in CREATOR_STATS}
    n_accepted = 0
    for r in range(1 + max(0, int(max_rounds) if quota else 0)):
        if r and n_accepted >= quota:
            break
        variants = creator.evolve(prompts, n_variants, iteration=iteration, seed=seed if r == 0 else seed + 7919 * r,
                                  progress=progress, existing=seen, **kw)
        df = variants_to_frame(variants)
        if novelty_max_rougeL < 1.0:
            from .curricula import novelty_reject

            df = novelty_reject(df, seen, novelty_max_rougeL)
        df["round"] = r
        frames.append(df)
        stats = getattr(creator, "last_stats", None) or {}
        for k in CREATOR_STATS:
            totals[k] += float(stats.get(k, 0) or 0)
        n_accepted += int(df["accepted"].sum())
        seen += df.loc[df["accepted"], "text"].tolist()
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs["creator"] = {"rounds": len(frames), "quota": int(quota), **totals}
    return out


def aimed_at_frontier(weights: pd.DataFrame, chosen: Sequence[Prompt] | Sequence[str], aim_pass_rate: float
                      ) -> list[str]:
    """``creator_aim="frontier"``: the ids of the selected prompts (``chosen``: prompts or their ids) to ease, those
    whose step-1 pass rate (the weights table's ``pass_rate``) is below ``aim_pass_rate``; the others are evolved
    the paper's way (harder). ``reproduction.offspring_records`` reads a stored run's eased prompts with it."""
    if "pass_rate" not in weights:
        raise ValueError("creator_aim='frontier': the weights table has no pass_rate column (step 2 of an older "
                         "evalab); rerun the run's step 2")
    rate = dict(zip(weights["prompt_id"].astype(str), weights["pass_rate"].astype(float)))
    ids = [p if isinstance(p, str) else p.id for p in chosen]
    missing = [i for i in ids if i not in rate]
    if missing:
        raise ValueError(f"creator_aim='frontier': selected prompts without a step-1 pass rate: {missing[:3]}")
    return [i for i in ids if rate[i] < aim_pass_rate]


def next_prompt_set(current: Sequence[Prompt], evolved: pd.DataFrame, size: int, evolved_ratio: float,
                    seed: int, buffer_pool: Sequence[Prompt] | None = None,
                    buffer_weights: np.ndarray | None = None) -> tuple[list[Prompt], dict[str, Any]]:
    """Step 5: X_{t+1} = evolved prompts (``evolved_ratio``) + a buffer; returns (prompts, mix info).

    The buffer comes from ``buffer_pool`` (default X_t): uniformly, or the highest ``buffer_weights`` first
    (buffer="informative"). The info is the mix actually used: n_evolved, n_buffer, backfilled (buffer
    prompts standing in for missing evolved ones), target_evolved and evolved_share.
    """
    accepted = evolved[evolved["accepted"]] if len(evolved) else evolved
    evolved_prompts = [Prompt.from_dict(r) for r in accepted.to_dict(orient="records")] if len(accepted) else []
    pool = list(current) if buffer_pool is None else list(buffer_pool)
    mix = mix_next_set(len(evolved_prompts), len(pool), size, evolved_ratio, seed, buffer_weights=buffer_weights)
    out = [evolved_prompts[i] for i in mix.evolved] + [pool[i] for i in mix.buffer]
    info = {"n_evolved": int(mix.evolved.size), "n_buffer": int(mix.buffer.size), "backfilled": mix.backfilled,
            "target_evolved": int(round(size * evolved_ratio)),
            "evolved_share": float(mix.evolved.size / max(mix.size, 1))}
    return out, info


def same_prompt_set(current: Sequence[Prompt]) -> tuple[list[Prompt], dict[str, int]]:
    """Step 5 of the static baseline, the warm-start round and no_evolve: X_{t+1} = X_t."""
    return list(current), {"n_evolved": 0, "n_buffer": len(current), "backfilled": 0}


def fresh_prompt_set(pool: Sequence[Prompt], seen: Sequence[str], size: int, seed: int, *, pool_name: str = "pool"
                     ) -> tuple[list[Prompt], dict[str, int]]:
    """Step 5 of ``mode="fresh"`` (the paper's "+ new human prompts"): ``size`` prompts of ``pool`` whose text is
    not in ``seen`` (every prompt the run has used), drawn uniformly with ``seed``."""
    seen_set = set(seen)
    unseen = [p for p in pool if p.text not in seen_set]
    if len(unseen) < size:
        raise ValueError(f"EvaConfig.pool_set={pool_name!r}: only {len(unseen)} unseen prompts left, {size} needed "
                         "for the next fresh set; use a larger pool or fewer iterations")
    pick = np.random.default_rng(seed).permutation(len(unseen))[:size]
    return [unseen[int(i)] for i in sorted(pick)], {"n_fresh": size, "n_evolved": 0, "n_buffer": 0, "backfilled": 0}


def informative_subset(current: Sequence[Prompt], selected: pd.DataFrame) -> list[Prompt]:
    """Training prompts of ``mode="no_evolve"`` (the paper's "[no evolve]"): the informative subset of X_t that
    step 3 selected, in selection order, not evolved."""
    by_id = {p.id: p for p in current}
    return [by_id[i] for i in selected["prompt_id"]]


def predicted_subset(weights: pd.DataFrame, plan: pd.DataFrame, cfg: EvaConfig, seed: int) -> pd.DataFrame:
    """Step 3 after a prediction (``evalab.curricula``): sampling="thompson" takes every generated prompt, closest
    Thompson draw to target_pass_rate first; skip="greso" alone samples ``cfg.sampling`` among the generated
    prompts, k = ceil(subset_fraction · |X_t|) of them (as many parents as without skipping)."""
    from .sampling import subset_size

    plan = plan[plan.in_set.astype(bool)]
    if cfg.sampling in PREDICTIVE:
        chosen = plan[plan.chosen_rank >= 0].sort_values("chosen_rank")
        w = weights.set_index("prompt_id").loc[chosen.prompt_id]
        sel = pd.DataFrame({"prompt_id": chosen.prompt_id.tolist(), "weight": w["weight"].to_numpy(float),
                            "draw": chosen.draw.to_numpy(float)})
        sel["rank"] = np.arange(len(sel))
        return sel
    k = subset_size(len(plan), cfg.subset_fraction)
    return select_informative(weights, min(1.0, k / len(weights)), cfg.sampling, seed,
                              band=(cfg.band_low, cfg.band_high))


def frontier_filter(prompts: Sequence[Prompt], texts: list[list[Any]], rewards: np.ndarray, next_prompts: pd.DataFrame,
                    band: Sequence[float], pass_threshold: float
                    ) -> tuple[list[Prompt], list[list[Any]], np.ndarray, dict[str, Any]]:
    """The frontier check before pairs (``evalab.curricula.frontier_keep``): evolved prompts of X_{t+1} whose
    step-6 pass rate is outside ``band`` are dropped; returns the kept prompts, texts, rewards and
    frontier_n_evolved / frontier_n_dropped / frontier_drop_rate (dropped share of the evolved prompts)."""
    from .breakdown import pass_breakdown
    from .curricula import frontier_keep

    source = dict(zip(next_prompts["id"], next_prompts["source"])) if "source" in next_prompts else {}
    evolved = np.array([source.get(p.id) == "evolved" for p in prompts], dtype=bool)
    keep = frontier_keep(pass_breakdown(rewards, pass_threshold)["pass_rate"].to_numpy(), evolved, band)
    idx = np.flatnonzero(keep)
    n_ev, n_drop = int(evolved.sum()), int((~keep).sum())
    stats = {"frontier_n_evolved": n_ev, "frontier_n_dropped": n_drop,
             "frontier_drop_rate": n_drop / n_ev if n_ev else float("nan")}
    if n_drop:
        log.info("frontier_band %s: %d of %d evolved prompts outside the band give no pair", list(band), n_drop, n_ev)
    return [prompts[i] for i in idx], [texts[i] for i in idx], rewards[idx], stats


def informative_buffer_pool(store: RunStore, t: int) -> tuple[list[Prompt], np.ndarray]:
    """buffer="informative": every prompt of X_0..X_t that was weighed, with its latest sampling weight
    (so X_t's weights at least; a prompt weighed in several iterations counts with its newest weight)."""
    latest: dict[str, tuple[Prompt, float]] = {}
    for s in range(t + 1):
        if not (store.has(s, "weights") and store.has(s, "prompts")):
            continue
        w = store.read_table(s, "weights")
        col = "sampling_weight" if "sampling_weight" in w else "weight"
        by_id = dict(zip(w["prompt_id"], w[col].astype(float)))
        for p in frame_to_prompts(store.read_table(s, "prompts")):
            if p.id in by_id:
                latest[p.id] = (p, by_id[p.id])
    prompts = [p for p, _ in latest.values()]
    return prompts, np.array([w for _, w in latest.values()], dtype=float)


def annotate_responses(df: pd.DataFrame, prompts: Sequence[Prompt], backend: Any, reward: Any) -> pd.DataFrame:
    """Steps 1 / 6, recorded: ``n_tokens`` per response (``evalab.breakdown.count_tokens``) and, for a composite
    reward, each component as ``reward_<name>`` (``evalab.rewards.ConstraintReward.components``)."""
    from .breakdown import count_tokens
    from .rewards import reward_components

    df = df.copy()
    df["n_tokens"] = count_tokens(backend, df["response"].tolist())
    if reward_components(reward):
        n = int(df["sample"].max()) + 1 if len(df) else 0
        grid: list[list[str | None]] = [[None] * n for _ in prompts]
        pos = {p.id: i for i, p in enumerate(prompts)}
        for pid, j, text in zip(df.prompt_id, df["sample"], df.response):
            grid[pos[pid]][int(j)] = text if isinstance(text, str) else None
        comps = reward.components(prompts, grid)
        rows, cols = [pos[pid] for pid in df.prompt_id], df["sample"].astype(int).to_numpy()
        for name, m in comps.items():
            df[f"reward_{name}"] = m[rows, cols]
    return df


def informativeness_rewards(responses: pd.DataFrame, prompt_ids: Sequence[str], cfg: EvaConfig, t: int) -> np.ndarray:
    """The (P, N) rewards informativeness is computed on: ``cfg.informativeness_reward``'s component of a
    composite reward, else the reward itself (with a warning when the reward is composite)."""
    comps = sorted(c[len("reward_"):] for c in responses.columns if c.startswith("reward_"))
    name = cfg.informativeness_reward
    if name:
        if f"reward_{name}" not in responses:
            raise ValueError(f"EvaConfig.informativeness_reward={name!r}: the responses of iteration {t} have no "
                             f"component {name!r} (recorded components: {comps or 'none'})")
        return reward_matrix(responses, prompt_ids, f"reward_{name}")
    if comps:
        log.warning("iteration %d: reward %r is composite (components %s) and informativeness uses the composite; "
                    "set informativeness_reward to one component (e.g. 'full') to select on it", t, cfg.reward, comps)
    return reward_matrix(responses, prompt_ids)


# --------------------------------------------------------------------------------------------------
# The run: stage bookkeeping around the steps (store I/O, seeds, timing, resume).
# --------------------------------------------------------------------------------------------------

class EvaRun:
    """An eva run bound to a run directory. Components default to the config's; pass your own to swap
    any of them (a reward function, a creator, a generation backend factory ``f(model_path) -> backend``).
    """

    def __init__(self, cfg: EvaConfig, *, reward: Any = None, creator: Any = None,
                 backend_factory: Callable[[str], Any] | None = None, progress: bool = True):
        self.cfg = cfg
        self.store = RunStore(cfg.run_dir, cfg)
        self.progress = progress
        self._reward = reward
        self._creator = creator
        self._backend_factory = backend_factory
        self._backend: tuple[str, Any] | None = None
        self.stages = self.stages_of(int(cfg.warmup_round))  # the stages of the mode's iterations
        self._ensure_seed_prompts()
        if cfg.mode == "fresh":
            self._check_fresh_pool()

    # --- components (lazy: a finished run opens without loading any model) -----------------------
    @property
    def reward(self) -> Any:
        if self._reward is None:
            from .rewards import make_reward

            self._reward = make_reward(self.cfg.reward)
        return self._reward

    @property
    def creator(self) -> Any:
        if self._creator is None:
            from .creator import make_creator

            self._creator = make_creator(self.cfg)
        return self._creator

    def backend(self, t: int) -> Any:
        """Generation backend of the solver entering iteration t (one model in memory at a time)."""
        path = self.solver_path(t)
        if self._backend is None or self._backend[0] != path:
            self._backend = None
            release_memory()
            b = self._backend_factory(path) if self._backend_factory is not None else solver_backend(self.cfg, path)
            self._backend = (path, b)
        return self._backend[1]

    def solver_path(self, t: int) -> str:
        if t == 0:
            return self.cfg.solver
        return str(self._checkpoint(t - 1, "checkpoint", "solver"))

    def _checkpoint(self, t: int, stage: str, what: str) -> Path:
        """A finished, loadable checkpoint directory (FileNotFoundError naming it when missing or pruned)."""
        ck = self.store.path(t, stage)
        if not self.store.has(t, stage):
            raise FileNotFoundError(f"{what} checkpoint of iteration {t} is missing: {ck}")
        if self.store.is_pruned(t, stage):
            raise FileNotFoundError(f"{what} checkpoint of iteration {t} was pruned (RunStore.prune_checkpoints, "
                                    f"`python -m evalab prune`): {ck} keeps no weights; only the last checkpoint "
                                    "of a run is kept, so start a new run_dir to recompute this one")
        return ck

    # --- bookkeeping --------------------------------------------------------------------------------
    def _ensure_seed_prompts(self) -> None:
        if self.store.has(0, "prompts"):
            return
        prompts = load_prompts(self.cfg.prompt_set, self.cfg.n_prompts)
        df = prompts_to_frame(prompts)
        df["source"] = "seed"
        self.store.write_table(0, "prompts", df)
        self.store.log_event("run_created", n_prompts=len(prompts), prompt_set=self.cfg.prompt_set)

    def prompts(self, t: int) -> list[Prompt]:
        return frame_to_prompts(self.store.read_table(t, "prompts"))

    @property
    def n_rounds(self) -> int:
        """Training iterations of the run: eva's ``iterations``, plus the warm-start round when on."""
        return self.cfg.iterations + int(self.cfg.warmup_round)

    def stages_of(self, t: int) -> tuple[str, ...]:
        """The stages of iteration t (``ROUND_STAGES`` of ``round_of``; without eval when ``run_eval`` is off)."""
        stages = ROUND_STAGES[round_of(self.cfg, min(t, self.n_rounds - 1))]
        return stages if self.cfg.run_eval else tuple(s for s in stages if s != "eval")

    def training_prompts(self, t: int) -> list[Prompt]:
        """The prompts iteration t trains on: X_{t+1}, except in no_evolve (the informative subset of X_t)."""
        if round_of(self.cfg, t) == "no_evolve":
            return informative_subset(self.prompts(t), self.store.read_table(t, "selected"))
        return self.prompts(t + 1)

    def _pool(self) -> list[Prompt]:
        return load_prompts(self.cfg.pool_set)

    def _check_fresh_pool(self) -> None:
        """Fail at the start, not iterations later, when the pool cannot give every fresh set unseen prompts."""
        x0 = self.prompts(0)
        size = self.cfg.next_set_size or len(x0)
        seen = {p.text for p in x0}
        n_unseen = sum(p.text not in seen for p in self._pool())
        need = size * self.cfg.iterations
        if n_unseen < need:
            raise ValueError(f"EvaConfig.pool_set={self.cfg.pool_set!r}: {n_unseen} prompts not in X_0, but "
                             f"mode='fresh' with iterations={self.cfg.iterations} needs {need} ({size} per iteration)")

    def pending(self) -> list[tuple[int, str]]:
        """Every stage still to run, in order (the last iteration ends with the final eval)."""
        todo = []
        k = self.n_rounds
        for t in range(k):
            todo += [(t, s) for s in self.stages_of(t) if not self.store.has(t, s)]
        if self.cfg.run_eval and not self.store.has(k, "eval"):
            todo.append((k, "eval"))
        return todo

    def step(self) -> tuple[int, str] | None:
        """Run the next unfinished stage; returns (iteration, stage) or None when the run is complete."""
        todo = self.pending()
        if not todo:
            return None
        t, stage = todo[0]
        self.run_stage(t, stage)
        return t, stage

    def run(self, until: tuple[int, str] | None = None) -> pd.DataFrame:
        """Run every pending stage (or up to and including ``until``); returns ``summary()``."""
        todo = self.pending()
        for t, stage in todo:
            self.run_stage(t, stage)
            if until is not None and (t, stage) == until:
                break
        return self.summary()

    def creator_step(self, t: int = 0) -> pd.DataFrame:
        """Steps 1-5 of iteration t (generate, reward, weigh, sample, evolve, mix); returns X_{t+1}."""
        for stage in ("responses", "weights", "selected", "evolved", "next_prompts"):
            if stage in self.stages_of(t) and not self.store.has(t, stage):
                self.run_stage(t, stage)
        return self.store.read_table(t, "next_prompts")

    def run_stage(self, t: int, stage: str) -> None:
        if self.store.has(t, stage):
            return
        if not self.store.has(t, "prompts"):
            raise RuntimeError(f"iteration {t} has no prompt set yet: finish iteration {t - 1} first")
        if stage not in self.stages_of(t):
            raise ValueError(f"stage {stage!r} is not part of iteration {t} (a {round_of(self.cfg, t)!r} round: "
                             f"{', '.join(self.stages_of(t))})")
        t0 = time.time()
        self.store.log_event("stage_start", iteration=t, stage=stage)
        if self.progress:
            print(f"[evalab] iteration {t} · {stage} …", flush=True)
        getattr(self, f"_stage_{stage}")(t)
        dt = time.time() - t0
        self.store.log_event("stage_end", iteration=t, stage=stage, seconds=round(dt, 3))
        if self.progress:
            print(f"[evalab] iteration {t} · {stage} done in {dt:.1f}s", flush=True)

    # --- stages ---------------------------------------------------------------------------------------
    def _stage_eval(self, t: int) -> None:
        from .evaluation import heldout_report, judge_winrate

        prompts = load_prompts(self.cfg.eval_set, self.cfg.n_eval)
        report = heldout_report(self.backend(t), prompts, max_new_tokens=self.cfg.eval_max_new_tokens,
                                seed=stage_seed(self.cfg.seed, t, "eval"), solver=self.solver_path(t), iteration=t,
                                progress=self.progress)
        if self.cfg.judge and t > 0 and self.store.has(0, "eval"):
            base = self.store.read_json(0, "eval")["responses"]
            report["judge"] = judge_winrate(self.cfg.judge, prompts, report["responses"], base,
                                            max_invalid=self.cfg.max_invalid_verdicts)
        if self.cfg.eval_reference:  # judge-only, vs the run's fixed reference answers (open prompts too)
            from .evaluation import evaluate_against_reference

            ref = evaluate_against_reference(self.store, self.cfg, t, prompts, report["responses"])
            if ref is not None:
                report["reference"] = ref
        self.store.write_json(t, "eval", report)

    def _stage_responses(self, t: int) -> None:
        prompts = self.prompts(t)
        if self.predicts(t):
            prompts = self._predict_step1(t, prompts)
        df = generate_and_score(self.backend(t), self.reward, prompts, self.cfg,
                                stage_seed(self.cfg.seed, t, "responses"), self.progress)
        self.store.write_table(t, "responses", annotate_responses(df, prompts, self.backend(t), self.reward))

    def predicts(self, t: int) -> bool:
        """Step 1 of iteration t is chosen before sampling (sampling="thompson" / skip="greso"): rounds that select."""
        return self.cfg.predicts and "selected" in self.stages_of(t)

    def _predict_step1(self, t: int, prompts: list[Prompt]) -> list[Prompt]:
        """The prompts of X_t step 1 generates for (``evalab.curricula.plan_step1``); the state entering t and the
        plan are stored first as stage ``prediction`` (a rerun after a crash reads them back: the same plan)."""
        from .curricula import lineage_map, plan_step1, prediction_state, state_table

        state = prediction_state(self.store, self.cfg, t)
        lineage = {**(lineage_map(self.store, t - 1) if t > 0 else {}), **{p.id: p.parent_id for p in prompts}}
        plan = plan_step1(state, [p.id for p in prompts], lineage, self.cfg, stage_seed(self.cfg.seed, t, "prediction"))
        if not self.store.has(t, "prediction"):
            self.store.write_table(t, "prediction", state_table(state, plan))
        self.store.log_event("prediction", iteration=t, n_prompts=len(plan), n_generated=int(plan.generate.sum()),
                             n_skipped=int(plan.skipped.sum()), rollouts_saved=int(plan.rollouts_saved.sum()),
                             p_explore=float(state.p_explore))
        keep = set(plan.prompt_id[plan.generate])
        return [p for p in prompts if p.id in keep]

    def step1_prompts(self, t: int) -> list[Prompt]:
        """The prompts of X_t that step 1 generated for: all of X_t, except where a prediction skipped some."""
        prompts = self.prompts(t)
        if not self.store.has(t, "prediction"):
            return prompts
        plan = self.store.read_table(t, "prediction")
        plan = plan[plan.in_set.astype(bool)]
        keep = set(plan.prompt_id[plan.generate.astype(bool)])
        return [p for p in prompts if p.id in keep]

    def _stage_weights(self, t: int) -> None:
        from .breakdown import pass_breakdown

        prompts = self.step1_prompts(t)
        ids = [p.id for p in prompts]
        resp = self.store.read_table(t, "responses")
        r = reward_matrix(resp, ids)
        info = informativeness_rewards(resp, ids, self.cfg, t)
        ema = self._reward_ema(t, prompts, info) if self.cfg.ema > 0 else None
        w = weigh_prompts(ids, info, self.cfg.metric, reward_ema=ema)
        w = pd.concat([w, pass_breakdown(r, self.cfg.pass_threshold)], axis=1)
        self.store.write_table(t, "weights", w)
        frac_zero = float((w["a_min"] == 0).mean())
        self.store.log_event("informativeness", iteration=t, metric=self.cfg.metric, mean=float(w.weight.mean()),
                             frac_zero_a_min=frac_zero)
        if frac_zero == 1.0:
            log.warning("iteration %d: every prompt has zero reward spread (A*_min = 0): no prompt is informative "
                        "and no preference pair can be built; the subset is sampled uniformly", t)

    def _reward_ema(self, t: int, prompts: Sequence[Prompt], rewards: np.ndarray) -> np.ndarray:
        """EMA of each prompt's mean (informativeness) reward; prior: iteration t-1's EMA of the prompt or of its
        nearest weighed ancestor (a chained variant's parent is the previous evolution step)."""
        from .breakdown import reward_ema

        prev: dict[str, float] = {}
        if t > 0 and self.store.has(t - 1, "weights"):
            pw = self.store.read_table(t - 1, "weights")
            col = "reward_ema" if "reward_ema" in pw else "reward_mean"
            prev = {str(i): float(v) for i, v in zip(pw.prompt_id, pw[col])}
        lineage: dict[str, str] = {}  # a chained variant's parent is the previous step: walk up to a weighed ancestor
        if t > 0 and self.store.has(t - 1, "evolved"):
            ev = self.store.read_table(t - 1, "evolved")
            if "id" in ev and "parent_id" in ev:
                lineage = {str(i): str(q) for i, q in zip(ev["id"], ev["parent_id"]) if isinstance(q, str)}

        def weighed_ancestor(parent: str | None) -> str | None:
            seen: set[str] = set()
            while parent is not None and parent not in prev and parent not in seen:
                seen.add(parent)
                parent = lineage.get(parent)
            return parent

        means = reward_stats(rewards)["reward_mean"]
        return reward_ema([p.id for p in prompts], [weighed_ancestor(p.parent_id) for p in prompts], means, prev,
                          self.cfg.ema)

    def _stage_selected(self, t: int) -> None:
        w = self.store.read_table(t, "weights")
        if self.store.has(t, "prediction"):
            sel = predicted_subset(w, self.store.read_table(t, "prediction"), self.cfg,
                                   stage_seed(self.cfg.seed, t, "selected"))
        else:
            sel = select_informative(w, self.cfg.subset_fraction, self.cfg.sampling,
                                     stage_seed(self.cfg.seed, t, "selected"), band=(self.cfg.band_low, self.cfg.band_high))
        self.store.write_table(t, "selected", sel)

    def _stage_evolved(self, t: int) -> None:
        current = self.prompts(t)
        by_id = {p.id: p for p in current}
        chosen = [by_id[i] for i in self.store.read_table(t, "selected").prompt_id]
        quota = 0
        if self.cfg.fill == "quota":
            quota = round((self.cfg.next_set_size or len(current)) * self.cfg.evolved_ratio)
        creator = self.trained_creator(t, chosen) if self.cfg.creator_training == "grpo" else self.creator
        ease: list[str] = []
        if self.cfg.creator_aim == "frontier":
            ease = aimed_at_frontier(self.store.read_table(t, "weights"), chosen, self.cfg.aim_pass_rate)
        df = evolve_prompts(creator, chosen, self.cfg.n_variants, t + 1,
                            stage_seed(self.cfg.seed, t, "evolved"), self.progress,
                            existing=[p.text for p in current], evolution=self.cfg.evolution,
                            quota=quota, max_rounds=self.cfg.fill_max_rounds,
                            novelty_max_rougeL=self.cfg.novelty_max_rougeL, ease=ease)
        self.store.write_table(t, "evolved", df)  # df.attrs["creator"] (the accounting) travels in the parquet
        acc = int(df["accepted"].sum()) if len(df) else 0
        aim = ({"n_eased": len(ease), "n_hardened": len(chosen) - len(ease)}
               if self.cfg.creator_aim == "frontier" else {})
        self.store.log_event("creator", iteration=t, n_variants=len(df), n_accepted=acc, **aim,
                             reasons=df["reason"].value_counts().to_dict() if len(df) else {},
                             **df.attrs.get("creator", {}))

    def trained_creator(self, t: int, parents: Sequence[Prompt]) -> Any:
        """``creator_training="grpo"``: the creator of step 4 in iteration t, after ``cfg.creator_grpo_steps`` GRPO
        steps on this iteration's selected parents, rewarded by the solver entering iteration t (its N responses
        under the run's reward; :mod:`evalab.creator_training`), starting from iteration t-1's trained creator.
        Stored as ``creator_training.parquet`` (every proposal, its pass rate and reward) and
        ``creator_checkpoint/`` (kept: a resumed run reuses it); step 4 serves it as ``evalab/<checkpoint>``."""
        from .creator import make_creator
        from .creator_training import solver_scorer, train_creator_grpo

        ck = self.store.path(t, "creator_checkpoint")
        if not self.store.has(t, "creator_checkpoint"):
            start = str(self._checkpoint(t - 1, "creator_checkpoint", "creator")) if t > 0 and self.store.has(
                t - 1, "creator_checkpoint") else self.cfg.creator
            scorer = solver_scorer(self.backend(t), self.reward, self.cfg, stage_seed(self.cfg.seed, t, "creator"))
            work = self.store.scratch_dir(t, "creator_training")
            out = train_creator_grpo(self.cfg, scorer, parents, work, creator_model=start, progress=self.progress)
            rewards = out["rewards"].assign(iteration=t)
            self.store.write_table(t, "creator_training", rewards)
            from .store import atomic_dir

            with atomic_dir(ck) as tmp:
                shutil.copytree(out["checkpoint"], tmp, dirs_exist_ok=True)
                (tmp / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
            shutil.rmtree(work, ignore_errors=True)
            self.store.log_event("creator_training", iteration=t, seconds=round(out["seconds"], 3),
                                 seconds_per_step=round(out["seconds_per_step"], 3),
                                 reward_mean=float(rewards["reward"].mean()),
                                 valid_share=float(rewards["valid"].mean()))
        served = self._checkpoint(t, "creator_checkpoint", "creator")
        return make_creator(dataclasses.replace(self.cfg, creator=f"evalab/{served}"))

    def _stage_next_prompts(self, t: int) -> None:
        current = self.prompts(t)
        size = self.cfg.next_set_size or len(current)
        if round_of(self.cfg, t) != "eva":
            nxt, info, sources = self._control_next_set(t, current, size)
        else:
            evolved = self.store.read_table(t, "evolved")
            pool, pool_w = (informative_buffer_pool(self.store, t) if self.cfg.buffer == "informative"
                            else (None, None))
            nxt, info = next_prompt_set(current, evolved, size, self.cfg.evolved_ratio,
                                        stage_seed(self.cfg.seed, t, "next_prompts"), pool, pool_w)
            sources = ["evolved"] * info["n_evolved"] + ["buffer"] * info["n_buffer"]
            if info["backfilled"]:
                rounds = int(evolved["round"].max()) + 1 if "round" in evolved and len(evolved) else 1
                log.warning("iteration %d: only %d evolved prompts accepted (target %d%s); %d buffer prompts "
                            "back-fill X_%d (evolved share %.0f%%)", t, info["n_evolved"], info["target_evolved"],
                            f" after {rounds} creator rounds" if self.cfg.fill == "quota" else "",
                            info["backfilled"], t + 1, 100 * info["evolved_share"])
        df = prompts_to_frame(nxt)
        df["source"] = sources
        n_regular_buffer = len(df) - info["n_evolved"] - info["backfilled"]  # the first buffer rows are the planned ones
        df["backfill"] = [False] * (info["n_evolved"] + max(n_regular_buffer, 0)) + [True] * info["backfilled"]
        # iter_{t+1}/prompts first: if we die between the two writes, next_prompts is redone identically
        self.store.write_table(t + 1, "prompts", df)
        self.store.write_table(t, "next_prompts", df)
        self.store.log_event("next_set", iteration=t, **info)

    def _control_next_set(self, t: int, current: list[Prompt], size: int
                          ) -> tuple[list[Prompt], dict[str, int], list[str]]:
        """Step 5 of the warm-start round and the controls: (X_{t+1}, info, source per prompt)."""
        kind = round_of(self.cfg, t)
        if kind == "fresh":
            seen = [p.text for s in range(t + 1) for p in self.prompts(s)]
            nxt, info = fresh_prompt_set(self._pool(), seen, size, stage_seed(self.cfg.seed, t, "next_prompts"),
                                         pool_name=self.cfg.pool_set)
            return [dataclasses.replace(p, iteration=t + 1) for p in nxt], info, ["fresh"] * len(nxt)
        nxt, info = same_prompt_set(current)
        if kind == "no_evolve":
            info["n_train"] = len(self.store.read_table(t, "selected"))
        return nxt, info, ["seed" if p.operator == "seed" else "buffer" for p in nxt]

    def _stage_train_responses(self, t: int) -> None:
        if round_of(self.cfg, t) in ("static", "warmup"):  # X_{t+1} = X_t and the same solver: reuse step-1 samples
            self.store.write_table(t, "train_responses", self.store.read_table(t, "responses"))
            return
        prompts = self.training_prompts(t)
        df = generate_and_score(self.backend(t), self.reward, prompts, self.cfg,
                                stage_seed(self.cfg.seed, t, "train_responses"), self.progress)
        self.store.write_table(t, "train_responses", annotate_responses(df, prompts, self.backend(t), self.reward))

    def _stage_pairs(self, t: int) -> None:
        from .pairs import build_pairs

        prompts = self.training_prompts(t)
        resp = self.store.read_table(t, "train_responses")
        ids = [p.id for p in prompts]
        r = reward_matrix(resp, ids)
        texts = resp.pivot(index="prompt_id", columns="sample", values="response").loc[ids].values.tolist()
        frontier: dict[str, Any] = {}
        if self.cfg.frontier_band and self.store.has(t, "next_prompts") and round_of(self.cfg, t) == "eva":
            prompts, texts, r, frontier = frontier_filter(prompts, texts, r, self.store.read_table(t, "next_prompts"),
                                                          self.cfg.frontier_band, self.cfg.pass_threshold)
        pairs, stats = build_pairs(prompts, texts, r)
        if frontier:
            pairs.attrs["frontier"] = frontier
        if self.cfg.pairs_per_iteration:  # the equal training budget of a reproduction grid (evalab.pairs)
            from .pairs import budget_pairs

            pairs, budget = budget_pairs(pairs, self.cfg.pairs_per_iteration, stage_seed(self.cfg.seed, t, "pairs"))
            pairs.attrs["budget"] = budget
            stats = {**stats, **budget}
        self.store.write_table(t, "pairs", pairs)
        self.store.log_event("pairs", iteration=t, **stats, **frontier)

    def _stage_checkpoint(self, t: int) -> None:
        from .training import train_preference

        pairs = self.store.read_table(t, "pairs")
        solver = self.solver_path(t)
        ref = self.cfg.solver if self.cfg.ref_model == "initial" else solver
        self._backend = None  # free the generation model before training
        release_memory()
        with self.store.checkpoint_writer(t) as out:
            if len(pairs) == 0:
                log.warning("iteration %d: no preference pairs (no prompt had a reward spread); the solver is "
                            "carried over unchanged", t)
                _copy_solver(solver, out)
                history: list[dict[str, Any]] = []
            elif self.cfg.train_launcher:
                history = launch_training(self.cfg, solver, ref, pairs, out, self.store.scratch_dir(t, "trainer"))
                self._record_training(t, _read_json_file(out / "train_result.json"))
            else:
                res = train_preference(self.cfg, solver, pairs, out, ref_model_path=ref,
                                       work_dir=self.store.scratch_dir(t, "trainer"), progress=self.progress,
                                       save_steps=self.cfg.trainer_save_steps or None)
                history = res.get("log_history", [])
                self._record_training(t, res)
            self.store.write_table(t, "train_log", pd.DataFrame(history) if history else
                                   pd.DataFrame({"step": pd.Series(dtype=int), "loss": pd.Series(dtype=float)}))
        shutil.rmtree(self.store.iter_dir(t) / "_trainer", ignore_errors=True)
        release_memory()  # the trainer, its reference model and optimizer state are gone

    def _record_training(self, t: int, res: dict[str, Any]) -> None:
        """Where training resumed from (trainer checkpoint and its step, None for a fresh start), how many steps
        this process ran and the final global step: a resume continues (steps_run = global_step - step)."""
        ckpt = res.get("resumed_from")
        self.store.log_event("training", iteration=t, resumed_from=Path(ckpt).name if ckpt else None,
                             resumed_from_step=res.get("resumed_from_step"), steps_run=res.get("steps_run"),
                             global_step=res.get("global_step"))

    # --- results --------------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        return summarize(self.store)


def launch_training(cfg: EvaConfig, solver: str, ref: str, pairs: pd.DataFrame, out: Path, work: Path
                    ) -> list[dict[str, Any]]:
    """Step 6 on many GPUs: run ``scripts/train_pairs.py`` under ``cfg.train_launcher`` (e.g. ``accelerate
    launch --config_file configs/accelerate_zero3.yaml``) and return the trainer's log history."""
    import json
    import shlex
    import subprocess
    import sys

    from .prompts import REPO_ROOT

    script = REPO_ROOT / "scripts" / "train_pairs.py"
    if not script.exists():
        raise FileNotFoundError(f"train_launcher needs {script} (run from a checkout of evalab)")
    cfg_path, pairs_path = work / "launch_config.json", work / "launch_pairs.parquet"
    cfg.save(cfg_path)
    pairs.to_parquet(pairs_path, index=False)
    launcher = shlex.split(cfg.train_launcher)
    if launcher in (["python"], ["python3"]):
        launcher = [sys.executable]
    save = ["--save-steps", str(cfg.trainer_save_steps)] if cfg.trainer_save_steps else []
    cmd = launcher + [str(script), "--config", str(cfg_path), "--model", solver, "--ref-model", ref,
                      "--pairs", str(pairs_path), "--out", str(out), "--work-dir", str(work), "--no-progress"] + save
    log.info("launching training: %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"training under {cfg.train_launcher!r} failed with exit code {proc.returncode}: "
                           f"{' '.join(cmd)}")
    result = json.loads((out / "train_result.json").read_text())
    return list(result.get("log_history", []))


def _read_json_file(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text()) if path.exists() else {}


def _copy_solver(solver: str, out: Path) -> None:
    from .models import load_model

    model, tok = load_model(solver, device="cpu")
    model.save_pretrained(out)
    tok.save_pretrained(out)


def creator_accounting(evolved: pd.DataFrame) -> dict[str, float]:
    """Summary columns creator_calls, creator_retries, creator_prompt_tokens, creator_completion_tokens,
    creator_seconds (wall) and creator_cost_usd of one evolved stage (its ``attrs["creator"]``; runs made
    before the accounting have none: NaN)."""
    stats = evolved.attrs.get("creator") or {}
    return {f"creator_{k}": float(stats[k]) if k in stats else float("nan") for k in CREATOR_STATS}


def summarize(store: RunStore) -> pd.DataFrame:
    """One row per iteration with whatever stages exist (works on partial runs)."""
    rows = []
    for t in store.iterations():
        row: dict[str, Any] = {"iteration": t, "round": round_of(store.config, t),
                               "n_prompts": len(store.read_table(t, "prompts"))}
        if store.has(t, "eval"):
            e = store.read_json(t, "eval")
            row.update(heldout_constraint_rate=e["constraint_rate"], heldout_full_rate=e["full_rate"])
            from .evaluation import judge_summary

            row.update(judge_summary(e))  # an invalid judge evaluation shows as invalid, never as a win rate
        if store.has(t, "weights"):
            w = store.read_table(t, "weights")
            row.update(weight_mean=float(w.weight.mean()), frac_informative=float((w.a_min > 0).mean()),
                       reward_mean=float(w.reward_mean.mean()))
            row.update(_outcome_shares(store, t, w))
            if "reward_ema" in w:
                row["reward_ema_mean"] = float(w.reward_ema.mean())
        row["gen_tokens"] = iteration_gen_tokens(store, t)
        if store.has(t, "evolved"):
            ev = store.read_table(t, "evolved")
            row.update(n_variants=len(ev), acceptance=float(ev.accepted.mean()) if len(ev) else float("nan"))
            row.update(creator_accounting(ev))
        if store.has(t, "pairs"):
            pairs = store.read_table(t, "pairs")
            row["n_pairs"] = len(pairs)
            row.update(pairs.attrs.get("frontier") or {})
        if store.has(t, "prediction"):
            plan = store.read_table(t, "prediction")
            row["rollouts_saved"] = int(plan.loc[plan.in_set.astype(bool), "rollouts_saved"].sum())
        if store.has(t, "train_log"):
            tl = store.read_table(t, "train_log")
            if "loss" in tl and tl["loss"].notna().any():
                row["train_loss_last"] = float(tl["loss"].dropna().iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows)


def _outcome_shares(store: RunStore, t: int, weights: pd.DataFrame) -> dict[str, float]:
    """frac_all_fail / frac_all_pass / frac_mixed of iteration t (``evalab.breakdown``): from the weights stage's
    ``outcome`` column, or, for runs written before it existed, from the responses at the run's pass_threshold."""
    from .breakdown import outcome_shares, pass_breakdown

    if "outcome" in weights:
        return outcome_shares(weights["outcome"])
    if not store.has(t, "responses"):
        return {}
    resp = store.read_table(t, "responses")
    ids = [str(i) for i in weights.prompt_id]
    return outcome_shares(pass_breakdown(reward_matrix(resp, ids), store.config.pass_threshold)["outcome"])
