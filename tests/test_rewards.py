"""Reward functions: constraint reward, a real (tiny, random) HF reward model, an LLM judge via litellm."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

import evalab  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)
from evalab import constraints as C
from evalab.prompts import Prompt
from evalab.rewards import (
    CallableReward, ConstraintReward, HFRewardModel, LLMJudgeReward, RewardFunction, make_reward, parse_judge_score,
)

PROMPTS = [
    Prompt(id="a", text="Explain rain. Answer in at most 5 words.", task="Explain rain.",
           constraints=[{"kind": "word_count_max", "n": 5}]),
    Prompt(id="b", text="Describe owls. Do not use any commas. Include the word \"night\".", task="Describe owls.",
           constraints=[{"kind": "no_commas"}, {"kind": "include_keywords", "words": ["night"]}]),
    Prompt(id="c", text="Why is the sky blue?"),  # no constraints
]
RESPONSES = [
    ["Water falls from clouds.", "Rain is water that falls from clouds in the sky.", None],
    ["Owls hunt at night.", "Owls, quietly, hunt.", "Owls hunt at night, silently."],
    ["Because of scattering.", "Light scatters."],
]


# --- constraint reward ---------------------------------------------------------------------------------

def test_constraint_reward_grid_values_and_nan():
    r = ConstraintReward()(PROMPTS, RESPONSES)
    assert r.shape == (3, 3)
    assert r[0, 0] == 1.0
    assert r[0, 1] == pytest.approx(0.1 * 5 / 10)  # 10 words for at most 5: partial 0.5
    assert math.isnan(r[0, 2])  # None response
    assert r[1, 0] == 1.0
    assert r[1, 1] == pytest.approx(0.9 * 0 + 0.1 * (1 / 3 + 0) / 2)  # 2 commas, no "night"
    assert r[1, 2] == pytest.approx(0.9 * 0.5 + 0.1 * (0.5 + 1) / 2)  # 1 comma; has "night"
    assert np.isnan(r[2]).all()  # nothing to check: missing, not zero
    for i, p in enumerate(PROMPTS[:2]):
        for j, resp in enumerate(RESPONSES[i]):
            if resp is not None:
                assert r[i, j] == pytest.approx(C.score_response(p.constraints, resp)["reward"])


def test_constraint_reward_accepts_dicts_and_json_constraints():
    as_dict = [{"text": "x", "constraints": '[{"kind": "no_commas"}]'}]
    assert ConstraintReward()(as_dict, [["a, b", "a b"]]).tolist() == [[pytest.approx(0.05), 1.0]]


def test_breakdown_per_kind():
    df = ConstraintReward().breakdown(PROMPTS, RESPONSES)
    assert len(df) == 2 + 3 * 2  # prompt a: 2 scored responses x 1 constraint; prompt b: 3 x 2
    rate = df.groupby("kind").satisfied.mean()
    assert rate["word_count_max"] == 0.5 and rate["include_keywords"] == pytest.approx(2 / 3)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="one list per prompt"):
        ConstraintReward()(PROMPTS, RESPONSES[:2])
    with pytest.raises(ValueError, match="is a string"):
        ConstraintReward()(PROMPTS[:1], ["just a string"])


def test_callable_reward_and_make_reward():
    rf = make_reward(lambda prompt, response: None if "skip" in response else len(response.split()))
    r = rf(["p", "q"], [["one two", "skip me"], ["x"]])
    assert r[0, 0] == 2 and math.isnan(r[0, 1]) and r[1, 0] == 1 and math.isnan(r[1, 1])
    assert isinstance(make_reward("constraints"), ConstraintReward)
    own = ConstraintReward()
    assert make_reward(own) is own and isinstance(own, RewardFunction)
    assert isinstance(rf, CallableReward)
    for bad in ("", "rm:", "judge:", "reward-model", 42):
        with pytest.raises(ValueError, match="unknown reward spec"):
            make_reward(bad)


# --- HF reward model: a real, tiny, randomly initialised sequence-classification model -------------------

@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    """A 1-layer Llama sequence classifier with the embedded model's tokenizer (and its chat template)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from evalab.models import cache_dir, gguf_path

    cached = cache_dir() / "smollm2-135m-instruct"
    if (cached / "DONE").exists():
        tok = AutoTokenizer.from_pretrained(cached)
    else:  # tokenizer only, straight from the GGUF file (no model conversion needed)
        g = gguf_path()
        tok = AutoTokenizer.from_pretrained(g.parent, gguf_file=g.name)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, num_labels=1,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(cfg)
    path = tmp_path_factory.mktemp("tiny_rm")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.slow
