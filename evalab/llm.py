"""The embedded model behind litellm: ``litellm.completion(model="evalab/smollm2-135m", ...)`` runs locally.

    from evalab.llm import chat, register_local_provider
    register_local_provider()            # idempotent; afterwards litellm.completion/acompletion serve "evalab/<name>"
    text = chat("evalab/smollm2-135m", [{"role": "user", "content": "Say hi."}], max_tokens=16, seed=0)

This puts the local solver behind the same model-string interface as hosted creators and judges, so a
creator or judge configured as ``"evalab/smollm2-135m"`` needs no network. Any name after ``evalab/`` goes
through :func:`evalab.models.resolve_model_path` (embedded aliases, checkpoint folders, Hugging Face ids).
A Hugging Face id must already be in the local HF cache unless ``EVALAB_ALLOW_DOWNLOAD=1`` is set: offline,
a download attempt would spend minutes in retries before failing.

Honoured request parameters: ``max_tokens`` (or ``max_completion_tokens``; default 256), ``temperature``
(default 1.0; 0 = greedy), ``top_p`` (default 1.0), ``seed`` (same request + seed -> same text; without a
seed each request draws a fresh one, as hosted APIs do), ``n`` (choices), ``stop`` (strings; the text is cut
before the first one). Models load once per process and are cached.

Micro-batching. Requests to one model are not generated one at a time: each goes to that model's
:class:`MicroBatcher`, whose worker thread waits ``BATCH_WINDOW_S`` (20 ms) after each request for the
next one (at most ``MAX_WAIT_S`` after the first), then generates every waiting request with the same
sampling parameters in one batched call (the loop decoder: prompts bucketed by length, finished sequences
dropped); requests that arrive meanwhile form the next batch. ``acompletion`` queues its request and awaits
it without holding a thread, so all concurrent ``acompletion`` calls (a creator with ``concurrency`` > 1)
are served together. Each request keeps its
own seed: its sequences draw from their own random streams, seeded from the request's seed as if it had
been generated alone, so the text does not depend on which requests shared the batch (up to the
floating-point reduction order of a batched matmul, which can flip a near-tie token).
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must never try the network

import litellm  # noqa: E402
from litellm import CustomLLM  # noqa: E402
from litellm.llms.custom_llm import CustomLLMError  # noqa: E402
from litellm.types.utils import Choices, Message, ModelResponse, Usage  # noqa: E402

from .generation import TransformersBackend, validate_conversations  # noqa: E402
from .models import EMBEDDED_ALIASES, resolve_model_path  # noqa: E402

LOCAL_PROVIDER = "evalab"
DEFAULT_MAX_TOKENS = 256
BATCH_WINDOW_S = 0.02   # how long a batch waits for the next request after the last one arrived
MAX_WAIT_S = 0.25       # how long the first request of a batch waits at most
MAX_BATCH = 64          # requests generated together at most

_BACKENDS: dict[str, TransformersBackend] = {}
_BATCHERS: dict[str, MicroBatcher] = {}
_LOCKS: dict[str, threading.Lock] = {}
_REGISTRY_LOCK = threading.Lock()


# ── step 1: find and load the local model (once per process) ──────────────────────────────────────────

def check_local_model(name: str) -> str:
    """The loadable path or id for ``name``; ``ValueError``/``FileNotFoundError`` naming it when it is unknown.

    Accepted: an embedded alias, a checkpoint folder with config.json, or a Hugging Face id already in the
    local cache (any id when ``EVALAB_ALLOW_DOWNLOAD=1``).
    """
    if not name:
        raise ValueError(f"model name after '{LOCAL_PROVIDER}/' is empty (e.g. '{LOCAL_PROVIDER}/smollm2-135m')")
    path = resolve_model_path(name)  # aliases -> cached checkpoint; bad local paths raise FileNotFoundError
    if name in EMBEDDED_ALIASES or (Path(path).expanduser() / "config.json").exists():
        return path
    if os.environ.get("EVALAB_ALLOW_DOWNLOAD") == "1" or _in_hf_cache(path):
        return path
    raise ValueError(
        f"unknown local model {name!r} for '{LOCAL_PROVIDER}/': not an embedded alias "
        f"({', '.join(sorted(EMBEDDED_ALIASES))}), not a checkpoint folder with config.json, and not in the "
        f"Hugging Face cache; download it first or set EVALAB_ALLOW_DOWNLOAD=1")


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        hit = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # malformed repo ids raise validation errors: not cached
        return False
    return isinstance(hit, str)


def get_backend(name: str) -> TransformersBackend:
    """The cached backend serving ``evalab/<name>`` (loaded on first use, loop decoder, fp32)."""
    with _REGISTRY_LOCK:
        if name not in _BACKENDS:
            path = check_local_model(name)
            _BACKENDS[name] = TransformersBackend(path, batch_size=16)
            _LOCKS[name] = threading.Lock()
        return _BACKENDS[name]


def get_batcher(name: str) -> MicroBatcher:
    """The cached :class:`MicroBatcher` of ``evalab/<name>`` (its model loads on first use)."""
    backend = get_backend(name)
    with _REGISTRY_LOCK:
        if name not in _BATCHERS:
            _BATCHERS[name] = MicroBatcher(backend, _LOCKS[name])
        return _BATCHERS[name]


def clear_cache() -> None:
    """Forget every loaded local model (frees memory; the next request reloads)."""
    with _REGISTRY_LOCK:
        for b in _BATCHERS.values():
            b.close()
        _BATCHERS.clear()
        _BACKENDS.clear()
        _LOCKS.clear()


# ── step 2: read the request ──────────────────────────────────────────────────────────────────────────

def request_params(optional_params: dict[str, Any]) -> dict[str, Any]:
    """Sampling parameters from litellm's ``optional_params``, with defaults; ``ValueError`` on bad values."""
    p = dict(optional_params or {})
    max_tokens = p.get("max_tokens", p.get("max_completion_tokens")) or DEFAULT_MAX_TOKENS
    temperature = 1.0 if p.get("temperature") is None else float(p["temperature"])
    top_p = 1.0 if p.get("top_p") is None else float(p["top_p"])
    seed = p.get("seed")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)  # no seed: a fresh draw per request, like hosted APIs
    n = int(p.get("n") or 1)
    stop = p.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": int(seed), "n": n,
            "stop": [s for s in stop if s]}


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """(text cut before the earliest stop string, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# ── step 3: micro-batch concurrent requests into one generation ──────────────────────────────────────

@dataclass
class LocalResult:
    """What one request got back: texts (one per choice), whether each ended with an end-of-turn token,
    and its token usage."""

    texts: list[str]
    finished: list[bool]
    prompt_tokens: int
    completion_tokens: int


@dataclass
class _Pending:
    conversation: list[dict[str, str]]
    params: dict[str, Any]
    future: Future = field(default_factory=Future)


def batch_key(params: dict[str, Any]) -> tuple[Any, ...]:
    """Requests generate together when these agree (the seed and the stop strings may differ)."""
    return (params["n"], params["max_tokens"], params["temperature"], params["top_p"])


def generate_group(backend: TransformersBackend, group: Sequence[_Pending]) -> list[LocalResult]:
    """One batched generation for requests sharing :func:`batch_key`; each request with its own seed."""
    p = group[0].params
    texts = backend._run_loop([g.conversation for g in group], p["n"], p["max_tokens"], p["temperature"],
                              p["top_p"], 0, progress=False, seeds=[g.params["seed"] for g in group])
    return [LocalResult(t, f, pt, sum(c)) for t, f, pt, c in
            zip(texts, backend.last_finished, backend.last_prompt_tokens, backend.last_token_counts)]


class MicroBatcher:
    """Collects the requests to one local model and generates them in batches (see the module docstring).

        batcher = MicroBatcher(backend)
        result = batcher.submit(conversation, request_params({"seed": 1}))   # blocks; thread-safe

    ``window_s``: how long a batch waits for one more request after the last arrival; ``max_wait_s``: how long
    after its first request a batch closes at the latest; ``max_batch``: requests per batch.
    ``batch_sizes`` records how many requests each generation served and ``batch_seconds`` how long it took
    (for benchmarks and tests).
    """

    def __init__(self, backend: TransformersBackend, lock: threading.Lock | None = None, *,
                 window_s: float = BATCH_WINDOW_S, max_wait_s: float = MAX_WAIT_S, max_batch: int = MAX_BATCH) -> None:
        self.backend, self.lock = backend, lock or threading.Lock()
        self.window_s, self.max_wait_s, self.max_batch = float(window_s), float(max_wait_s), int(max_batch)
        self.batch_sizes: list[int] = []
        self.batch_seconds: list[float] = []
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._worker = threading.Thread(target=self._serve, name="evalab-llm-batcher", daemon=True)
        self._worker.start()

    def enqueue(self, conversation: list[dict[str, str]], params: dict[str, Any]) -> Future:
        """Queue ``conversation`` with ``params`` (from :func:`request_params`) for the next batch; the
        :class:`LocalResult` arrives in the returned future (``asyncio.wrap_future`` awaits it)."""
        item = _Pending(conversation, params)
        self._queue.put(item)
        return item.future

    def submit(self, conversation: list[dict[str, str]], params: dict[str, Any]) -> LocalResult:
        """Generate ``conversation`` with ``params`` in the next batch; blocks until it is done."""
        return self.enqueue(conversation, params).result()

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        self._queue.put(None)

    def _collect(self) -> list[_Pending] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch, start = [first], time.monotonic()
        deadline = start + self.window_s
        while len(batch) < self.max_batch:
            try:  # requests queued during the last generation are taken at once; new ones within the window
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
            # each arrival keeps the batch open one more window (a burst of calls dispatched one by one
            # joins whole), up to max_wait_s after the first
            deadline = min(start + self.max_wait_s, time.monotonic() + self.window_s)
        return batch

    def _serve(self) -> None:
        while (batch := self._collect()) is not None:
            groups: dict[tuple[Any, ...], list[_Pending]] = {}
            for item in batch:  # a request cancelled while queued (an awaiting caller timed out) is dropped
                if item.future.set_running_or_notify_cancel():
                    groups.setdefault(batch_key(item.params), []).append(item)
            for group in groups.values():
                try:
                    with self.lock:
                        t0 = time.perf_counter()
                        results = generate_group(self.backend, group)
                        self.batch_seconds.append(time.perf_counter() - t0)
                    self.batch_sizes.append(len(group))
                except BaseException as e:  # noqa: BLE001 - handed to every waiting request
                    for item in group:
                        item.future.set_exception(e)
                    continue
                for item, res in zip(group, results):
                    item.future.set_result(res)


# ── step 4: generate and fill the OpenAI-shaped response ──────────────────────────────────────────────

def read_request(messages: list[dict[str, Any]], optional_params: dict[str, Any]
                 ) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """(conversation, sampling parameters) of one litellm request; ``ValueError`` naming a bad field."""
    conv = validate_conversations([[{"role": str(m.get("role")), "content": _text(m.get("content"))}
                                    for m in messages]])
    return conv[0], request_params(optional_params)


def fill_response(name: str, params: dict[str, Any], res: LocalResult, model_response: ModelResponse) -> ModelResponse:
    """Fill ``model_response`` (choices cut at the stop strings, usage, model) from what the batch generated."""
    choices = []
    for i, (t, ended) in enumerate(zip(res.texts, res.finished)):
        text, stopped = apply_stop(t, params["stop"])
        finish = "stop" if stopped or ended else "length"
        choices.append(Choices(index=i, finish_reason=finish, message=Message(role="assistant", content=text)))
    model_response.choices = choices
    model_response.model = f"{LOCAL_PROVIDER}/{name}"
    model_response.created = int(time.time())
    usage = Usage(prompt_tokens=res.prompt_tokens, completion_tokens=res.completion_tokens,
                  total_tokens=res.prompt_tokens + res.completion_tokens)
    model_response.usage = usage  # type: ignore[attr-defined]
    return model_response


def run_local_completion(name: str, messages: list[dict[str, Any]], optional_params: dict[str, Any],
                         model_response: ModelResponse) -> ModelResponse:
    """Generate with the local model ``name`` and fill ``model_response`` (blocks until its batch is done)."""
    conv, p = read_request(messages, optional_params)
    return fill_response(name, p, get_batcher(name).submit(conv, p), model_response)


async def arun_local_completion(name: str, messages: list[dict[str, Any]], optional_params: dict[str, Any],
                                model_response: ModelResponse) -> ModelResponse:
    """:func:`run_local_completion` for the event loop. The request waits in the batcher's queue as a future,
    not in a worker thread: ``asyncio.to_thread`` would cap the requests in flight, and so the batch size,
    at the default executor's ``min(32, cpus + 4)`` threads (6 on a 2-core machine)."""
    conv, p = read_request(messages, optional_params)
    batcher = await asyncio.to_thread(get_batcher, name)  # the first request may load the model
    res = await asyncio.wrap_future(batcher.enqueue(conv, p))
    return fill_response(name, p, res, model_response)


