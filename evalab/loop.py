"""The eva loop: one iteration = eval → generate → reward → weigh → sample → evolve → mix → generate →
pairs → train, every stage a file in the run store, so a run killed at any moment resumes where it stopped.

    from evalab.config import profile_config
    from evalab.loop import EvaRun
    run = EvaRun(profile_config("ci", run_dir="runs/ci", iterations=2))
    run.creator_step(0)        # steps 1-5 of iteration 0 only (what notebook 01 shows)
    run.run()                  # everything left, resuming from the last finished stage
    run.summary()              # one row per iteration: held-out score, informativeness, acceptance, pairs, loss

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
"""

from __future__ import annotations

import gc
import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import METRICS, EvaConfig
from .informativeness import all_metrics, as_reward_matrix, reward_stats
from .prompts import Prompt, frame_to_prompts, load_prompts, prompts_to_frame
from .sampling import mix_next_set, sample_subset
from .store import RunStore

log = logging.getLogger("evalab.loop")

EVA_STAGES = ("eval", "responses", "weights", "selected", "evolved", "next_prompts", "train_responses", "pairs",
              "checkpoint")
STATIC_STAGES = ("eval", "responses", "weights", "next_prompts", "train_responses", "pairs", "checkpoint")


def stage_seed(seed: int, t: int, stage: str) -> int:
    """A stable per-(iteration, stage) seed, so re-running one stage after a crash repeats it exactly."""
    return int(hashlib.sha256(f"{seed}:{t}:{stage}".encode()).hexdigest()[:8], 16)


# --------------------------------------------------------------------------------------------------
# The steps, as plain functions of their inputs (no store, no I/O): what a reader of the paper looks for.
# --------------------------------------------------------------------------------------------------

def generate_and_score(backend: Any, reward: Any, prompts: Sequence[Prompt], cfg: EvaConfig, seed: int,
                       progress: bool = True) -> pd.DataFrame:
    """Steps 1 / 6: N sampled responses per prompt and their rewards, one row per (prompt, sample)."""
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
    n_missing = int(np.isnan(rewards).sum())
    if n_missing:
        log.warning("reward %r left %d of %d responses unscored (NaN = missing)", getattr(reward, "name", reward),
                    n_missing, rewards.size)
    rows = [{"prompt_id": p.id, "sample": j, "response": responses[i][j], "reward": float(rewards[i, j])}
            for i, p in enumerate(prompts) for j in range(cfg.n_responses)]
    return pd.DataFrame(rows)


def reward_matrix(responses: pd.DataFrame, prompt_ids: Sequence[str]) -> np.ndarray:
    """(n_prompts, N) rewards in the order of ``prompt_ids`` from a responses table."""
    wide = responses.pivot(index="prompt_id", columns="sample", values="reward")
    missing = [i for i in prompt_ids if i not in wide.index]
    if missing:
        raise ValueError(f"responses table has no rows for prompt(s) {missing[:3]}")
    return wide.loc[list(prompt_ids)].to_numpy(dtype=float)


def weigh_prompts(prompt_ids: Sequence[str], rewards: np.ndarray, metric: str) -> pd.DataFrame:
    """Step 2: informativeness of every prompt under every metric; ``weight`` is the run's metric."""
    ms = all_metrics(rewards, prompt_ids)
    if metric not in ms:
        raise ValueError(f"metric {metric!r} cannot be computed on these rewards (inv_avg needs rewards >= 0)")
    df = pd.DataFrame({"prompt_id": list(prompt_ids), "weight": ms[metric]})
    for m in METRICS:
        df[m] = ms.get(m, np.full(len(prompt_ids), np.nan))
    for k, v in reward_stats(rewards).items():
        df[k] = v
    return df


def select_informative(weights: pd.DataFrame, fraction: float, strategy: str, seed: int) -> pd.DataFrame:
    """Step 3: the informative subset (prompt_id, weight, rank in selection order)."""
    idx = sample_subset(weights["weight"].to_numpy(), fraction=fraction, strategy=strategy, seed=seed)
    sel = weights.iloc[idx][["prompt_id", "weight"]].reset_index(drop=True)
    sel["rank"] = np.arange(len(sel))
    return sel


def evolve_prompts(creator: Any, prompts: Sequence[Prompt], n_variants: int, iteration: int, seed: int,
                   progress: bool = True, existing: Sequence[str] = ()) -> pd.DataFrame:
    """Step 4: creator variants of every selected prompt, each accepted or rejected with a reason.
    ``existing``: texts already in the prompt set (a variant equal to one is rejected as a duplicate)."""
    from .creator import variants_to_frame

    variants = creator.evolve(prompts, n_variants, iteration=iteration, seed=seed, progress=progress,
                              existing=existing)
    return variants_to_frame(variants)


