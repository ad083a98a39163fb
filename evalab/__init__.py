"""evalab: a notebook-first workbench for eva (Evolving Alignment via Asymmetric Self-Play).

One eva iteration, one named function per step (see README "Architecture"):

    weights = evalab.informativeness(rewards, metric="a_min")       # step 2
    subset  = evalab.sample_subset(weights, fraction=0.25)          # step 3
    mix     = evalab.mix_next_set(n_evolved, n_buffer, size)        # step 5
"""

from __future__ import annotations

import os as _os

# litellm downloads its model-cost map on import unless told to use the bundled copy (no network here).
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# OpenMP threads that spin-wait make torch several times slower as soon as another process uses a core
# (measured: 6 greedy prompts x 24 tokens took 55 s with the default policy, 8.8 s with PASSIVE, on 2
# cores shared with one other job). Takes effect if evalab is imported before torch.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import METRICS, STRATEGIES, TRAINERS, EvaConfig, profile_config  # noqa: E402
from .informativeness import all_metrics, informativeness  # noqa: E402
from .prompts import Prompt, load_prompts  # noqa: E402
from .sampling import mix_next_set, sample_subset  # noqa: E402
from .store import RunStore  # noqa: E402

__all__ = [
    "METRICS", "STRATEGIES", "TRAINERS", "EvaConfig", "profile_config", "informativeness", "all_metrics",
    "sample_subset", "mix_next_set", "Prompt", "load_prompts", "RunStore",
]
__version__ = "0.1.0"
