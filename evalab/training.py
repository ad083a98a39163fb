"""Solver training on best-vs-worst pairs through TRL (eva step 6): DPO, SimPO, ORPO, SPPO.

    from evalab.training import recipe_config, train_preference
    cfg = recipe_config("simpo", profile_config("ci"))          # SimPO with the paper's lr/β/γ
    out = train_preference(cfg, "smollm2-135m", pairs, Path("runs/x/solver_t1"))
    out["log_history"][-1], out["train_runtime"]

Recipes. ``EvaConfig``'s training defaults are the paper's **DPO** recipe (lr 5e-7, cosine, β 0.05,
2 epochs, warmup 0.1). The recipes live in ``evalab.config.TRAINER_RECIPES`` and are applied whenever a
trainer is chosen (``profile_config(profile, trainer=...)``); ``recipe_config(trainer, cfg)`` switches an
existing config (``config.with_trainer``: the profile's adaptation applies, fields set explicitly are
kept). ``train_preference`` itself always uses the config it is given.

    trainer  TRL class                        loss             paper values (eva, arXiv 2411.00062), all warmup 0.1
    dpo      trl.DPOTrainer                   sigmoid          lr 5e-7, cosine, β 0.05, 2 epochs
    simpo    trl.experimental.cpo.CPOTrainer  simpo, α_cpo 0   lr 8e-7, cosine, β 10, γ 5, 1 epoch, batch 32
    orpo     trl.experimental.orpo.ORPOTrainer  (odds ratio)   lr 5e-7, cosine, λ 0.5 (TRL's ``beta``), 1 epoch
    sppo     trl.DPOTrainer                   sppo_hard        lr 5e-7, linear, β 0.001, 6 epochs, RMSprop, 1024/512

Reference model (DPO, SPPO): ``ref_model_path`` or, by default, ``model_path`` itself. eva starts
iteration t from the previous solver θ_{t-1} and uses that same checkpoint as the reference, so the
default is right for the loop; pass the initial solver as ``ref_model_path`` to keep π_0 fixed.
With ``cfg.lora`` the adapters train on a frozen base (which doubles as the reference when no
``ref_model_path`` is given) and are merged before saving, so the output is always a plain checkpoint.

Speed on CPU (see ``benchmarks/bench_dpo_step.py`` and the README): TRL's defaults target GPUs. On a
CPU without native bf16, ``bf16=True`` (TRL's default) runs every matmul through emulated bf16
autocast, and ``gradient_checkpointing=True`` (TRL's default) recomputes every layer's forward in
the backward pass. ``trl_args`` turns both off where there is no CUDA device. Batches are padded to
the longest pair in the batch (never to ``max_length``), and batches are built from pairs of similar
length (:class:`BucketedSampler`: a seeded shuffle per epoch, then length buckets of
``train_batch_size`` pairs, then the buckets in a seeded random order), so padding costs little. DPO
and SPPO compute the reference log-probs once per training call (TRL's ``precompute_ref_log_probs``)
instead of one reference forward per pair per epoch; the loss is the same (``tests/test_training.py``).

Resume. Trainer checkpoints go to ``work_dir`` (default ``<output_dir>.ckpt``), every ``save_steps``
optimizer steps except the last (the final model is written then), keeping the last ``save_total_limit``.
A call whose ``work_dir`` holds a checkpoint resumes from it (``resume_from_checkpoint``) — after a kill, the
same call continues mid-training.
A fingerprint of the config and the pairs guards against resuming a different experiment.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .config import TRAINER_RECIPES, EvaConfig, with_trainer
from .pairs import check_pairs_frame, to_conversational

# Paper recipes per trainer: "trl" names the TRL trainer, "fixed" holds trainer arguments that define
# the method (never taken from the config), "paper" the EvaConfig values the paper used.
RECIPES: dict[str, dict[str, Any]] = {
    "dpo": {
        "trl": "DPOTrainer",
        "fixed": {"loss_type": ["sigmoid"]},
        "paper": TRAINER_RECIPES["dpo"],
    },
    "simpo": {
        "trl": "CPOTrainer",
        "fixed": {"loss_type": "simpo", "cpo_alpha": 0.0},  # SimPO = CPO without the NLL term
        "paper": TRAINER_RECIPES["simpo"],
    },
    "orpo": {
        "trl": "ORPOTrainer",
        "fixed": {},
        "paper": TRAINER_RECIPES["orpo"],
    },
    "sppo": {
        "trl": "DPOTrainer",
        "fixed": {"loss_type": ["sppo_hard"]},
        "paper": TRAINER_RECIPES["sppo"],
    },
}

SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay")
FINGERPRINT_FILE = "evalab_train.json"


# --- recipes --------------------------------------------------------------------------------------
def recipe_config(trainer: str, cfg: EvaConfig | None = None) -> EvaConfig:
    """``cfg`` (default ``EvaConfig()``, the paper profile) switched to ``trainer`` and its recipe as
    ``cfg.profile`` adapts it; fields ``cfg`` set explicitly are kept (``evalab.config.with_trainer``)."""
    if trainer not in RECIPES:
        raise ValueError(f"trainer={trainer!r}: unknown trainer; choose one of {tuple(RECIPES)}")
    return with_trainer(cfg or EvaConfig(), trainer)


def validate_training_config(cfg: EvaConfig) -> None:
    """Raise ValueError naming the field if ``cfg`` cannot drive ``cfg.trainer``."""
    if cfg.trainer not in RECIPES:
        raise ValueError(f"EvaConfig.trainer={cfg.trainer!r}: unknown trainer; choose one of {tuple(RECIPES)}")
    if cfg.lr_scheduler not in SCHEDULERS:
        raise ValueError(f"EvaConfig.lr_scheduler={cfg.lr_scheduler!r}: choose one of {SCHEDULERS}")
    for name in ("learning_rate", "beta", "epochs"):
        v = float(getattr(cfg, name))
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"EvaConfig.{name}={v!r}: must be a finite number > 0")
    if cfg.trainer == "simpo" and not (math.isfinite(cfg.simpo_gamma) and cfg.simpo_gamma >= 0):
        raise ValueError(f"EvaConfig.simpo_gamma={cfg.simpo_gamma!r}: must be >= 0")
    if cfg.trainer == "orpo" and not (math.isfinite(cfg.orpo_lambda) and cfg.orpo_lambda > 0):
        raise ValueError(f"EvaConfig.orpo_lambda={cfg.orpo_lambda!r}: must be > 0")
    if cfg.max_prompt_length >= cfg.max_length:
        raise ValueError(f"EvaConfig.max_prompt_length={cfg.max_prompt_length}: must be < max_length={cfg.max_length}")


def _warn_if_dpo_values(cfg: EvaConfig) -> None:
    """A non-DPO trainer with the DPO β left in place is almost always a forgotten ``recipe_config``."""
    if cfg.trainer in ("simpo", "sppo") and cfg.beta == RECIPES["dpo"]["paper"]["beta"]:
        warnings.warn(f"trainer={cfg.trainer!r} with the DPO β={cfg.beta}; the paper's value is "
                      f"{RECIPES[cfg.trainer]['paper']['beta']} (use evalab.training.recipe_config)", stacklevel=3)


# --- data -----------------------------------------------------------------------------------------
def truncate_prompts(pairs: pd.DataFrame, tokenizer: Any, max_prompt_length: int) -> tuple[pd.DataFrame, int]:
    """Cut each user prompt to its first ``max_prompt_length`` tokens (TRL 1.16's trainers only bound
    prompt+response by ``max_length``). Returns the new frame and how many prompts were cut."""
    out = pairs.copy()
    n_cut = 0
    texts = []
    for text in out["prompt"]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > max_prompt_length:
            text = tokenizer.decode(ids[:max_prompt_length])
            n_cut += 1
        texts.append(text)
    out["prompt"] = texts
    return out, n_cut


def pairs_dataset(pairs: pd.DataFrame) -> Any:
    """A ``datasets.Dataset`` of conversational preference rows (prompt / chosen / rejected messages)."""
    from datasets import Dataset

    return Dataset.from_list(to_conversational(pairs))


# --- trainer arguments --------------------------------------------------------------------------
def device_defaults() -> dict[str, Any]:
    """Precision and memory choices for this machine (see the module docstring, "Speed on CPU")."""
    import torch

    if torch.cuda.is_available():
        return {"bf16": torch.cuda.is_bf16_supported(), "fp16": False, "gradient_checkpointing": True}
    # CPU: emulated bf16 autocast and layer recomputation only cost time here; memory is plentiful
    return {"bf16": False, "fp16": False, "gradient_checkpointing": False, "use_cpu": True}


def trl_args(cfg: EvaConfig, work_dir: Path, *, n_pairs: int, save_steps: int | None = None,
             save_total_limit: int = 2, progress: bool = True, overrides: dict[str, Any] | None = None) -> Any:
    """The TRL config object (DPOConfig / CPOConfig / ORPOConfig) for ``cfg.trainer``.

    ``cfg.train_batch_size`` pairs per optimizer step in total: with ``WORLD_SIZE`` processes each
    device takes ``train_batch_size // WORLD_SIZE``. ``overrides`` (any TRL/TrainingArguments field)
    are applied last, e.g. ``{"max_steps": 2}``.
    """
    validate_training_config(cfg)
    recipe = RECIPES[cfg.trainer]
    world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    per_device = max(1, cfg.train_batch_size // world)
    steps_per_epoch = max(1, math.ceil(n_pairs / (per_device * world)))
    if save_steps is None:  # about twice per epoch, at least every 50 steps
        save_steps = max(1, min(50, steps_per_epoch // 2 or 1))
    common: dict[str, Any] = dict(
        output_dir=str(work_dir),
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=1,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the total steps
        optim=cfg.optim,
        num_train_epochs=cfg.epochs,
        seed=cfg.seed,
        data_seed=cfg.seed,
        max_length=cfg.max_length,
        logging_steps=1,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=save_total_limit,
        report_to="none",
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        **device_defaults(),
    )
    if cfg.trainer in ("dpo", "sppo"):
        from trl import DPOConfig as Config

        # reference log-probs once per call (not once per epoch); the pass over the pairs runs without grads,
        # so it takes larger batches. One process only: under `accelerate launch` TRL 1.16 writes that pass's
        # cache into the in-memory dataset's per-process temp dir, which the other ranks cannot open
        # (FileNotFoundError on rank 1); there the reference runs with each step, as before.
        precompute = int(os.environ.get("WORLD_SIZE", "1")) <= 1
        specific: dict[str, Any] = dict(beta=cfg.beta, pad_to_multiple_of=None, padding_free=False,
                                        precompute_ref_log_probs=precompute,
                                        precompute_ref_batch_size=max(per_device, REF_BATCH_SIZE))
    elif cfg.trainer == "simpo":
        from trl.experimental.cpo import CPOConfig as Config

        specific = dict(beta=cfg.beta, simpo_gamma=cfg.simpo_gamma)
    else:
        from trl.experimental.orpo import ORPOConfig as Config

        specific = dict(beta=cfg.orpo_lambda)  # ORPO's λ is TRL's `beta`
    kwargs = {**common, **specific, **recipe["fixed"], **(overrides or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        return Config(**kwargs)


def _trainer_class(trainer: str, bucketed: bool = True) -> Any:
    """The TRL trainer class of ``trainer``; with ``bucketed`` a subclass whose batches are length buckets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TRLExperimentalWarning on trl.experimental imports
        if RECIPES[trainer]["trl"] == "DPOTrainer":
            from trl import DPOTrainer as cls
        elif trainer == "simpo":
            from trl.experimental.cpo import CPOTrainer as cls
        else:
            from trl.experimental.orpo import ORPOTrainer as cls
    return _with_length_buckets(cls) if bucketed else cls