def next_prompt_set(current: Sequence[Prompt], evolved: pd.DataFrame, size: int, evolved_ratio: float,
                    seed: int) -> tuple[list[Prompt], dict[str, int]]:
    """Step 5: X_{t+1} = evolved prompts (``evolved_ratio``) + a buffer of X_t; returns (prompts, sources)."""
    accepted = evolved[evolved["accepted"]] if len(evolved) else evolved
    evolved_prompts = [Prompt.from_dict(r) for r in accepted.to_dict(orient="records")] if len(accepted) else []
    mix = mix_next_set(len(evolved_prompts), len(current), size, evolved_ratio, seed)
    out = [evolved_prompts[i] for i in mix.evolved] + [current[i] for i in mix.buffer]
    info = {"n_evolved": int(mix.evolved.size), "n_buffer": int(mix.buffer.size), "backfilled": mix.backfilled}
    return out, info


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
        self.stages = EVA_STAGES if cfg.mode == "eva" else STATIC_STAGES
        if not cfg.run_eval:
            self.stages = tuple(s for s in self.stages if s != "eval")
        self._ensure_seed_prompts()

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
            gc.collect()
            if self._backend_factory is not None:
                b = self._backend_factory(path)
            else:
                from .generation import make_backend

                kw = dict(self.cfg.backend_kwargs)
                if self.cfg.backend == "transformers":
                    kw.setdefault("batch_size", self.cfg.gen_batch_size)
                else:
                    kw.setdefault("seed", self.cfg.seed)
                b = make_backend(self.cfg.backend, path, **kw)
            self._backend = (path, b)
        return self._backend[1]

    def solver_path(self, t: int) -> str:
        if t == 0:
            return self.cfg.solver
        ck = self.store.path(t - 1, "checkpoint")
        if not self.store.has(t - 1, "checkpoint"):
            raise FileNotFoundError(f"solver checkpoint of iteration {t - 1} is missing: {ck}")
        return str(ck)

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

    def pending(self) -> list[tuple[int, str]]:
        """Every stage still to run, in order (the last iteration ends with the final eval)."""
        todo = []
        k = self.cfg.iterations
        for t in range(k):
            todo += [(t, s) for s in self.stages if not self.store.has(t, s)]
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
            if stage in self.stages and not self.store.has(t, stage):
                self.run_stage(t, stage)
        return self.store.read_table(t, "next_prompts")

    def run_stage(self, t: int, stage: str) -> None:
        if self.store.has(t, stage):
            return
        if not self.store.has(t, "prompts"):
            raise RuntimeError(f"iteration {t} has no prompt set yet: finish iteration {t - 1} first")
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
        from .evaluation import evaluate_solver, judge_winrate

        prompts = load_prompts(self.cfg.eval_set, self.cfg.n_eval)
        report, per_prompt = evaluate_solver(self.backend(t), prompts, max_new_tokens=self.cfg.eval_max_new_tokens,
                                             seed=stage_seed(self.cfg.seed, t, "eval"), progress=self.progress)
        report.update(iteration=t, solver=self.solver_path(t), responses=per_prompt.response.tolist(),
                      per_prompt={"prompt_id": per_prompt.prompt_id.tolist(), "frac": per_prompt.frac.tolist(),
                                  "full": per_prompt.full.astype(float).tolist()})
        if self.cfg.judge and t > 0 and self.store.has(0, "eval"):
            base = self.store.read_json(0, "eval")["responses"]
            report["judge"] = judge_winrate(self.cfg.judge, prompts, report["responses"], base)
        self.store.write_json(t, "eval", report)

    def _stage_responses(self, t: int) -> None:
        df = generate_and_score(self.backend(t), self.reward, self.prompts(t), self.cfg,
                                stage_seed(self.cfg.seed, t, "responses"), self.progress)
        self.store.write_table(t, "responses", df)

    def _stage_weights(self, t: int) -> None:
        ids = [p.id for p in self.prompts(t)]
        r = reward_matrix(self.store.read_table(t, "responses"), ids)
        w = weigh_prompts(ids, r, self.cfg.metric)
        self.store.write_table(t, "weights", w)
        frac_zero = float((w["a_min"] == 0).mean())
        self.store.log_event("informativeness", iteration=t, metric=self.cfg.metric, mean=float(w.weight.mean()),
                             frac_zero_a_min=frac_zero)
        if frac_zero == 1.0:
            log.warning("iteration %d: every prompt has zero reward spread (A*_min = 0): no prompt is informative "
                        "and no preference pair can be built; the subset is sampled uniformly", t)

    def _stage_selected(self, t: int) -> None:
        w = self.store.read_table(t, "weights")
        sel = select_informative(w, self.cfg.subset_fraction, self.cfg.sampling, stage_seed(self.cfg.seed, t, "selected"))
        self.store.write_table(t, "selected", sel)

    def _stage_evolved(self, t: int) -> None:
        current = self.prompts(t)
        by_id = {p.id: p for p in current}
        chosen = [by_id[i] for i in self.store.read_table(t, "selected").prompt_id]
        df = evolve_prompts(self.creator, chosen, self.cfg.n_variants, t + 1,
                            stage_seed(self.cfg.seed, t, "evolved"), self.progress,
                            existing=[p.text for p in current])
        self.store.write_table(t, "evolved", df)
        acc = int(df["accepted"].sum()) if len(df) else 0
        self.store.log_event("creator", iteration=t, n_variants=len(df), n_accepted=acc,
                             reasons=df["reason"].value_counts().to_dict() if len(df) else {})

    def _stage_next_prompts(self, t: int) -> None:
        current = self.prompts(t)
        size = self.cfg.next_set_size or len(current)
        if self.cfg.mode == "static":
            nxt, info = current, {"n_evolved": 0, "n_buffer": len(current), "backfilled": 0}
            sources = ["seed" if p.operator == "seed" else "buffer" for p in nxt]
        else:
            evolved = self.store.read_table(t, "evolved")
            nxt, info = next_prompt_set(current, evolved, size, self.cfg.evolved_ratio,
                                        stage_seed(self.cfg.seed, t, "next_prompts"))
            sources = ["evolved"] * info["n_evolved"] + ["buffer"] * info["n_buffer"]
            if info["backfilled"]:
                log.warning("iteration %d: only %d evolved prompts accepted; %d buffer prompts back-fill X_%d",
                            t, info["n_evolved"], info["backfilled"], t + 1)
        df = prompts_to_frame(nxt)
        df["source"] = sources
        # iter_{t+1}/prompts first: if we die between the two writes, next_prompts is redone identically
        self.store.write_table(t + 1, "prompts", df)
        self.store.write_table(t, "next_prompts", df)
        self.store.log_event("next_set", iteration=t, **info)

    def _stage_train_responses(self, t: int) -> None:
        if self.cfg.mode == "static":  # X_{t+1} = X_t and the same solver: reuse step-1 samples
            self.store.write_table(t, "train_responses", self.store.read_table(t, "responses"))
            return
        df = generate_and_score(self.backend(t), self.reward, self.prompts(t + 1), self.cfg,
                                stage_seed(self.cfg.seed, t, "train_responses"), self.progress)
        self.store.write_table(t, "train_responses", df)

    def _stage_pairs(self, t: int) -> None:
        from .pairs import build_pairs

        prompts = self.prompts(t + 1)
        resp = self.store.read_table(t, "train_responses")
        ids = [p.id for p in prompts]
        r = reward_matrix(resp, ids)
        texts = resp.pivot(index="prompt_id", columns="sample", values="response").loc[ids].values.tolist()
        pairs, stats = build_pairs(prompts, texts, r)
        self.store.write_table(t, "pairs", pairs)
        self.store.log_event("pairs", iteration=t, **stats)

    def _stage_checkpoint(self, t: int) -> None:
        from .training import train_preference

        pairs = self.store.read_table(t, "pairs")
        solver = self.solver_path(t)
        ref = self.cfg.solver if self.cfg.ref_model == "initial" else solver
        self._backend = None  # free the generation model before training
        gc.collect()
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


