"""The creator that learns (evalab.creator_training): reward plumbing (fast, fakes) and one real GRPO step of the
embedded creator against a fixed toy solver (slow: loads SmolLM2-135M)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalab.config import EvaConfig, profile_config
from evalab.creator_training import CreatorReward, creator_dataset, propose
from evalab.prompts import Prompt

CONS = [{"kind": "uppercase"}]


def _parent(pid: str = "p0", task: str = "Describe the good and bad sides of smartphones.") -> Prompt:
    from evalab.constraints import render_prompt

    return Prompt(id=pid, text=render_prompt(task, CONS), task=task, constraints=CONS)


def _by_length(n: int = 20):
    """A fixed toy solver: the pass rate rises with the proposal's task length, p = min(1, 1/2 + words/40), so
    r_zero = 1 - 2|p - 1/2| = max(0, 1 - words/20) rewards short (valid) proposals."""
    def score(prompts):
        out = np.zeros((len(prompts), n))
        for i, p in enumerate(prompts):
            out[i, :int(round(n * min(1.0, 0.5 + len(p.task.split()) / 40)))] = 1.0
        return out
    return score


def test_propose_keeps_the_parents_constraints_and_rejects_bad_completions():
    parent = _parent()
    p, reason = propose(parent, "New prompt: Compare phones and landlines for an elderly reader.", max_chars=2000)
    assert reason == "" and p is not None
    assert p.constraints == CONS and p.parent_id == "p0"
    assert p.task == "Compare phones and landlines for an elderly reader."
    assert p.text.startswith(p.task) and p.text != p.task  # the rendered constraint follows the task
    assert propose(parent, "   ", max_chars=2000) == (None, "empty")
    assert propose(parent, parent.task, max_chars=2000)[1] == "copy"
    assert propose(parent, "Compare phones and landlines for an elderly reader.", max_chars=20)[1] == "over_long"


def test_creator_reward_scores_valid_proposals_only_and_penalizes_repeats():
    seen = []

    def scorer(prompts):
        seen.extend(p.task for p in prompts)
        return np.array([[1.0, 0.0, 1.0, 0.0]] * len(prompts))  # p = 1/2: r_zero 1 before the penalty

    parent = _parent()
    r = CreatorReward(scorer, [parent], name="r_zero")
    comps = [[{"role": "assistant", "content": "Explain how a battery ages in a phone."}],
             [{"role": "assistant", "content": "   "}],
             [{"role": "assistant", "content": "Explain how a battery ages in a phone."}],
             [{"role": "assistant", "content": "List three rare uses of an old smartphone at home."}]]
    got = r(["x"] * 4, comps, parent_id=["p0"] * 4)
    assert len(seen) == 3  # the blank completion never reaches the solver
    # repetition penalty |cluster| / B over the 3 valid proposals: the two copies pay 2/3, the other 1/3
    np.testing.assert_allclose(got, [1 - 2 / 3, 0.0, 1 - 2 / 3, 1 - 1 / 3])
    df = r.frame()
    assert df["valid"].tolist() == [True, False, True, True]
    assert df.loc[1, "reason"] == "empty" and np.isnan(df.loc[1, "pass_rate"])
    assert df.loc[0, "pass_rate"] == 0.5


@pytest.mark.parametrize("name,expected", [("azr", 0.75), ("sqlm", 1.0), ("informativeness", 1.0)])
def test_creator_reward_follows_the_configured_reward(name, expected):
    r = CreatorReward(lambda ps: np.array([[1.0, 0.0, 0.0, 0.0]] * len(ps)), [_parent()], name=name)
    got = r(["x"], ["Explain how a battery ages in a phone."], parent_id=["p0"])
    assert got == [pytest.approx(max(0.0, expected - 1.0))]  # a batch of one pays the full penalty 1/1
    r2 = CreatorReward(lambda ps: np.array([[1.0, 0.0, 0.0, 0.0]] * len(ps)), [_parent(), _parent("p1")], name=name)
    got2 = r2(["x", "x"], ["Explain how a battery ages in a phone.", "Name five rare insects of Iceland."],
              parent_id=["p0", "p1"])
    assert got2 == [pytest.approx(expected - 0.5)] * 2


def test_creator_dataset_and_config_fields():
    ds = creator_dataset([_parent("a"), _parent("b")])
    assert ds["parent_id"] == ["a", "b"] and ds["operator"] == ["deepen", "concretize"]
    assert ds[0]["prompt"][0]["role"] == "user" and "smartphones" in ds[0]["prompt"][0]["content"]
    with pytest.raises(ValueError, match="creator_reward='nope'"):
        CreatorReward(lambda ps: None, [], name="nope")
    for kw, field in [({"creator_training": "ppo"}, "creator_training"), ({"creator_reward": "x"}, "creator_reward"),
                      ({"creator_grpo_n": 1}, "creator_grpo_n"), ({"creator_grpo_steps": 0}, "creator_grpo_steps"),
                      ({"creator_grpo_lr": -1.0}, "creator_grpo_lr"),
                      ({"creator_training": "grpo", "creator": "gemini/gemini-1.5-pro"}, "creator_training")]:
        with pytest.raises(ValueError, match=f"EvaConfig.{field}="):
            EvaConfig(**kw).validate()
    from evalab.__main__ import _config, _parse_set
    from evalab.config import IDENTITY_FIELDS

    cli = _config("ci", "unused", _parse_set(["creator_training=grpo", "creator_reward=informativeness",
                                              "creator_grpo_steps=3", "creator_grpo_lr=1e-5", "creator_grpo_n=3"]))
    assert (cli.creator_training, cli.creator_reward, cli.creator_grpo_steps, cli.creator_grpo_lr,
            cli.creator_grpo_n) == ("grpo", "informativeness", 3, 1e-5, 3)

    assert {"creator_training", "creator_reward", "creator_grpo_steps", "creator_grpo_lr",
            "creator_grpo_n"} <= set(IDENTITY_FIELDS)


@pytest.mark.slow
def test_one_real_grpo_step_changes_the_creator_and_raises_its_reward(tmp_path):
    """Issue 15's done-when: one real GRPO step of the embedded creator (2 parents x 4 completions of 16 tokens,
    lr 1e-4) against the fixed toy solver above changes its weights, and fresh proposals sampled with the same
    seed before and after the step earn a higher mean reward."""
    import torch

    from evalab.creator_training import mean_proposal_reward, train_creator_grpo
    from evalab.models import load_model
    from evalab.prompts import load_prompts

    torch.manual_seed(0)
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"), creator_training="grpo", creator_max_tokens=16,
                         creator_grpo_n=4, creator_grpo_steps=1, creator_grpo_lr=1e-4)
    parents = load_prompts(cfg.prompt_set, 2)
    model, tok = load_model("smollm2-135m")
    toy = _by_length()
    judge = CreatorReward(toy, parents, name="r_zero")
    before_w = {k: v.detach().clone() for k, v in model.named_parameters()}
    before = mean_proposal_reward(model, tok, judge, parents, n=4, max_new_tokens=16, seed=0)
    out = train_creator_grpo(cfg, toy, parents, tmp_path / "creator", model=model, tokenizer=tok)
    after = mean_proposal_reward(model, tok, judge, parents, n=4, max_new_tokens=16, seed=0)
    changed = sum(not torch.equal(before_w[k], v) for k, v in model.named_parameters())
    print(f"creator GRPO: {out['seconds_per_step']:.1f} s/step, reward {before:.3f} -> {after:.3f}")
    assert changed > 0.5 * len(before_w)
    assert after > before
    rewards = out["rewards"]
    assert len(rewards) == 8 and rewards["step"].eq(1).all() and rewards["reward"].between(0, 1).all()
    assert (out["checkpoint"] / "config.json").exists()
    assert "creator/reward_mean" in out["log_history"].columns


def test_loop_trains_the_creator_before_step_4_and_evolves_with_the_checkpoint(tmp_path):
    """creator_training="grpo" in the offline loop: the evolved stage first trains the creator (a tiny random
    checkpoint, one GRPO step, solver = the loop tests' deterministic stand-in backend), stores its proposals and
    checkpoint in the run store, and step 4 then calls that checkpoint through the local litellm provider."""
    from test_loop import TableBackend
    from tiny_model import make_tiny_model

    from evalab import llm
    from evalab.loop import EvaRun

    tiny = make_tiny_model(tmp_path / "tiny")
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"), n_prompts=4, n_responses=2,
                         creator=f"evalab/{tiny}", creator_training="grpo", creator_grpo_steps=1,
                         creator_grpo_n=2, creator_max_tokens=8, creator_grpo_lr=1e-3)
    run = EvaRun(cfg, backend_factory=lambda path: TableBackend(path), progress=False)
    for stage in ("responses", "weights", "selected", "evolved"):
        run.run_stage(0, stage)
    s = run.store
    assert s.has(0, "creator_checkpoint") and (s.path(0, "creator_checkpoint") / "config.json").exists()
    rows = s.read_table(0, "creator_training")
    n_sel = len(s.read_table(0, "selected"))
    assert len(rows) == min(n_sel, 2) * 2 and set(rows["parent_id"]) <= set(s.read_table(0, "selected").prompt_id)
    assert {"proposal", "valid", "reason", "pass_rate", "reward", "iteration"} <= set(rows.columns)
    ck = str(s.path(0, "creator_checkpoint"))
    ev = s.read_table(0, "evolved")
    llm_calls = ev["operator"].isin(["deepen", "concretize", "reasoning", "breadth"]).sum()
    assert llm_calls > 0, ev[["operator", "reason"]]
    assert any(ck in name for name in llm._BACKENDS), list(llm._BACKENDS)  # step 4 ran on the trained creator
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "creator_training" and e["iteration"] == 0 for e in events)


def test_online_eva_refuses_a_trained_creator(tmp_path):
    from evalab.online import run_online_eva

    cfg = profile_config("ci", run_dir=str(tmp_path / "online"), creator_training="grpo")
    with pytest.raises(ValueError, match="EvaConfig.creator_training='grpo': online eva keeps a fixed creator"):
        run_online_eva(cfg, steps=1, evolve_every=1, model=object(), tokenizer=object(), progress=False)