# --- completion-only log-probs on CPU -------------------------------------------------------------
_CPU_COMPACTION = {"enabled": True}  # read by the patched switch on every forward


def score_completions_only_on_cpu(enabled: bool = True) -> bool:
    """Make TRL's fused LM head project only the labelled (completion) rows on CPU too (``enabled=False``: every
    row again, TRL's own CPU behaviour; for comparisons). ``build_trainer`` installs it, enabled by default.

    TRL 1.16's fused head (``trl.trainer.utils.add_fused_lm_head``, used by DPOTrainer, GRPOTrainer, RLOOTrainer)
    projects hidden states through the 49,152-word vocabulary in tiles and returns per-token log-probs. On Triton
    devices it projects only the positions that have a label; elsewhere it projects every position (prompt and
    padding included) and masks the result afterwards, so that tile shapes stay fixed for compilers. Nothing is
    compiled on CPU, and the prompt is most of a pair's tokens, so there the masked rows are pure waste, forward
    and backward, in the reference pass and in training. This turns the compaction on for CPU tensors through
    ``trl.trainer.utils._use_triton``, which decides only that there (the kernel module keeps its own choice of
    Triton or torch tiles). The per-token log-probs, and so every loss, are the same: only which rows are
    projected changes (``tests/test_training.py`` compares loss and gradient on one batch;
    ``benchmarks/bench_lm_head_rows.py`` times both). Returns whether the switch is installed: False when the
    installed TRL has no such switch (then TRL's behaviour is unchanged).
    """
    _CPU_COMPACTION["enabled"] = bool(enabled)
    return _install_cpu_compaction()


