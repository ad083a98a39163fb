"""Tests for evalab.generation: input checks, batch planning, and the transformers backend on the embedded model.

    python -m pytest tests/test_generation.py -q            # all (model tests are marked slow, ~30 s on 2 cores)
    python -m pytest tests/test_generation.py -q -m "not slow"
"""

from __future__ import annotations

import pytest
import torch

from evalab.generation import (
    GenerationBackend,
    GenerationStats,
    TransformersBackend,
    completion_lengths,
    left_pad,
    make_backend,
    sample_nucleus_uniform,
    plan_batches,
    sample_nucleus,
    validate_conversations,
    validate_prompts,
    validate_sampling,
)

PROMPTS = ["Name a prime number.", "Write one short sentence about the sea.", "What is 2+2?"]


# ── pure helpers (no model) ───────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("bad, msg", [
    (["ok", ""], r"prompts\[1\] is empty"),
    (["ok", "fine", "   "], r"prompts\[2\] is empty"),
    ([None], r"prompts\[0\] is NoneType"),
    (["ok", 3], r"prompts\[1\] is int"),
])
def test_validate_prompts_names_the_bad_index(bad, msg):
    with pytest.raises(ValueError, match=msg):
        validate_prompts(bad)


def test_validate_prompts_rejects_a_bare_string():
    with pytest.raises(ValueError, match="not one string"):
        validate_prompts("hello")


def test_validate_conversations_names_the_bad_message():
    with pytest.raises(ValueError, match=r"conversations\[0\]\[1\]"):
        validate_conversations([[{"role": "user", "content": "hi"}, {"role": "user"}]])
    with pytest.raises(ValueError, match=r"conversations\[1\] must be a non-empty list"):
        validate_conversations([[{"role": "user", "content": "hi"}], []])


