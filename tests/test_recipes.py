"""Training recipes: each trainer's paper recipe is applied whenever a trainer is chosen, CPU profiles adapt it
(without handing DPO's β to SimPO), explicit fields win, warmup and optimizer reach TRL, and
`python -m evalab config` says which field the papers fix. No model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalab.config import (LEGACY_DEFAULTS, TRAINER_RECIPES, EvaConfig, profile_config, provenance, trainer_recipe,
                           with_trainer)


def _recipe(cfg: EvaConfig) -> tuple:
    return (cfg.learning_rate, cfg.lr_scheduler, cfg.warmup_ratio, cfg.optim, cfg.beta, cfg.simpo_gamma,
            cfg.orpo_lambda, cfg.epochs, cfg.train_batch_size, cfg.max_length, cfg.max_prompt_length)


def test_paper_profile_applies_each_trainers_paper_recipe():
    simpo = profile_config("paper", trainer="simpo")
    assert (simpo.learning_rate, simpo.lr_scheduler, simpo.beta, simpo.simpo_gamma, simpo.epochs,
            simpo.train_batch_size, simpo.warmup_ratio) == (8e-7, "cosine", 10.0, 5.0, 1.0, 32, 0.1)
    orpo = profile_config("paper", trainer="orpo")
    assert (orpo.learning_rate, orpo.lr_scheduler, orpo.orpo_lambda, orpo.epochs, orpo.warmup_ratio) == (
        5e-7, "cosine", 0.5, 1.0, 0.1)
    sppo = profile_config("paper", trainer="sppo")
    assert (sppo.learning_rate, sppo.lr_scheduler, sppo.beta, sppo.epochs, sppo.optim, sppo.max_length,
            sppo.max_prompt_length, sppo.warmup_ratio) == (5e-7, "linear", 0.001, 6.0, "rmsprop", 1024, 512, 0.1)
    dpo = profile_config("paper", trainer="dpo")
    assert dpo == EvaConfig() and (dpo.warmup_ratio, dpo.seed) == (0.1, 42)
    for t in TRAINER_RECIPES:  # every value a recipe states is the config's
        c = profile_config("paper", trainer=t)
        assert {k: getattr(c, k) for k in TRAINER_RECIPES[t]} == TRAINER_RECIPES[t]


def test_cpu_profile_scales_the_trainers_recipe_instead_of_handing_it_dpos_beta():
    """Notebook 03 with trainer="simpo" on the ci profile used to train SimPO with DPO's β 0.1 and lr 1e-5."""
    simpo = profile_config("ci", run_dir="runs/x", iterations=2, trainer="simpo")
    assert simpo.beta == 10.0 and simpo.simpo_gamma == 5.0
    assert simpo.learning_rate == pytest.approx(1.6e-5)  # the profile's ×20 on SimPO's 8e-7
    assert (simpo.epochs, simpo.train_batch_size, simpo.max_length) == (1.0, 4, 256)  # capped by the profile
    sppo = profile_config("demo", trainer="sppo")
    assert (sppo.beta, sppo.lr_scheduler, sppo.optim, sppo.epochs) == (0.001, "linear", "rmsprop", 1.0)
    assert (sppo.max_length, sppo.max_prompt_length) == (384, 192)
    # DPO under the CPU profiles is what the stored results were measured with
    for prof, lr in (("ci", 1e-5), ("demo", 2e-5)):
        d = profile_config(prof)
        assert (d.trainer, d.learning_rate, d.beta, d.epochs, d.warmup_ratio) == ("dpo", lr, 0.1, 1.0, 0.0)
        assert d.optim == "adamw_torch_fused" and d.warmup_round is False


def test_explicit_fields_win_and_with_trainer_keeps_them():
    c = profile_config("ci", trainer="simpo", beta=2.0, epochs=3.0)
    assert (c.beta, c.epochs, c.simpo_gamma) == (2.0, 3.0, 5.0)
    base = profile_config("demo", run_dir="runs/r", n_prompts=20, learning_rate=3e-6)
    s = with_trainer(base, "sppo")
    assert (s.trainer, s.run_dir, s.n_prompts, s.learning_rate) == ("sppo", "runs/r", 20, 3e-6)
    assert (s.beta, s.optim, s.profile) == (0.001, "rmsprop", "demo")
    assert with_trainer(s, "dpo").beta == 0.1 and with_trainer(s, "dpo").learning_rate == 3e-6
    from evalab.training import recipe_config

    assert _recipe(recipe_config("simpo", profile_config("ci"))) == _recipe(profile_config("ci", trainer="simpo"))
    with pytest.raises(ValueError, match="trainer"):
        trainer_recipe("kto")