def summarize(store: RunStore) -> pd.DataFrame:
    """One row per iteration with whatever stages exist (works on partial runs)."""
    rows = []
    for t in store.iterations():
        row: dict[str, Any] = {"iteration": t, "n_prompts": len(store.read_table(t, "prompts"))}
        if store.has(t, "eval"):
            e = store.read_json(t, "eval")
            row.update(heldout_constraint_rate=e["constraint_rate"], heldout_full_rate=e["full_rate"])
            if "judge" in e:
                row["judge_winrate"] = e["judge"]["winrate"]
        if store.has(t, "weights"):
            w = store.read_table(t, "weights")
            row.update(weight_mean=float(w.weight.mean()), frac_informative=float((w.a_min > 0).mean()),
                       reward_mean=float(w.reward_mean.mean()))
        if store.has(t, "evolved"):
            ev = store.read_table(t, "evolved")
            row.update(n_variants=len(ev), acceptance=float(ev.accepted.mean()) if len(ev) else float("nan"))
        if store.has(t, "pairs"):
            row["n_pairs"] = len(store.read_table(t, "pairs"))
        if store.has(t, "train_log"):
            tl = store.read_table(t, "train_log")
            if "loss" in tl and tl["loss"].notna().any():
                row["train_loss_last"] = float(tl["loss"].dropna().iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows)
