"""Interactive widgets over an eva run (ipywidgets + plotly FigureWidget); ``headless=True`` renders
static figures instead, for papermill and exports. ``widgets`` imports ``evalab``, never the reverse.

    from widgets import PromptExplorer, MetricSwitcher, IterationStepper, TrainingMonitor, open_run_or_message
    store = open_run_or_message("data/demo_run")          # None + a printed reason if it cannot be shown
    MetricSwitcher(store)                                  # last expression of a cell: renders
"""

from __future__ import annotations

from ._common import open_run_or_message, resolve_run_dir, sync_figure
from .explorer import PromptExplorer
from .metric_switcher import MetricSwitcher
from .monitor import TrainingMonitor
from .stepper import IterationStepper, loop_step_fn

__all__ = ["PromptExplorer", "MetricSwitcher", "IterationStepper", "TrainingMonitor", "open_run_or_message",
           "resolve_run_dir", "sync_figure", "loop_step_fn"]
