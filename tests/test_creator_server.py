"""Creator against a flaky provider: the local OpenAI-compatible test server through litellm ("openai/..."
with api_base and a fake key). 30% of calls fail (429/500/503/hang) -> the batch completes with every variant,
retries are logged; all calls failing -> RuntimeError; permanent errors are not retried; the fake key never
appears in variants, frames or logs; concurrency really overlaps calls."""

from __future__ import annotations

import logging

import pytest

import evalab  # noqa: F401
from evalab.creator import EvolInstructCreator, StructuredEvolver, variants_to_frame
from evalab.prompts import Prompt
from evalab.testing_server import FakeChatServer

FAKE_KEY = "sk-evalab-FAKE-7f3a9c0d1e2b4a6f"
PROMPTS = [Prompt(id=f"q{i}", text=f"Write a short guide to {topic} for a complete beginner.", domain="howto")
           for i, topic in enumerate(["baking bread", "tying knots", "reading maps", "pruning roses",
                                      "brewing tea", "fixing a bicycle chain", "planting bulbs", "ironing shirts",
                                      "juggling", "birdwatching", "sewing buttons", "making jam"])]


def _unique_answer(request: dict) -> str:
    """A distinct, valid evolved prompt per request (seed + parent text), so nothing is a duplicate."""
    content = request["messages"][-1]["content"]
    topic = next((p.text.split(" to ", 1)[1].split(" for ")[0] for p in PROMPTS if p.text in content), "clouds")
    return (f"Explain, in {3 + request.get('seed', 0) % 5} numbered steps with one common mistake each, how an "
            f"adult with no experience should start {topic}, variant {request.get('seed')}.")


def _creator(srv: FakeChatServer, **kw) -> EvolInstructCreator:
    base = dict(api_base=srv.api_base, api_key=FAKE_KEY, concurrency=8, max_retries=8, backoff=0.02,
                max_backoff=0.2, timeout=1.0)
    base.update(kw)
    return EvolInstructCreator("openai/flaky-creator", **base)


def _scan_for_key(*texts: str) -> None:
    for t in texts:
        assert FAKE_KEY not in t
        assert FAKE_KEY[3:] not in t  # not even without its prefix


def test_flaky_provider_30_percent_failures(caplog, capsys):
    caplog.set_level(logging.DEBUG)  # every logger, litellm's included
    with FakeChatServer(failure_rate=0.3, hang_s=3.0, responses=_unique_answer, seed=1) as srv:
        creator = _creator(srv)
        variants = creator.evolve(PROMPTS, 2, iteration=1, seed=0, progress=False)
        stats = srv.stats()
    assert len(variants) == 24
    assert [(v.parent_id, v.k) for v in variants] == [(p.id, k) for p in PROMPTS for k in range(2)]
    failures = sum(stats.get(k, 0) for k in ("429", "500", "503", "hang"))
    assert failures > 0 and stats["ok"] == 24
    # no hidden client-side retries (a loaded machine may also time out a request before it reaches the server)
    assert stats["requests"] <= sum(v.attempts for v in variants)
    assert creator.last_stats["retries"] == sum(v.attempts - 1 for v in variants) >= failures > 0
    assert all(v.reason != "error" for v in variants)  # P(9 failures in a row) = 0.3**9 per call
    assert sum(v.accepted for v in variants) == 24
    retry_logs = [r for r in caplog.records if r.name == "evalab.creator" and "retrying" in r.getMessage()]
    assert len(retry_logs) == creator.last_stats["retries"]
    # the key was sent to the provider ...
    assert any(FAKE_KEY in h for h in srv.auth_headers)
    # ... and appears nowhere else
    out = capsys.readouterr()
    _scan_for_key(*(r.getMessage() for r in caplog.records), caplog.text, out.out, out.err,
                  variants_to_frame(variants).to_json(), repr(variants), repr(creator))