def _install_cpu_compaction() -> bool:
    try:
        import trl.trainer.utils as tu
    except ImportError:  # pragma: no cover - trl is a dependency
        return False
    orig = getattr(tu, "_use_triton", None)
    if orig is None:
        return False
    if getattr(orig, "_evalab_cpu_compaction", False):
        return True

    def _use_triton(device: Any) -> bool:
        return (_CPU_COMPACTION["enabled"] and getattr(device, "type", None) == "cpu") or orig(device)

    _use_triton._evalab_cpu_compaction = True  # type: ignore[attr-defined]
    tu._use_triton = _use_triton
    return True


# --- length buckets ------------------------------------------------------------------------------
REF_BATCH_SIZE = 16  # pairs per reference forward when the reference log-probs are precomputed
_LENGTH_KEYS = (("prompt_ids", "chosen_ids", "rejected_ids"),                    # DPOTrainer
                ("prompt_input_ids", "chosen_input_ids", "rejected_input_ids"))  # CPO / ORPO (experimental)


def pair_lengths(dataset: Any) -> list[int] | None:
    """Tokens of each tokenized pair's longer sequence (prompt + the longer response), or None when the
    dataset has none of the known tokenized columns."""
    cols = set(getattr(dataset, "column_names", None) or ())
    for prompt, chosen, rejected in _LENGTH_KEYS:
        if {prompt, chosen, rejected} <= cols:
            return [len(p) + max(len(c), len(r)) for p, c, r in
                    zip(dataset[prompt], dataset[chosen], dataset[rejected])]
    return None


