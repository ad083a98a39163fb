"""A tiny OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks of the creator.

    from evalab.testing_server import FakeChatServer
    with FakeChatServer(latency=0.2, failure_rate=0.3, seed=0) as srv:
        litellm.completion(model="openai/fake", api_base=srv.api_base, api_key="sk-fake", messages=[...])
        srv.stats()                                 # {"requests": ..., "ok": ..., "429": ..., "hang": ...}

Knobs: ``latency`` (seconds slept before every answer), ``failure_rate`` (share of requests that fail, each
failure drawn from ``failure_kinds``: HTTP 429 / 500 / 503, "hang" = sleep ``hang_s`` seconds so the
client times out, or the permanent 400 / 401) and ``responses`` (a callable ``(request_json) -> str``
giving the assistant text; it may raise to produce a 500). stdlib only (``http.server.ThreadingHTTPServer``: one thread per connection), bound
to the loopback interface on a random free port. Start/stop with ``with`` or ``start()``/``stop()``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

FAILURE_KINDS = ("429", "500", "503", "hang")  # transient: a client should retry these
PERMANENT_KINDS = ("400", "401")              # a client should not retry these
LOOPBACK = "127.0.0.1"


def default_response(request: dict[str, Any]) -> str:
    """A plausible evolved prompt built from the last user message (deterministic, no model)."""
    messages = request.get("messages") or []
    last = str(messages[-1].get("content", "")) if messages else ""
    words = [w for w in last.split() if w.isalpha()][:6]
    topic = " ".join(words) or "a quiet harbour town"
    return f"Describe, step by step, how you would explain {topic} to a curious twelve-year-old."


class _ChatServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default backlog (5) drops connections under 32-way concurrency


class FakeChatServer:
    """OpenAI-compatible ``POST /v1/chat/completions`` with injectable latency and failures.

    Args:
        latency: seconds to sleep before answering every request (successful or failing).
        failure_rate: probability in [0, 1] that a request fails; the failure kind is drawn uniformly
            from ``failure_kinds``.
        failure_kinds: subset of ``("429", "500", "503", "hang", "400", "401")``.
        hang_s: how long a "hang" failure sleeps before closing without an answer (set it above the
            client's timeout).
        responses: ``(request_json) -> str``, the assistant text; default :func:`default_response`.
        seed: seeds the failure draws (the order of concurrent requests still varies).
    """

    def __init__(self, *, latency: float = 0.0, failure_rate: float = 0.0,
                 failure_kinds: Sequence[str] = FAILURE_KINDS, hang_s: float = 30.0,
                 responses: Callable[[dict[str, Any]], str] | None = None, seed: int = 0) -> None:
        if latency < 0:
            raise ValueError(f"latency={latency!r}: must be >= 0 seconds")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate={failure_rate!r}: must be in [0, 1]")
        bad = [k for k in failure_kinds if k not in FAILURE_KINDS + PERMANENT_KINDS]
        if bad or not failure_kinds:
            raise ValueError(f"failure_kinds={list(failure_kinds)!r}: choose a non-empty subset of "
                             f"{FAILURE_KINDS + PERMANENT_KINDS}")
        self.latency = float(latency)
        self.failure_rate = float(failure_rate)
        self.failure_kinds = tuple(failure_kinds)
        self.hang_s = float(hang_s)
        self.responses = responses or default_response
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._in_flight = 0
        self._stopping = threading.Event()
        self._server: _ChatServer | None = None
        self._thread: threading.Thread | None = None
        self.auth_headers: list[str] = []  # Authorization headers seen (tests check keys are sent, not logged)

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeChatServer is not running: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def api_base(self) -> str:
        """Base URL for OpenAI-compatible clients (litellm ``api_base=``), ending in ``/v1``."""
        return f"http://{LOOPBACK}:{self.port}/v1"

    def start(self) -> "FakeChatServer":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _ChatServer((LOOPBACK, 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"FakeChatServer:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes hanging handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> "FakeChatServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- accounting -----------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Counts: "requests" (all POSTs), "ok", and one key per failure kind that happened."""
        with self._lock:
            return dict(self._counts)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _track_in_flight(self, delta: int) -> None:
        """Requests inside their latency wait; ``stats()["max_in_flight"]`` is the most at once (the client's
        concurrency as the server saw it, without timing anything)."""
        with self._lock:
            self._in_flight += delta
            self._counts["max_in_flight"] = max(self._counts["max_in_flight"], self._in_flight)

    def _draw_failure(self) -> str | None:
        with self._lock:
            if self.failure_rate <= 0 or self._rng.random() >= self.failure_rate:
                return None
            return str(self.failure_kinds[int(self._rng.integers(len(self.failure_kinds)))])

    # --- HTTP -----------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections (every answer has a length)

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr access logs
                return

            def _send_json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, kind: str) -> None:
                self._send_json(status, {"error": {"message": message, "type": kind, "code": status}})

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                if self.path.rstrip("/").endswith("/models"):
                    self._send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                else:
                    self._error(404, f"no route {self.path}", "not_found")

            def do_POST(self) -> None:  # noqa: N802
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._error(404, f"no route {self.path}", "not_found")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._error(400, "body is not JSON", "invalid_request_error")
                    return
                server._count("requests")
                auth = self.headers.get("Authorization")
                if auth:
                    with server._lock:
                        server.auth_headers.append(auth)
                if request.get("stream"):
                    self._error(400, "streaming is not supported by FakeChatServer", "invalid_request_error")
                    return
                if server.latency:
                    server._track_in_flight(+1)
                    try:
                        server._stopping.wait(server.latency)
                    finally:
                        server._track_in_flight(-1)
                failure = server._draw_failure()
                if failure is not None:
                    server._count(failure)
                    if failure == "hang":
                        server._stopping.wait(server.hang_s)
                        self.close_connection = True
                        return
                    status = int(failure)
                    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                            500: "server_error", 503: "service_unavailable"}[status]
                    self._error(status, f"injected failure {status}", kind)
                    return
                try:
                    text = server.responses(request)
                except Exception as e:  # the responses callable may raise on purpose
                    server._count("500")
                    self._error(500, f"responses callable raised {type(e).__name__}: {e}", "server_error")
                    return
                server._count("ok")
                self._send_json(200, {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": str(request.get("model", "fake")),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": max(1, len(text.split())),
                              "total_tokens": 1 + max(1, len(text.split()))},
                })

        return Handler