def test_every_call_failing_raises_after_the_batch(caplog):
    caplog.set_level(logging.DEBUG)
    with FakeChatServer(failure_rate=1.0, failure_kinds=("500", "503")) as srv:
        creator = _creator(srv, max_retries=2)
        with pytest.raises(RuntimeError, match=r"creator 'openai/flaky-creator' failed on all 6 calls: .*Error"):
            creator.evolve(PROMPTS[:3], 2, iteration=1, progress=False)
        assert srv.stats()["requests"] == 6 * 3  # every call tried 1 + max_retries times
    _scan_for_key(caplog.text)


def test_permanent_errors_are_not_retried_and_key_is_redacted(caplog):
    caplog.set_level(logging.DEBUG)
    with FakeChatServer(failure_rate=1.0, failure_kinds=("401",)) as srv:
        creator = _creator(srv)
        with pytest.raises(RuntimeError, match="AuthenticationError") as exc:
            creator.evolve(PROMPTS[:2], 2, iteration=1, progress=False)
        assert srv.stats()["requests"] == 4  # one attempt each
    _scan_for_key(str(exc.value), caplog.text)


def test_some_calls_fail_for_good_become_error_variants():
    """A provider that fails permanently on some calls: those variants are rejected with reason 'error',
    the others are fine, and no exception escapes."""
    with FakeChatServer(failure_rate=0.4, failure_kinds=("400",), responses=_unique_answer, seed=3) as srv:
        creator = _creator(srv)
        variants = creator.evolve(PROMPTS, 2, iteration=1, progress=False)
        n_400 = srv.stats().get("400", 0)
    errors = [v for v in variants if v.reason == "error"]
    assert len(variants) == 24 and len(errors) == n_400 > 0
    assert all(v.error and "BadRequestError" in v.error and v.attempts == 1 and v.prompt is None for v in errors)
    assert sum(v.accepted for v in variants) == 24 - n_400


def test_timeouts_are_retried():
    with FakeChatServer(failure_rate=0.5, failure_kinds=("hang",), hang_s=2.0, responses=_unique_answer,
                        seed=0) as srv:
        creator = _creator(srv, timeout=0.5, concurrency=8)
        variants = creator.evolve(PROMPTS[:4], 2, iteration=1, progress=False)
        assert srv.stats().get("hang", 0) > 0
    assert all(v.accepted for v in variants)
    assert any(v.attempts > 1 for v in variants)


def test_concurrency_overlaps_calls():
    with FakeChatServer(latency=0.3, responses=_unique_answer) as srv:
        creator = _creator(srv, concurrency=12)
        creator.evolve(PROMPTS[:2], 1, iteration=1, progress=False)  # warm-up (client set-up)
        variants = creator.evolve(PROMPTS, 1, iteration=1, progress=False)
        most = srv.stats()["max_in_flight"]
    assert len(variants) == 12 and all(v.accepted for v in variants)
    # calls overlap: several were waiting at the server at once (the speed-up is measured in
    # benchmarks/bench_creator.py, not asserted here: wall time flakes on a loaded machine)
    assert 2 <= most <= 12, most


def test_structured_evolver_through_flaky_server():
    from evalab import constraints as C

    cons = [{"kind": "word_count_max", "n": 60}, {"kind": "no_commas"}]
    prompts = [Prompt(id=p.id, text=C.render_prompt(p.text, cons), task=p.text, constraints=cons, domain=p.domain)
               for p in PROMPTS[:6]]
    with FakeChatServer(failure_rate=0.3, failure_kinds=("429", "503"), responses=_unique_answer, seed=2) as srv:
        ev = StructuredEvolver("openai/flaky-creator", api_base=srv.api_base, api_key=FAKE_KEY, max_retries=8,
                               backoff=0.02, timeout=2.0, operators=["deepen", "harden", "breadth"])
        variants = ev.evolve(prompts, 3, iteration=2, seed=1, progress=False)
    assert len(variants) == 18 and all(v.reason != "error" for v in variants)
    for v in variants:
        code_op = v.operator in ("harden", "add_constraints")
        assert (v.attempts == 0) if code_op else (v.attempts >= 1)
        if v.accepted:
            assert v.prompt.text == C.render_prompt(v.prompt.task, v.prompt.constraints)
            assert C.validate_constraints(v.prompt.constraints) is None