def bucket_order(lengths: Sequence[int], batch_size: int, seed: int) -> list[int]:
    """Indices in batches of ``batch_size`` pairs of similar length: a seeded shuffle (random tie-breaks),
    a stable sort by length, consecutive buckets, then the buckets in a seeded random order."""
    import torch

    g = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(lengths), generator=g).tolist()
    perm.sort(key=lambda i: lengths[i])
    buckets = [perm[k:k + batch_size] for k in range(0, len(perm), batch_size)]
    return [i for b in torch.randperm(len(buckets), generator=g).tolist() for i in buckets[b]]


class BucketedSampler:
    """A ``torch`` sampler yielding :func:`bucket_order` for the current epoch (``set_epoch`` reseeds it,
    as the Trainer does each epoch), so a resumed run sees the same batches as an uninterrupted one."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        self.lengths, self.batch_size, self.seed, self.epoch = list(lengths), int(batch_size), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Any:
        return iter(bucket_order(self.lengths, self.batch_size, self.seed + self.epoch))

    def __len__(self) -> int:
        return len(self.lengths)


def _with_length_buckets(cls: Any) -> Any:
    """``cls`` with a training sampler that batches pairs of similar length (:class:`BucketedSampler`) and, for
    DPO, a reference pass (``precompute_ref_log_probs``) over the pairs sorted by length."""

    def _get_train_sampler(self: Any, train_dataset: Any = None) -> Any:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        lengths = pair_lengths(dataset)
        if lengths is None:
            return super(sub, self)._get_train_sampler(train_dataset)
        # buckets of one optimizer step's pairs: accelerate deals consecutive per-device batches to the
        # ranks, so under DDP the ranks of one step share one bucket, as the one-process run does
        return BucketedSampler(lengths, self.args.per_device_train_batch_size * self.args.world_size, self.args.seed)

    def _precompute_ref_logps(self: Any, dataset: Any, name: str, batch_size: int) -> Any:
        # TRL batches the reference pass in dataset order; sorted by length, a batch of pairs pads to its own
        # longest pair instead of a random one's (same log-probs up to float summation order)
        lengths = pair_lengths(dataset)
        base = super(sub, self)._precompute_ref_logps
        if lengths is None or len(lengths) < 2:
            return base(dataset, name, batch_size)
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        inverse = sorted(range(len(order)), key=order.__getitem__)
        return base(dataset.select(order), name, batch_size).select(inverse).flatten_indices()

    body: dict[str, Any] = {"_get_train_sampler": _get_train_sampler, "__module__": __name__}
    if hasattr(cls, "_precompute_ref_logps"):
        body["_precompute_ref_logps"] = _precompute_ref_logps
    sub = type(f"Bucketed{cls.__name__}", (cls,), body)
    return sub


def lora_config(cfg: EvaConfig) -> Any:
    """The LoRA adapters used when ``cfg.lora``: r 16, α 32, all attention and MLP projections."""
    from peft import LoraConfig

    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])


# --- checkpoints and resume -------------------------------------------------------------------------
def fingerprint(cfg: EvaConfig, model_path: str, pairs: pd.DataFrame, ref_model_path: str | None) -> str:
    """Hash of what a training run computes: the training fields, the start model and the pairs."""
    keys = ("trainer", "learning_rate", "lr_scheduler", "beta", "simpo_gamma", "orpo_lambda", "epochs",
            "train_batch_size", "max_length", "max_prompt_length", "lora", "seed", "warmup_ratio", "optim")
    h = hashlib.sha256(json.dumps({k: getattr(cfg, k) for k in keys}, sort_keys=True).encode())
    h.update(f"{model_path}|{ref_model_path}".encode())
    for col in ("prompt", "chosen", "rejected"):
        h.update("\x00".join(pairs[col]).encode())
    return h.hexdigest()[:16]


def last_checkpoint(work_dir: Path, require: Sequence[str] = ("trainer_state.json",)) -> Path | None:
    """The ``checkpoint-<step>`` folder with the highest step that holds every file in ``require`` (by default
    the trainer state, written last by the Trainer), or None."""
    if not work_dir.is_dir():
        return None
    done = [p for p in work_dir.glob("checkpoint-*")
            if p.name.split("-")[-1].isdigit() and all((p / f).exists() for f in require)]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _check_resume(work_dir: Path, fp: str) -> Path | None:
    """The checkpoint to resume from, after checking it belongs to this experiment."""
    ckpt = last_checkpoint(work_dir)
    meta = work_dir / FINGERPRINT_FILE
    if ckpt is not None and meta.exists():
        old = json.loads(meta.read_text()).get("fingerprint")
        if old != fp:
            raise ValueError(f"work_dir={str(work_dir)!r} holds checkpoints of a different training run "
                             f"(fingerprint {old} != {fp}: config, model or pairs changed); delete it or pass "
                             "another work_dir")
    work_dir.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"fingerprint": fp}))
    return ckpt


def checkpoint_step(ckpt: Path | None) -> int | None:
    """The global step of a ``checkpoint-<step>`` folder (None for None)."""
    return int(ckpt.name.split("-")[-1]) if ckpt is not None else None


def _step_counter() -> Any:
    """A TrainerCallback counting the optimizer steps this process ran (``.n``): after a resume from step s of
    S, a continued run counts S - s, a restart from scratch would count S."""
    from transformers import TrainerCallback

    class StepCounter(TrainerCallback):
        n = 0

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.n += 1

    return StepCounter()


def _no_checkpoint_at_the_end() -> Any:
    """A TrainerCallback that drops the Trainer's checkpoint of the last step (transformers saves one at the end
    under ``save_strategy="steps"``): ``train_preference`` writes the final model right after, so that
    checkpoint (weights, optimizer and scheduler state: ~1.6 GB for the embedded model) is never read. A run
    killed before the final model is written resumes from the checkpoint before it."""
    from transformers import TrainerCallback

    class NoCheckpointAtTheEnd(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.max_steps > 0 and state.global_step >= state.max_steps:
                control.should_save = False

    return NoCheckpointAtTheEnd()


def _save_final(trainer: Any, tokenizer: Any, output_dir: Path, *, merge_lora: bool) -> None:
    """Save model + tokenizer to ``output_dir`` atomically (a temp folder renamed into place).

    Without LoRA ``trainer.save_model`` runs on every process (it gathers ZeRO-3 shards) and writes on
    the main one; with LoRA the adapters are merged into the base first (single process).
    """
    tmp = output_dir.with_name(output_dir.name + ".tmp")
    main = trainer.is_world_process_zero()
    if main and tmp.exists():
        shutil.rmtree(tmp)
    if merge_lora:
        if main:
            trainer.model.merge_and_unload().save_pretrained(tmp)
    else:
        trainer.save_model(str(tmp))
    if main:
        tokenizer.save_pretrained(tmp)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        os.replace(tmp, output_dir)


def _load_for_training(path: str, tokenizer: Any) -> Any:
    """fp32 weights, left where ``from_pretrained`` puts them: the Trainer (or DeepSpeed) places them on
    each process's own device, so no rank loads a copy onto ``cuda:0`` first."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.config.use_cache = False
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


