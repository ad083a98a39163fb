"""Test-wide settings, applied before any test module imports torch."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see evalab/__init__.py
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