def test_hf_reward_model_shapes_nan_and_determinism(tiny_rm):
    rm = HFRewardModel(str(tiny_rm), batch_size=2, device="cpu")
    assert rm.uses_chat_template  # the embedded tokenizer ships one: the RM reads its own template
    text = rm.format("Explain rain.", "Water falls.")
    assert "<|im_start|>user\nExplain rain." in text and "<|im_start|>assistant\nWater falls." in text
    r1 = rm(PROMPTS, RESPONSES)
    assert r1.shape == (3, 3) and r1.dtype == float
    assert np.isnan(r1[0, 2]) and np.isnan(r1[2, 2])  # None response, ragged row
    finite = r1[~np.isnan(r1)]
    assert finite.size == 7 and np.isfinite(finite).all()
    assert len(np.unique(np.round(finite, 6))) > 1  # different texts, different scores
    np.testing.assert_array_equal(r1, rm(PROMPTS, RESPONSES))  # deterministic


@pytest.mark.slow
def test_hf_reward_model_batching_and_padding_do_not_change_scores(tiny_rm):
    one = HFRewardModel(str(tiny_rm), batch_size=1, device="cpu")(PROMPTS, RESPONSES)
    many = HFRewardModel(str(tiny_rm), batch_size=8, device="cpu")(PROMPTS, RESPONSES)
    np.testing.assert_allclose(one, many, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_hf_reward_model_without_chat_template_uses_text_pairs(tiny_rm, tmp_path):
    plain = tmp_path / "plain_rm"
    shutil.copytree(tiny_rm, plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    cfg_path = plain / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    rm = make_reward(f"rm:{plain}", batch_size=4, device="cpu")
    assert isinstance(rm, HFRewardModel) and not rm.uses_chat_template
    assert rm.format("p", "r") == ("p", "r")
    r = rm(PROMPTS, RESPONSES)
    assert r.shape == (3, 3) and np.isfinite(r[~np.isnan(r)]).all() and np.isnan(r[0, 2])


def test_hf_reward_model_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        HFRewardModel(str(tmp_path / "nope"))


# --- LLM judge through litellm (no network: mock_response and a local CustomLLM) --------------------------

@pytest.mark.parametrize("text,expected", [
    ("Good.\nScore: 10", 1.0), ("Score: 1", 0.0), ("score = 7/10", 6 / 9), ("**Score:** 5", 4 / 9),
    ("Score: 3\nOn reflection, Score: 9", 8 / 9), ("Score: 11", math.nan), ("Score: 0", math.nan),
    ("I think it's great", math.nan), ("", math.nan), (None, math.nan),
])
def test_parse_judge_score(text, expected):
    got = parse_judge_score(text)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_judge_with_mock_response():
    judge = LLMJudgeReward("openai/judge-model", max_workers=4,
                           completion_kwargs={"mock_response": "Follows the request.\nScore: 8"})
    r = judge(PROMPTS, RESPONSES)
    assert r.shape == (3, 3) and np.isnan(r[0, 2]) and np.isnan(r[2, 2])
    assert np.allclose(r[~np.isnan(r)], 7 / 9) and judge.n_failed == 0
    bad = LLMJudgeReward("openai/judge-model", completion_kwargs={"mock_response": "no score here"})
    assert np.isnan(bad(PROMPTS[:1], [["a", "b"]])).all() and bad.n_failed == 2


def test_judge_with_a_local_custom_provider(monkeypatch):
    import litellm
    from litellm import CustomLLM, ModelResponse

    seen = []

    class LengthJudge(CustomLLM):
        """Scores by the number of words in the judged response; raises on a response saying FAIL."""

        def completion(self, *args, **kwargs):
            msg = kwargs["messages"][-1]["content"]
            seen.append(msg)
            response = msg.split("[Response]\n", 1)[1].split("\n\n", 1)[0]
            if "FAIL" in response:
                raise RuntimeError("provider error")
            score = min(10, len(response.split()))
            return ModelResponse(choices=[{"message": {"role": "assistant", "content": f"ok\nScore: {score}"}}])

    monkeypatch.setattr(litellm, "custom_provider_map",
                        list(litellm.custom_provider_map) + [{"provider": "evalabtest", "custom_handler": LengthJudge()}])
    judge = make_reward("judge:evalabtest/length", max_workers=3)
    assert isinstance(judge, LLMJudgeReward)
    r = judge(["Say something."], [["one", "one two three", "FAIL now", "w " * 30]])
    assert r[0, 0] == 0.0 and r[0, 1] == pytest.approx(2 / 9) and np.isnan(r[0, 2]) and r[0, 3] == 1.0
    assert judge.n_failed == 1
    assert len(seen) == 4 and all("Say something." in m and "Score: <1-10>" in m for m in seen)


def test_judge_bad_arguments():
    with pytest.raises(ValueError, match="empty model"):
        LLMJudgeReward("")
    with pytest.raises(ValueError, match="template"):
        LLMJudgeReward("openai/x", template="no placeholders")