def test_cli_set_trainer_gets_its_recipe():
    from evalab.__main__ import _parse_set

    cfg = profile_config("ci", run_dir="runs/x", **_parse_set(["trainer=simpo", "seed=3"]))
    assert (cfg.beta, cfg.learning_rate, cfg.seed) == (10.0, pytest.approx(1.6e-5), 3)


def test_trl_args_carry_warmup_ratio_and_optimizer(tmp_path: Path):
    from evalab.training import trl_args

    s = trl_args(profile_config("paper", trainer="sppo"), tmp_path, n_pairs=64)
    assert s.optim.value == "rmsprop" and s.lr_scheduler_type.value == "linear" and s.num_train_epochs == 6.0
    assert s.get_warmup_steps(100) == 10 and s.get_warmup_steps(7) == 1  # ceil(0.1 × steps)
    assert (s.max_length, s.beta) == (1024, 0.001)
    d = trl_args(profile_config("ci"), tmp_path, n_pairs=8)
    assert d.get_warmup_steps(100) == 0 and d.optim.value == "adamw_torch_fused"
    simpo = trl_args(profile_config("paper", trainer="simpo"), tmp_path, n_pairs=64)
    assert simpo.per_device_train_batch_size == 32 and simpo.get_warmup_steps(20) == 2


def test_config_cli_marks_what_the_papers_fix(capsys):
    from evalab.__main__ import main

    assert main(["config", "--profile", "paper", "--trainer", "simpo"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["beta"][1:3] == ["10.0", "paper"] and rows["train_batch_size"][1:3] == ["32", "paper"]
    assert rows["warmup_ratio"][1:3] == ["0.1", "paper"] and rows["optim"][2] == "evalab"
    assert rows["solver"][2:4] == ["evalab,", "not"] and "gemma-2-9b-it" in " ".join(rows["solver"])
    assert rows["orpo_lambda"][2:4] == ["unused", "by"]
    src = {r["field"]: r["source"] for r in provenance(profile_config("ci", trainer="simpo", seed=7))}
    assert src["learning_rate"] == "profile ci" and src["beta"] == "paper" and src["seed"] == "set"
    assert src["n_responses"] == "profile ci" and src["temperature"] == "evalab"


def test_configs_stored_before_the_new_fields_load_as_they_ran(tmp_path: Path):
    from evalab.store import RunStore

    cfg = profile_config("ci", run_dir=str(tmp_path / "old"))
    # a config from before warmup/optim/profile existed (evolution, buffer and fill keep today's values here:
    # a config without them ran one-step evolution, which today's chained default does not resume)
    protocol_keys = ("warmup_ratio", "warmup_round", "optim", "profile")
    assert set(protocol_keys) <= set(LEGACY_DEFAULTS)
    old = {k: v for k, v in cfg.to_dict().items() if k not in protocol_keys}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))
    loaded = RunStore(tmp_path / "old").config
    assert (loaded.warmup_ratio, loaded.warmup_round, loaded.profile) == (0.0, False, "")
    RunStore(cfg.run_dir, cfg)  # resuming it with today's ci profile computes the same: accepted


def test_configs_stored_before_chained_evolution_load_as_one_step_evolution(tmp_path: Path):
    from evalab.store import RunStore

    cfg = profile_config("ci", run_dir=str(tmp_path / "old"))
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("evolution", "buffer", "fill")}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))
    loaded = RunStore(tmp_path / "old").config
    assert (loaded.evolution, loaded.buffer, loaded.fill) == ("independent", "uniform", "buffer")
    with pytest.raises(ValueError, match="evolution"):
        RunStore(cfg.run_dir, cfg)  # today's chained default computes something else: refused, named