def _text(content: Any) -> str:
    """Message content as text (OpenAI list-of-parts content keeps its text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise ValueError(f"message content must be a string or a list of text parts, got {type(content).__name__}")


@contextmanager
def _bad_request_as_provider_error(model: str) -> Iterator[None]:
    """A bad request or an unknown model (``ValueError``/``FileNotFoundError``) leaves as litellm's 400 error
    naming ``evalab/<model>``."""
    try:
        yield
    except (ValueError, FileNotFoundError) as e:
        raise CustomLLMError(status_code=400, message=f"{LOCAL_PROVIDER}/{model}: {e}") from e


class LocalLLM(CustomLLM):
    """litellm custom provider serving local models (``evalab/<name>``) with :class:`TransformersBackend`."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                   model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any,
                   optional_params: dict, acompletion: Any = None, litellm_params: Any = None, logger_fn: Any = None,
                   headers: dict | None = None, timeout: Any = None, client: Any = None) -> ModelResponse:
        with _bad_request_as_provider_error(model):
            return run_local_completion(model, messages, optional_params, model_response)

    async def acompletion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                          model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                          logging_obj: Any, optional_params: dict, acompletion: Any = None,
                          litellm_params: Any = None, logger_fn: Any = None, headers: dict | None = None,
                          timeout: Any = None, client: Any = None) -> ModelResponse:
        with _bad_request_as_provider_error(model):
            return await arun_local_completion(model, messages, optional_params, model_response)


