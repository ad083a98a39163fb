"""train_preference: paper recipes, all four TRL trainers on 4 tiny pairs, reload, resume, errors.

    python -m pytest tests/test_training.py -q            # slow tests train SmolLM2-135M for 1-2 steps
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from evalab.config import EvaConfig, profile_config
from evalab.training import (bucket_order, build_trainer, pair_lengths, RECIPES, FINGERPRINT_FILE, recipe_config, train_preference, trl_args,
                             validate_training_config)

PROBE = "model.layers.0.self_attn.q_proj.weight"


def _pairs(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({
        "prompt_id": [f"p{i}" for i in range(n)],
        "prompt": [f"Name a colour (question {i}). Answer in one sentence." for i in range(n)],
        "chosen": ["Blue is the colour of a clear sky.", "Green, like fresh grass.", "Red.", "Yellow is bright."][:n],
        "rejected": ["no", "I do not know what a colour is, sorry.", "...", "banana banana banana"][:n],
        "chosen_reward": [1.0] * n, "rejected_reward": [0.0] * n,
    })


def _tiny(trainer: str, **kw) -> EvaConfig:
    """Paper recipe of ``trainer`` on the ci profile, sized for a 2-core CPU (lr raised so 1 step shows)."""
    return recipe_config(trainer, profile_config("ci")).replace(
        max_length=64, max_prompt_length=40, train_batch_size=2, learning_rate=1e-5, **kw)


def _param(path: str | Path, name: str = PROBE) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    from evalab.models import resolve_model_path

    m = AutoModelForCausalLM.from_pretrained(resolve_model_path(str(path)), dtype=torch.float32)
    return dict(m.named_parameters())[name].detach().clone()


# --- recipes and arguments (no model) ---------------------------------------------------------------
def test_recipes_match_the_paper() -> None:
    assert set(RECIPES) == {"dpo", "simpo", "orpo", "sppo"}
    dpo = recipe_config("dpo")
    assert (dpo.learning_rate, dpo.lr_scheduler, dpo.beta, dpo.epochs) == (5e-7, "cosine", 0.05, 2.0)
    simpo = recipe_config("simpo")
    assert (simpo.learning_rate, simpo.beta, simpo.simpo_gamma) == (8e-7, 10.0, 5.0)
    assert RECIPES["simpo"]["fixed"] == {"loss_type": "simpo", "cpo_alpha": 0.0}
    assert recipe_config("orpo").orpo_lambda == 0.5
    assert recipe_config("sppo").beta == 0.001 and RECIPES["sppo"]["fixed"]["loss_type"] == ["sppo_hard"]
    assert RECIPES["dpo"]["fixed"]["loss_type"] == ["sigmoid"]
    # EvaConfig's own defaults are the DPO recipe
    d = EvaConfig()
    assert {k: getattr(d, k) for k in RECIPES["dpo"]["paper"]} == RECIPES["dpo"]["paper"]
    # recipe_config keeps the caller's other fields
    c = recipe_config("simpo", profile_config("ci"))
    assert c.trainer == "simpo" and c.n_prompts == profile_config("ci").n_prompts


def test_trl_args_carry_the_config(tmp_path: Path) -> None:
    from trl import DPOConfig
    from trl.experimental.cpo import CPOConfig
    from trl.experimental.orpo import ORPOConfig

    a = trl_args(recipe_config("simpo"), tmp_path, n_pairs=16)
    assert isinstance(a, CPOConfig)
    assert (a.loss_type, a.cpo_alpha, a.beta, a.simpo_gamma, a.learning_rate) == ("simpo", 0.0, 10.0, 5.0, 8e-7)
    o = trl_args(recipe_config("orpo"), tmp_path, n_pairs=16)
    assert isinstance(o, ORPOConfig) and o.beta == 0.5
    s = trl_args(recipe_config("sppo"), tmp_path, n_pairs=16)
    assert isinstance(s, DPOConfig) and s.loss_type == ["sppo_hard"] and s.beta == 0.001
    d = trl_args(EvaConfig(), tmp_path, n_pairs=16)
    assert d.loss_type == ["sigmoid"] and d.beta == 0.05 and d.num_train_epochs == 2.0
    assert d.lr_scheduler_type.value == "cosine" and d.seed == 42 and d.max_length == 2048
    assert d.per_device_train_batch_size == 8 and d.report_to == [] and d.save_strategy.value == "steps"
    if not torch.cuda.is_available():  # the CPU speed fix: no emulated bf16, no layer recomputation
        assert d.bf16 is False and d.gradient_checkpointing is False
    # the caller's config wins over the recipe
    mine = trl_args(recipe_config("simpo").replace(beta=2.5), tmp_path, n_pairs=16)
    assert mine.beta == 2.5
    assert trl_args(EvaConfig(), tmp_path, n_pairs=16, overrides={"max_steps": 3}).max_steps == 3


def test_bad_trainer_and_values_raise_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="trainer"):
        recipe_config("kto")
    cfg = EvaConfig()
    cfg.trainer = "kto"  # bypass EvaConfig's own validation: training must still refuse it
    with pytest.raises(ValueError, match="trainer='kto'"):
        train_preference(cfg, "smollm2-135m", _pairs(), tmp_path / "out")
    with pytest.raises(ValueError, match="lr_scheduler"):
        validate_training_config(EvaConfig(lr_scheduler="bogus"))
    with pytest.raises(ValueError, match="simpo_gamma"):
        validate_training_config(recipe_config("simpo").replace(simpo_gamma=-1.0))
    with pytest.raises(ValueError, match="orpo_lambda"):
        validate_training_config(recipe_config("orpo").replace(orpo_lambda=0.0))
    bad = EvaConfig()
    bad.learning_rate = float("nan")
    with pytest.raises(ValueError, match="learning_rate"):
        validate_training_config(bad)
    with pytest.raises(ValueError, match="missing column"):
        train_preference(EvaConfig(), "smollm2-135m", pd.DataFrame({"prompt": ["a"]}), tmp_path / "out")


def test_simpo_with_dpo_beta_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="recipe_config"):
        with pytest.raises(ValueError):  # stop before loading a model: empty pairs
            train_preference(EvaConfig(trainer="simpo"), "smollm2-135m",
                             _pairs().iloc[:0], tmp_path / "out")


def test_refuses_to_resume_another_experiment(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "checkpoint-1").mkdir(parents=True)
    (work / "checkpoint-1" / "trainer_state.json").write_text("{}")
    (work / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": "someoneelse"}))
    with pytest.raises(ValueError, match="different training run"):
        train_preference(_tiny("dpo"), "smollm2-135m", _pairs(), tmp_path / "out", work_dir=work)


# --- real training (SmolLM2-135M, 1-2 steps) ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["dpo", "simpo", "orpo", "sppo"])
def test_each_trainer_changes_weights_and_saves_a_reloadable_checkpoint(trainer: str, tmp_path: Path) -> None:
    from evalab.models import load_model

    out = tmp_path / "solver"
    res = train_preference(_tiny(trainer), "smollm2-135m", _pairs(), out, progress=False,
                           save_steps=1000, overrides={"max_steps": 1})
    assert res["global_step"] == 1 and res["resumed_from"] is None and res["trainer"] == trainer
    losses = [h["loss"] for h in res["log_history"] if "loss" in h]
    assert len(losses) == 1 and torch.isfinite(torch.tensor(losses[0]))
    model, tok = load_model(str(out))  # a plain checkpoint with its tokenizer
    after = dict(model.named_parameters())[PROBE].detach()
    assert (after - _param("smollm2-135m")).abs().max() > 1e-7, "one optimizer step left the weights unchanged"
    ids = tok("Hello", return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**ids).logits).all()
    assert not (out.with_name(out.name + ".tmp")).exists()


@pytest.mark.slow
def test_killed_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kw):  # the checkpoint of step 1 is on disk
            raise KeyboardInterrupt("simulated kill after checkpoint-1")

    cfg, out, work = _tiny("dpo"), tmp_path / "solver", tmp_path / "work"
    kw = dict(work_dir=work, progress=False, save_steps=1, overrides={"max_steps": 2})
    with pytest.raises(KeyboardInterrupt):
        train_preference(cfg, "smollm2-135m", _pairs(), out, callbacks=[Kill()], **kw)
    assert (work / "checkpoint-1").is_dir() and not out.exists()

    res = train_preference(cfg, "smollm2-135m", _pairs(), out, **kw)
    assert res["resumed_from"] is not None and res["resumed_from"].endswith("checkpoint-1")
    assert res["global_step"] == 2
    steps = [h["step"] for h in res["log_history"] if "loss" in h]
    assert steps == [1, 2]  # step 1 comes from the checkpoint's state, only step 2 ran now
    lrs = [h["learning_rate"] for h in res["log_history"] if "loss" in h]
    assert lrs[1] < lrs[0]  # the cosine schedule continued (a fresh start would log the peak lr again)
    assert (out / "config.json").exists()


@pytest.mark.slow
def test_lora_is_merged_into_a_plain_checkpoint(tmp_path: Path) -> None:
    from safetensors import safe_open

    out = tmp_path / "solver"
    res = train_preference(_tiny("dpo", lora=True).replace(learning_rate=1e-3), "smollm2-135m", _pairs(), out,
                           progress=False, save_steps=1000, overrides={"max_steps": 1})
    assert res["global_step"] == 1
    files = list(out.glob("*.safetensors"))
    assert files and not (out / "adapter_config.json").exists()
    with safe_open(str(files[0]), "pt") as f:
        assert not [k for k in f.keys() if "lora" in k]
    assert (_param(out) - _param("smollm2-135m")).abs().max() > 1e-7  # the merged adapter moved q_proj


@pytest.mark.slow
def test_cli_trains_from_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg_path, pairs_path, out = tmp_path / "cfg.json", tmp_path / "pairs.parquet", tmp_path / "solver"
    _tiny("orpo").save(cfg_path)  # ORPO: one model in memory, the cheapest trainer
    _pairs().to_parquet(pairs_path)
    script = Path(__file__).resolve().parents[1] / "scripts" / "train_pairs.py"
    r = subprocess.run([sys.executable, str(script), "--config", str(cfg_path), "--model", "smollm2-135m",
                        "--pairs", str(pairs_path), "--out", str(out), "--max-steps", "1", "--save-steps", "1000",
                        "--no-progress"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "trained orpo on 4 pairs: 1 steps" in r.stdout
    result = json.loads((out / "train_result.json").read_text())
    assert result["global_step"] == 1 and (out / "config.json").exists()
    bad = subprocess.run([sys.executable, str(script), "--config", str(tmp_path / "nope.json"), "--model", "x",
                          "--pairs", str(pairs_path), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--config" in bad.stderr


def test_bucket_order_groups_similar_lengths_and_reshuffles_per_seed() -> None:
    lengths = [(i * 37) % 101 for i in range(40)]
    order = bucket_order(lengths, 8, seed=0)
    assert sorted(order) == list(range(40))
    batches = [order[k:k + 8] for k in range(0, 40, 8)]
    waste = sum(max(lengths[i] for i in b) - lengths[i] for b in batches for i in b)
    in_order = sum(max(lengths[i] for i in range(k, k + 8)) - lengths[i] for k in range(0, 40, 8) for i in range(k, k + 8))
    assert waste < in_order / 3                                 # buckets pad far less than arbitrary batches
    assert bucket_order(lengths, 8, seed=0) == order and bucket_order(lengths, 8, seed=1) != order


@pytest.mark.slow
def test_precomputed_reference_gives_the_old_first_step_loss(tmp_path: Path) -> None:
    """Reference log-probs computed once (new) vs per step (old): the same loss on a fixed batch."""
    cfg = _tiny("dpo")
    pairs = _pairs(4)
    new, _, _ = build_trainer(cfg, "smollm2-135m", pairs, tmp_path / "new", progress=False)
    old, _, _ = build_trainer(cfg, "smollm2-135m", pairs, tmp_path / "old", progress=False,
                              overrides={"precompute_ref_log_probs": False})
    assert "ref_chosen_logps" in new.train_dataset.column_names
    assert "ref_chosen_logps" not in old.train_dataset.column_names
    # the reference pass runs over the pairs sorted by length; the dataset comes back in its own order
    lengths = pair_lengths(old.train_dataset)
    assert lengths != sorted(lengths), "these pairs must be out of length order for the check to mean anything"
    assert new.train_dataset["prompt_ids"] == old.train_dataset["prompt_ids"]
    assert new.train_dataset["chosen_ids"] == old.train_dataset["chosen_ids"]

    def loss(trainer) -> float:
        with torch.no_grad():  # the same move away from the reference in both policies: the loss is not log 2
            g = torch.Generator().manual_seed(0)
            w = dict(trainer.model.named_parameters())[PROBE]
            w.add_(torch.randn(w.shape, generator=g) * 0.1)
            batch = trainer.data_collator([trainer.train_dataset[i] for i in (2, 0, 3)])
            return float(trainer.compute_loss(trainer.model, batch))
    a, b = loss(new), loss(old)
    assert abs(a - 0.6931) > 1e-3
    assert abs(a - b) < 1e-4


@pytest.mark.slow
def test_cpu_compaction_projects_only_completion_rows_with_the_same_loss_and_gradient(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """score_completions_only_on_cpu: the fused LM head projects only labelled rows; loss and gradient unchanged."""
    import trl.trainer.utils as tu

    from evalab.training import score_completions_only_on_cpu

    cfg = _tiny("dpo")
    trainer, _, _ = build_trainer(cfg, "smollm2-135m", _pairs(4), tmp_path / "t", progress=False)
    rows: list[int] = []
    real = tu._ChunkedLogProbFunction

    class Spy:  # records how many hidden rows reach the vocabulary projection
        @staticmethod
        def apply(hidden, *a):
            rows.append(int(hidden.shape[0]))
            return real.apply(hidden, *a)

    monkeypatch.setattr(tu, "_ChunkedLogProbFunction", Spy)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in (2, 0, 3)])
    w = dict(trainer.model.named_parameters())[PROBE]
    with torch.no_grad():  # move the policy off the reference, so the loss is not log 2 in both arms
        w.add_(torch.randn(w.shape, generator=torch.Generator().manual_seed(0)) * 0.1)

    def loss_and_grad() -> tuple[float, torch.Tensor]:
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, batch)
        loss.backward()
        return float(loss), w.grad.detach().clone()

    try:
        assert score_completions_only_on_cpu(False)
        full_loss, full_grad = loss_and_grad()
        full_rows = rows.pop()
        assert score_completions_only_on_cpu() and score_completions_only_on_cpu()  # idempotent
        compact_loss, compact_grad = loss_and_grad()
        compact_rows = rows.pop()
    finally:
        score_completions_only_on_cpu()
    labelled = int((batch["completion_mask"][:, 1:] != 0).sum())
    assert full_rows == batch["input_ids"].shape[0] * (batch["input_ids"].shape[1] - 1) > compact_rows == labelled
    assert abs(full_loss - 0.6931) > 1e-3 and abs(full_loss - compact_loss) < 1e-5
    assert torch.allclose(full_grad, compact_grad, rtol=1e-4, atol=1e-7) and full_grad.abs().sum() > 0