# --- step 6 -------------------------------------------------------------------------------------------
def build_trainer(cfg: EvaConfig, model_path: str, pairs: pd.DataFrame, work_dir: Path, *,
                  ref_model_path: str | None = None, progress: bool = True, save_steps: int | None = None,
                  callbacks: Sequence[Any] | None = None, overrides: dict[str, Any] | None = None
                  ) -> tuple[Any, Any, dict[str, Any]]:
    """(TRL trainer, tokenizer, info) ready to ``.train()``; ``train_preference`` without the run.

    ``info``: ``{"n_prompts_truncated": int}``. Models are loaded in fp32 (the trainer's bf16 flag
    decides mixed precision on GPU).
    """
    from .models import load_tokenizer, resolve_model_path

    validate_training_config(cfg)
    check_pairs_frame(pairs)
    path = resolve_model_path(model_path)
    # args first: under DeepSpeed ZeRO-3 the models must be created after the config exists
    args = trl_args(cfg, Path(work_dir), n_pairs=len(pairs), save_steps=save_steps, progress=progress,
                    overrides=overrides)
    tok = load_tokenizer(path)
    model = _load_for_training(path, tok)
    pairs, n_cut = truncate_prompts(pairs, tok, cfg.max_prompt_length)
    kwargs: dict[str, Any] = dict(model=model, args=args, train_dataset=pairs_dataset(pairs), processing_class=tok,
                                  callbacks=list(callbacks or []))
    if cfg.lora:
        kwargs["peft_config"] = lora_config(cfg)
    if RECIPES[cfg.trainer]["trl"] == "DPOTrainer" and (ref_model_path is not None or not cfg.lora):
        # with LoRA and no ref path the frozen base (adapters off) is the reference: no second copy
        ref = resolve_model_path(ref_model_path) if ref_model_path is not None else path
        kwargs["ref_model"] = _load_for_training(ref, tok)
    _install_cpu_compaction()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*remove_unused_columns.*")
        trainer = _trainer_class(cfg.trainer)(**kwargs)
    return trainer, tok, {"n_prompts_truncated": n_cut}