_HANDLER = LocalLLM()


def register_local_provider() -> None:
    """Register provider ``evalab`` in ``litellm.custom_provider_map`` (idempotent: at most one entry)."""
    with _REGISTRY_LOCK:
        entries = [e for e in litellm.custom_provider_map if e.get("provider") == LOCAL_PROVIDER]
        if not entries:
            litellm.custom_provider_map.append({"provider": LOCAL_PROVIDER, "custom_handler": _HANDLER})
        litellm.utils.custom_llm_setup()  # what litellm.completion does too; makes the provider known at once


def chat(model: str, messages: list[dict], **kw: Any) -> str:
    """Text of the first choice of ``litellm.completion(model, messages, **kw)``; registers the provider first.

    ``model`` may be any litellm model string; ``evalab/<name>`` runs locally.
    """
    if model.startswith(f"{LOCAL_PROVIDER}/"):
        register_local_provider()
    response = litellm.completion(model=model, messages=messages, **kw)
    return response.choices[0].message.content or ""


async def achat(model: str, messages: list[dict], **kw: Any) -> str:
    """Async :func:`chat` through ``litellm.acompletion``."""
    if model.startswith(f"{LOCAL_PROVIDER}/"):
        register_local_provider()
    response = await litellm.acompletion(model=model, messages=messages, **kw)
    return response.choices[0].message.content or ""