@pytest.mark.parametrize("kw, field", [
    (dict(n=0), "n must"), (dict(max_new_tokens=0), "max_new_tokens"), (dict(temperature=-0.1), "temperature"),
    (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p"),
])
def test_validate_sampling_names_the_field(kw, field):
    args = dict(n=2, max_new_tokens=8, temperature=0.8, top_p=0.95) | kw
    with pytest.raises(ValueError, match=field):
        validate_sampling(**args)


def test_plan_batches_groups_by_length_and_covers_every_prompt():
    lengths = [5, 50, 7, 48, 6, 49]
    batches = plan_batches(lengths, batch_size=3)
    assert batches == [[1, 5, 3], [2, 4, 0]]            # the three long prompts together, then the short ones
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert plan_batches([], 4) == []
    with pytest.raises(ValueError, match="batch_size"):
        plan_batches([1], 0)


def test_sorting_reduces_padding():
    lengths = [5, 50, 7, 48, 6, 49]
    def padding(batches):
        return sum(max(lengths[i] for i in b) - lengths[i] for b in batches for i in b)
    in_order = [[0, 1, 2], [3, 4, 5]]
    assert padding(plan_batches(lengths, 3)) < padding(in_order)


def test_left_pad():
    ids, mask = left_pad([[1, 2, 3], [4]], pad_id=0)
    assert ids == [[1, 2, 3], [0, 0, 4]]
    assert mask == [[1, 1, 1], [0, 0, 1]]


def test_completion_lengths_stop_at_first_eos():
    new = torch.tensor([[5, 6, 2, 2], [5, 6, 7, 8], [2, 2, 2, 2]])
    assert completion_lengths(new, {2}) == [3, 4, 1]


def test_stats_tokens_per_s():
    assert GenerationStats(new_tokens=100, seconds=4.0).tokens_per_s == 25.0
    assert GenerationStats().tokens_per_s == 0.0


def _reference_nucleus(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """The nucleus distribution the textbook way: sort everything, keep the smallest set reaching top_p."""
    probs = torch.softmax(logits / temperature, -1)
    vals, idx = torch.sort(probs, descending=True)
    keep = (vals.cumsum(-1) - vals) < top_p
    out = torch.zeros_like(probs)
    out.scatter_(-1, idx, vals * keep)
    return out / out.sum(-1, keepdim=True)


@pytest.mark.parametrize("candidates", [3, 64])      # 3: most rows need the full-sort fallback; 64: none do
def test_sample_nucleus_matches_the_reference_distribution(candidates):
    torch.manual_seed(0)
    logits = torch.randn(4, 64) * 2.0
    want = _reference_nucleus(logits, 0.8, 0.9)
    draws = 4000
    counts = torch.zeros_like(want)
    for _ in range(draws // 100):
        tokens = sample_nucleus(logits.repeat_interleave(100, 0), 0.8, 0.9, candidates=candidates).view(4, 100)
        counts += torch.nn.functional.one_hot(tokens, 64).sum(1).float()
    freq = counts / draws
    assert (freq[want == 0] == 0).all()                       # never a token outside the nucleus
    assert (freq - want).abs().max() < 0.035                   # 4000 draws: binomial sd <= 0.008


def test_sample_nucleus_is_seeded_and_top_p_one_keeps_everything():
    logits = torch.randn(8, 100)
    torch.manual_seed(1)
    a = sample_nucleus(logits, 1.0, 0.95)
    torch.manual_seed(1)
    assert torch.equal(a, sample_nucleus(logits, 1.0, 0.95))
    torch.manual_seed(2)
    flat = torch.zeros(1, 100).repeat(2000, 1)                 # uniform: top_p=1 must reach all 100 tokens
    assert sample_nucleus(flat, 1.0, 1.0, candidates=16).unique().numel() > 90


@pytest.mark.parametrize("top_p", [0.9, 1.0])
def test_sample_nucleus_uniform_matches_the_reference_distribution(top_p):
    torch.manual_seed(0)
    logits = torch.randn(4, 64) * 2.0
    want = _reference_nucleus(logits, 0.8, top_p)
    draws = 4000
    u = torch.rand(4 * draws)
    tokens = sample_nucleus_uniform(logits.repeat_interleave(draws, 0), 0.8, top_p, u, candidates=3).view(4, draws)
    freq = torch.nn.functional.one_hot(tokens, 64).sum(1).float() / draws
    assert (freq[want == 0] == 0).all()                       # never a token outside the nucleus
    assert (freq - want).abs().max() < 0.035
    assert torch.equal(sample_nucleus_uniform(logits, 0.8, top_p, u[:4]), sample_nucleus_uniform(logits, 0.8, top_p, u[:4]))


def test_loop_decoder_settings_are_checked():
    with pytest.raises(ValueError, match="decoder 'beam' is unknown"):
        TransformersBackend._setup(object.__new__(TransformersBackend), None, None, 1, "m", "fast", decoder="beam")
    with pytest.raises(ValueError, match="max_rows must be"):
        TransformersBackend._setup(object.__new__(TransformersBackend), None, None, 1, "m", "fast", max_rows=0)


def test_make_backend_rejects_unknown_kind():
    with pytest.raises(ValueError, match="backend 'tgi' is unknown"):
        make_backend("tgi", "smollm2-135m")


# ── the embedded model ────────────────────────────────────────────────────────────────────────────────

@pytest.fixture(scope="module")
def backend() -> TransformersBackend:
    return TransformersBackend("smollm2-135m", batch_size=2)


@pytest.mark.slow
def test_contract_shape_and_protocol(backend):
    out = backend.generate(PROMPTS, n=2, max_new_tokens=8, seed=0, progress=False)
    assert isinstance(backend, GenerationBackend)
    assert len(out) == len(PROMPTS) and all(len(r) == 2 for r in out)
    assert all(isinstance(t, str) and t for r in out for t in r)
    assert not any("<|im_end|>" in t or "<|im_start|>" in t for r in out for t in r)
    s = backend.last_stats
    assert s.n_prompts == 3 and s.n_sequences == 6 and s.n_batches == 1        # loop decoder: <= 192 rows a batch
    assert 0 < s.new_tokens <= 6 * 8 and s.seconds > 0
    counts = backend.last_token_counts
    assert [len(c) for c in counts] == [2, 2, 2] and sum(map(sum, counts)) == s.new_tokens
    assert all(1 <= c <= 8 for row in counts for c in row)


@pytest.mark.slow
def test_same_seed_same_outputs_other_seed_differs(backend):
    kw = dict(n=2, max_new_tokens=8, temperature=1.0, top_p=0.95, progress=False)
    a = backend.generate(PROMPTS[:2], seed=7, **kw)
    b = backend.generate(PROMPTS[:2], seed=7, **kw)
    c = backend.generate(PROMPTS[:2], seed=8, **kw)
    assert a == b
    assert a != c


@pytest.mark.slow
def test_hf_sampler_also_honours_the_contract(backend):
    backend.sampler = "hf"
    try:
        a = backend.generate(PROMPTS[:2], n=2, max_new_tokens=6, seed=5, progress=False)
        b = backend.generate(PROMPTS[:2], n=2, max_new_tokens=6, seed=5, progress=False)
    finally:
        backend.sampler = "fast"
    assert a == b and [len(r) for r in a] == [2, 2]


@pytest.mark.slow
def test_greedy_copies_identical_and_outputs_follow_input_order(backend):
    fwd = backend.generate(PROMPTS[:2], n=2, max_new_tokens=8, temperature=0, progress=False)
    assert all(r[0] == r[1] for r in fwd)                     # greedy: the n copies are identical
    rev = backend.generate(PROMPTS[:2][::-1], n=1, max_new_tokens=8, temperature=0, progress=False)
    # both calls put the two prompts in one batch (sorted by length), so the texts must follow input order
    assert [r[0] for r in rev] == [fwd[1][0], fwd[0][0]]


@pytest.mark.slow
def test_empty_and_bad_prompts(backend):
    assert backend.generate([], n=3) == []
    assert backend.last_stats.new_tokens == 0
    with pytest.raises(ValueError, match=r"prompts\[1\] is empty"):
        backend.generate(["fine", ""], n=1)


@pytest.mark.slow
def test_generate_chat_uses_the_system_message(backend):
    conv = [{"role": "system", "content": "Reply with the single word OK."}, {"role": "user", "content": "Ready?"}]
    out = backend.generate_chat([conv], n=1, max_new_tokens=6, temperature=0, progress=False)
    plain = backend.generate(["Ready?"], n=1, max_new_tokens=6, temperature=0, progress=False)
    assert out[0][0] != plain[0][0]


@pytest.mark.slow
def test_from_loaded_keeps_training_mode(backend):
    model, tok = backend.model, backend.tokenizer
    model.train()
    b2 = TransformersBackend.from_loaded(model, tok, batch_size=4)
    out = b2.generate(PROMPTS[:1], n=1, max_new_tokens=4, temperature=0, progress=False)
    assert len(out) == 1 and model.training
    model.eval()


@pytest.mark.slow
def test_loop_decoder_greedy_matches_transformers_generate(backend):
    backend.decoder = "generate"
    try:
        old = backend.generate(PROMPTS[:3], n=1, max_new_tokens=8, temperature=0, progress=False)
    finally:
        backend.decoder = "loop"
    assert backend.generate(PROMPTS[:3], n=1, max_new_tokens=8, temperature=0, progress=False) == old


@pytest.mark.slow
def test_loop_decoder_samples_do_not_depend_on_the_batch(backend):
    kw = dict(n=2, max_new_tokens=8, seed=3, progress=False)
    together = backend.generate(PROMPTS[:3], **kw)                  # one batch (max_rows 192)
    backend.max_rows = 2                                            # one prompt (2 rows) per batch
    try:
        apart = backend.generate(PROMPTS[:3], **kw)
    finally:
        backend.max_rows = 192
    assert apart == together                                        # each sequence has its own random stream
    assert len({t for texts in together for t in texts}) > 1


@pytest.mark.slow
def test_preallocated_cache_gives_the_stock_cache_tokens_and_grows_past_its_capacity(backend, monkeypatch):
    """decode_batch's in-place key/value buffers vs transformers' DynamicCache (torch.cat per step): the same
    tokens, sampled and greedy, with rows dropped as they finish; and with a capacity of 1 position, so the
    buffers are reallocated (doubling) many times during the prefill and the decoding."""
    import evalab.generation as g
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    kw = dict(n=3, max_new_tokens=24, progress=False)
    fast = [backend.generate(PROMPTS[:3], seed=5, **kw), backend.generate(PROMPTS[:3], temperature=0.0, **kw)]
    built: list = []
    real = g.preallocated_cache

    def tiny(model, capacity):
        c = real(model, 1)
        built.append(c)
        return c

    monkeypatch.setattr(g, "preallocated_cache", tiny)
    grown = [backend.generate(PROMPTS[:3], seed=5, **kw), backend.generate(PROMPTS[:3], temperature=0.0, **kw)]
    assert built and all(type(layer) is not DynamicLayer for layer in built[0].layers)
    assert all(layer._k.shape[-2] > 1 for layer in built[0].layers)     # they grew from 1 position
    monkeypatch.setattr(g, "preallocated_cache", lambda model, capacity: DynamicCache(config=model.config))
    stock = [backend.generate(PROMPTS[:3], seed=5, **kw), backend.generate(PROMPTS[:3], temperature=0.0, **kw)]
    assert fast == stock == grown
    assert len({t for texts in fast[0] for t in texts}) > 1
