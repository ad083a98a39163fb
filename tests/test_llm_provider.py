"""Tests for evalab.llm: the embedded model served through litellm as ``evalab/<name>``.

    python -m pytest tests/test_llm_provider.py -q           # real litellm calls on the local model (slow, ~30 s)
"""

from __future__ import annotations

import asyncio
import time

import pytest

import evalab  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)
import litellm
from evalab import llm
from evalab.llm import LOCAL_PROVIDER, achat, apply_stop, chat, register_local_provider, request_params

MODEL = "evalab/smollm2-135m"
MSG = [{"role": "user", "content": "Name a colour."}]


# ── request handling (no model) ───────────────────────────────────────────────────────────────────────

def test_register_is_idempotent():
    register_local_provider()
    register_local_provider()
    entries = [e for e in litellm.custom_provider_map if e["provider"] == LOCAL_PROVIDER]
    assert len(entries) == 1
    assert isinstance(entries[0]["custom_handler"], litellm.CustomLLM)
    assert LOCAL_PROVIDER in litellm._custom_providers


def test_request_params_defaults_and_aliases():
    p = request_params({"max_completion_tokens": 7, "seed": 3})
    assert p == {"max_tokens": 7, "temperature": 1.0, "top_p": 1.0, "seed": 3, "n": 1, "stop": []}
    assert request_params({"stop": "END"})["stop"] == ["END"]
    assert request_params({})["max_tokens"] == llm.DEFAULT_MAX_TOKENS
    # no seed: fresh draws (two equal draws out of 2**31 would be a bug, not luck)
    assert request_params({})["seed"] != request_params({})["seed"]