def train_preference(cfg: EvaConfig, model_path: str, pairs: pd.DataFrame, output_dir: Path, *,
                     ref_model_path: str | None = None, work_dir: Path | None = None, progress: bool = True,
                     save_steps: int | None = None, keep_checkpoints: bool = True,
                     callbacks: Sequence[Any] | None = None, overrides: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Train the solver at ``model_path`` on ``pairs`` with ``cfg.trainer``; save it to ``output_dir``.

    ``pairs``: frame from ``evalab.pairs.build_pairs`` (prompt / chosen / rejected strings).
    ``work_dir`` (default ``<output_dir>.ckpt``) holds trainer checkpoints; a checkpoint there is
    resumed. ``keep_checkpoints=False`` deletes them once the final model is saved. ``callbacks``
    are ``transformers.TrainerCallback``s; ``overrides`` any TRL config fields (e.g. ``max_steps``).

    Returns ``{"log_history", "train_runtime", "global_step", "resumed_from", "resumed_from_step", "steps_run",
    "n_pairs",
    "n_prompts_truncated", "seconds_per_step", "trainer", "output_dir", "world_size",
    "per_device_train_batch_size"}`` (``world_size`` = processes under ``accelerate launch``).
    """
    from .models import resolve_model_path

    validate_training_config(cfg)
    _warn_if_dpo_values(cfg)
    check_pairs_frame(pairs)
    output_dir = Path(output_dir)
    work_dir = Path(work_dir) if work_dir is not None else output_dir.with_name(output_dir.name + ".ckpt")
    path = resolve_model_path(model_path)
    ref_path = resolve_model_path(ref_model_path) if ref_model_path is not None else None
    resume = _check_resume(work_dir, fingerprint(cfg, path, pairs, ref_path))
    counter = _step_counter()
    trainer, tok, info = build_trainer(cfg, path, pairs, work_dir, ref_model_path=ref_path, progress=progress,
                                       save_steps=save_steps,
                                       callbacks=[*(callbacks or []), counter, _no_checkpoint_at_the_end()],
                                       overrides=overrides)

    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    wall = time.perf_counter() - t0

    _save_final(trainer, tok, output_dir, merge_lora=cfg.lora)
    if trainer.is_world_process_zero() and not keep_checkpoints:
        for p in work_dir.glob("checkpoint-*"):
            shutil.rmtree(p, ignore_errors=True)
    state = trainer.state
    steps_run = state.global_step - (int(resume.name.split("-")[-1]) if resume is not None else 0)
    return {
        "log_history": list(state.log_history),
        "train_runtime": float(out.metrics.get("train_runtime", wall)),
        "global_step": int(state.global_step),
        "resumed_from": str(resume) if resume is not None else None,
        "resumed_from_step": checkpoint_step(resume),
        "steps_run": int(counter.n),
        "n_pairs": int(len(pairs)),
        "n_prompts_truncated": info["n_prompts_truncated"],
        "seconds_per_step": wall / steps_run if steps_run > 0 else float("nan"),
        "trainer": cfg.trainer,
        "output_dir": str(output_dir),
        "world_size": int(trainer.args.world_size),
        "per_device_train_batch_size": int(trainer.args.per_device_train_batch_size),
    }
