"""Test-wide settings, applied before any test module imports torch; the required-capabilities hooks."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see evalab/__init__.py
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# EVALAB_REQUIRE: a skipped test of a required capability fails, and the summary lists what ran
from capabilities import pytest_configure, pytest_runtest_makereport, pytest_terminal_summary  # noqa: E402,F401

import pytest  # noqa: E402

# pytest-timeout: every test gets pyproject's `timeout`; a slow one (embedded model, notebooks, kill/resume) gets
# `slow_timeout` instead, unless it carries its own @pytest.mark.timeout(...). A hang fails naming the test.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("slow_timeout", "pytest-timeout seconds for tests marked slow", default="1800")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_timeout = float(config.getini("slow_timeout"))
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(slow_timeout))
