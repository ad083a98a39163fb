"""Preference learning goes the right way: for DPO, SimPO, ORPO and SPPO a few steps on a fixed pair set raise the
mean log π(chosen) − log π(rejected), and the same steps on the swapped pairs lower it (a swapped pair is the most
common silent bug in preference training). Also: a ci run's stored pairs always prefer the higher reward, and
a trainer resumed from a checkpoint continues its global step.

A tiny random Llama-shaped model (tests/tiny_model.py) trains through evalab.training.train_preference: seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evalab.config import profile_config
from evalab.training import train_preference
from fake_run import build_fake_run
from test_loop import UNTIL_PAIRS, make_run
from tiny_model import make_tiny_model

ROOT = Path(__file__).resolve().parents[1]
PAIRS = pd.DataFrame({
    "prompt": ["Name a colour.", "Say hello.", "Count to three.", "Name an animal."],
    "chosen": ["Blue is a colour.", "Hello there, friend.", "One, two, three.", "A cat is an animal."],
    "rejected": ["I will not answer.", "No.", "Seven.", "Tables are furniture."],
})
SWAPPED = PAIRS.rename(columns={"chosen": "rejected", "rejected": "chosen"})
SETTINGS = {  # a learning rate that moves a random 2-layer model visibly in 3 steps; one optimizer for all (the
    # loss's direction is under test; SPPO's recipe optimizer, RMSprop, takes ~10x-lr first steps at this lr)
    "dpo": dict(beta=0.1), "sppo": dict(beta=0.1, optim="adamw_torch_fused"), "simpo": dict(beta=2.0, simpo_gamma=0.5),
    "orpo": dict(orpo_lambda=0.5),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cfg(trainer: str, tmp: Path):
    return profile_config("ci", run_dir=str(tmp / "run"), trainer=trainer, learning_rate=3e-3, lr_scheduler="constant",
                          epochs=1.0, train_batch_size=4, max_length=96, max_prompt_length=48, **SETTINGS[trainer])


def mean_margin(model_path: Path, pairs: pd.DataFrame) -> float:
    """Mean over pairs of log π(chosen | prompt) − log π(rejected | prompt), summed over the answer's tokens, with the
    chat template the trainers use."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()

    def logp(prompt: str, answer: str) -> float:
        msgs = [{"role": "user", "content": prompt}]
        p_ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
        full = tok.apply_chat_template(msgs + [{"role": "assistant", "content": answer}], tokenize=True,
                                       return_dict=True)["input_ids"]
        assert full[:len(p_ids)] == p_ids
        ids = torch.tensor([full])
        with torch.no_grad():
            lp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
        targets = ids[0, 1:]
        return float(lp[torch.arange(len(targets)), targets][len(p_ids) - 1:].sum())

    return sum(logp(p, c) - logp(p, r) for p, c, r in zip(pairs.prompt, pairs.chosen, pairs.rejected)) / len(pairs)


@pytest.mark.parametrize("trainer", ["dpo", "simpo", "orpo", "sppo"])
def test_training_raises_the_chosen_margin_and_swapped_pairs_lower_it(trainer, tiny, tmp_path):
    cfg = _cfg(trainer, tmp_path)
    before = mean_margin(tiny, PAIRS)
    after = {}
    for name, pairs in (("right", PAIRS), ("swapped", SWAPPED)):
        out = tmp_path / name
        train_preference(cfg, str(tiny), pairs, out, progress=False, keep_checkpoints=False, save_steps=1000,
                         overrides={"max_steps": 3})
        after[name] = mean_margin(out, PAIRS)
    assert after["right"] > before + 0.05, (before, after)
    assert after["swapped"] < before - 0.05, (before, after)


def test_a_resumed_training_continues_its_global_step(tiny, tmp_path):
    cfg = _cfg("dpo", tmp_path)
    out, work = tmp_path / "out", tmp_path / "work"
    full = train_preference(cfg, str(tiny), PAIRS, out, work_dir=work, progress=False, save_steps=1,
                            overrides={"max_steps": 3, "per_device_train_batch_size": 2})
    assert full["resumed_from"] is None and full["steps_run"] == full["global_step"] == 3
    # the last step is not checkpointed (the final model is written instead), so deleting the final model is
    # a kill after the checkpoint of step 2
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    shutil.rmtree(out)
    res = train_preference(cfg, str(tiny), PAIRS, out, work_dir=work, progress=False, save_steps=1,
                           overrides={"max_steps": 3, "per_device_train_batch_size": 2})
    assert res["resumed_from"] == str(work / "checkpoint-2") and res["resumed_from_step"] == 2
    assert res["global_step"] == 3 and res["steps_run"] == 1  # continued, not restarted


def test_stored_pairs_prefer_the_higher_reward(tmp_path):
    run = make_run(tmp_path, run_eval=False)
    run.run(until=UNTIL_PAIRS)
    fake = build_fake_run(tmp_path / "fake", n_iterations=2, n_prompts=12, seed=1)
    stores = [run.store.root, fake, ROOT / "data" / "demo_run"]
    n = 0
    for root in stores:
        for p in sorted(Path(root).rglob("pairs.parquet")):
            pairs = pd.read_parquet(p)
            assert (pairs.chosen_reward > pairs.rejected_reward).all(), p
            n += len(pairs)
    assert n > 0