@pytest.mark.parametrize("params, field", [
    ({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"), ({"max_tokens": 2.5}, "max_tokens"),
    ({"n": -1}, "n must"),
])
def test_request_params_reject_bad_values(params, field):
    with pytest.raises(ValueError, match=field):
        request_params(params)


def test_apply_stop_cuts_at_the_earliest_stop():
    assert apply_stop("red. END blue STOP", ["STOP", "END"]) == ("red. ", True)
    assert apply_stop("red", ["END"]) == ("red", False)
    assert apply_stop("red", []) == ("red", False)


def test_unknown_local_model_fails_fast_with_its_name():
    register_local_provider()
    t0 = time.perf_counter()
    with pytest.raises(litellm.BadRequestError, match="unknown local model 'no-such-model'"):
        litellm.completion(model="evalab/no-such-model", messages=MSG, max_tokens=4)
    assert time.perf_counter() - t0 < 10          # no minutes of hub retries


def test_missing_checkpoint_folder_is_named(tmp_path):
    register_local_provider()
    with pytest.raises(litellm.BadRequestError, match="config.json"):
        litellm.completion(model=f"evalab/{tmp_path}/nothing-here", messages=MSG, max_tokens=4)


# ── real calls on the embedded model ──────────────────────────────────────────────────────────────────

@pytest.mark.slow
def test_completion_runs_the_local_model():
    register_local_provider()
    r = litellm.completion(model=MODEL, messages=MSG, max_tokens=6, seed=0)
    text = r.choices[0].message.content
    assert isinstance(text, str) and text.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    assert 0 < r.usage.completion_tokens <= 6 and r.usage.prompt_tokens > 0
    assert r.model == MODEL


@pytest.mark.slow
def test_seed_determinism_and_async_path_agree():
    kw = dict(max_tokens=8, temperature=1.0, top_p=1.0)
    a = chat(MODEL, MSG, seed=11, **kw)
    b = chat(MODEL, MSG, seed=11, **kw)
    c = asyncio.run(achat(MODEL, MSG, seed=11, **kw))
    others = {chat(MODEL, MSG, seed=s, **kw) for s in (12, 13)}
    assert a == b == c
    assert others != {a}                         # other seeds do not all reproduce seed 11


@pytest.mark.slow
def test_greedy_n_choices_and_max_tokens():
    r = litellm.completion(model=MODEL, messages=MSG, max_tokens=4, temperature=0, n=2)
    assert len(r.choices) == 2
    assert r.choices[0].message.content == r.choices[1].message.content
    assert r.usage.completion_tokens <= 2 * 4
    long = litellm.completion(model=MODEL, messages=[{"role": "user", "content": "Write a long story."}],
                              max_tokens=3, temperature=0)
    assert long.choices[0].finish_reason == "length"


@pytest.mark.slow
def test_concurrent_acompletion_is_serialized_not_broken():
    async def both():
        return await asyncio.gather(*(litellm.acompletion(model=MODEL, messages=MSG, max_tokens=5, seed=s)
                                      for s in (1, 2, 1)))
    register_local_provider()
    r1, _, r3 = asyncio.run(both())
    assert r1.choices[0].message.content == r3.choices[0].message.content   # same seed, concurrent: same text


@pytest.mark.slow
def test_concurrent_requests_are_micro_batched_with_their_own_seeds():
    """Concurrent acompletion calls are generated together, each as it would be alone (its own seed)."""
    register_local_provider()
    kw = dict(max_tokens=6, temperature=1.0, top_p=1.0)
    msgs = [[{"role": "user", "content": c}] for c in ("Name a colour.", "Name a fruit.", "Say hi.")]
    alone = [chat(MODEL, m, seed=20 + i, **kw) for i, m in enumerate(msgs)]
    batcher = llm.get_batcher("smollm2-135m")
    before = len(batcher.batch_sizes)

    async def together():
        return await asyncio.gather(*(achat(MODEL, m, seed=20 + i, **kw) for i, m in enumerate(msgs)))
    assert asyncio.run(together()) == alone
    assert max(batcher.batch_sizes[before:]) > 1               # served in fewer generations than requests


@pytest.mark.slow
def test_a_burst_of_more_concurrent_calls_than_executor_threads_is_one_generation():
    """40 concurrent acompletion calls (more than asyncio's default executor threads, min(32, cpus + 4), which
    once capped the batch at 6 on a 2-core machine) are served by one batched generation, in request order."""
    register_local_provider()
    batcher = llm.get_batcher("smollm2-135m")
    kw = dict(max_tokens=2, temperature=0.0)
    msgs = [[{"role": "user", "content": f"Count to {i}."}] for i in range(40)]

    async def burst():
        return await asyncio.gather(*(achat(MODEL, m, seed=i, **kw) for i, m in enumerate(msgs)))
    before = len(batcher.batch_sizes)
    texts = asyncio.run(burst())
    assert batcher.batch_sizes[before:] == [40]
    assert texts[7] == chat(MODEL, msgs[7], seed=7, **kw)   # greedy: the batched text is the one it gets alone


def test_a_request_cancelled_while_queued_is_not_generated():
    """A queued request whose caller gave up (asyncio timeout cancels the future) is dropped, not generated."""
    from evalab.llm import MicroBatcher, request_params
    seen = []

    class FakeBackend:
        last_finished, last_prompt_tokens, last_token_counts = [], [], []

        def _run_loop(self, convs, n, max_tokens, temperature, top_p, seed, progress, seeds):
            seen.append([c[0]["content"] for c in convs])
            self.last_finished = [[True]] * len(convs)
            self.last_prompt_tokens = [1] * len(convs)
            self.last_token_counts = [[1]] * len(convs)
            return [[c[0]["content"].upper()] for c in convs]

    b = MicroBatcher(FakeBackend(), window_s=0.2)
    p = request_params({"seed": 1})
    gone = b.enqueue([{"role": "user", "content": "gone"}], p)
    assert gone.cancel()
    kept = b.enqueue([{"role": "user", "content": "kept"}], p)
    assert kept.result(timeout=10).texts == ["KEPT"]
    assert seen == [["kept"]]
    b.close()
