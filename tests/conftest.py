"""Test-wide settings, applied before any test module imports torch; the required-capabilities hooks."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see evalab/__init__.py
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# EVALAB_REQUIRE: a skipped test of a required capability fails, and the summary lists what ran
from capabilities import pytest_configure, pytest_runtest_makereport, pytest_terminal_summary  # noqa: E402,F401
