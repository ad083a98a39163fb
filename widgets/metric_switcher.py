"""Metric switcher: pick an informativeness metric and see the weights and the selected subset change.

    from widgets import MetricSwitcher
    ms = MetricSwitcher("runs/demo")          # in a notebook cell: `ms` renders dropdowns + live figure
    ms.metric.value = "a_avg"                 # recomputes weights from the stored rewards, redraws

Nothing is regenerated: the weights are recomputed from the rewards stored in ``responses`` of X_t with
``evalab.informativeness`` and the subset is re-drawn with ``evalab.sample_subset`` (the run's
fraction, strategy and seed unless changed here), so switching is instant even for 10K prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd

from evalab import plots
from evalab.config import METRICS, STRATEGIES
from evalab.store import RunStore

from ._common import display_any, make_figure, sync_figure


class MetricSwitcher:
    """Dropdowns (metric, iteration, strategy) and a fraction slider driving ``plots.fig_selection``."""

    def __init__(self, run: str | Path | RunStore, *, metric: str | None = None, iteration: int | None = None,
                 headless: bool = False) -> None:
        self.store = plots.open_run(run)
        self.headless = headless
        cfg = self.store.config
        ts = self._weighable()
        if not ts:
            raise FileNotFoundError(f"run {self.store.root} has no responses stage yet: no weights to switch")
        metric = metric or cfg.metric
        if metric not in METRICS:
            raise ValueError(f"metric={metric!r}: choose one of {METRICS}")
        self.metric = W.Dropdown(options=list(METRICS), value=metric, description="metric")
        self.iteration = W.Dropdown(options=ts, value=ts[-1] if iteration is None else iteration, description="iteration")
        self.fraction = W.FloatSlider(value=cfg.subset_fraction, min=0.05, max=1.0, step=0.05, description="fraction",
                                      continuous_update=False, readout_format=".2f")
        self.strategy = W.Dropdown(options=list(STRATEGIES), value=cfg.sampling, description="strategy")
        self.summary = W.HTML()
        self.selection: pd.DataFrame = self._compute()
        self.figure = make_figure(plots.fig_selection(self.store, self.iteration.value, self.metric.value,
                                                      selection=self.selection), headless)
        self._summarize()
        for w in (self.metric, self.iteration, self.fraction, self.strategy):
            w.observe(self._on_change, names="value")

    def _weighable(self) -> list[int]:
        return [t for t in plots.run_iterations(self.store) if self.store.has(t, "responses")]

    def _compute(self) -> pd.DataFrame:
        return plots.recompute_selection(self.store, self.iteration.value, self.metric.value,
                                         fraction=self.fraction.value, strategy=self.strategy.value)

    def _summarize(self) -> None:
        D = self.selection
        w = D["weight"].to_numpy(float)
        run_sel = plots._read(self.store, self.iteration.value, "selected")
        overlap = ""
        if run_sel is not None:
            a, b = set(D.loc[D["selected"], "prompt_id"]), set(run_sel["prompt_id"])
            overlap = (f" · overlap with the run's own selection ({self.store.config.metric}): "
                       f"Jaccard {len(a & b) / max(1, len(a | b)):.2f}")
        self.summary.value = (f"<b>{self.metric.value}</b> on X_{self.iteration.value}: {int(D['selected'].sum())} of "
                              f"{len(D)} selected · zero-weight share {np.mean(np.abs(w) <= 1e-12):.0%} · "
                              f"mean weight of selected {w[D['selected'].to_numpy()].mean():.3f}{overlap}")

    def update(self) -> None:
        """Recompute weights + selection for the current controls and redraw in place."""
        self.selection = self._compute()
        sync_figure(self.figure, plots.fig_selection(self.store, self.iteration.value, self.metric.value,
                                                     selection=self.selection))
        self._summarize()

    def _on_change(self, _change: dict[str, Any]) -> None:
        self.update()

    def refresh(self) -> None:
        """Pick up iterations written since construction (e.g. after the stepper ran a stage)."""
        ts = self._weighable()
        keep = self.iteration.value
        self.iteration.options = ts
        self.iteration.value = keep if keep in ts else ts[-1]
        self.update()

    @property
    def widget(self) -> W.Widget:
        controls = W.HBox([self.metric, self.iteration, self.strategy, self.fraction])
        return W.VBox([controls, self.summary, self.figure if isinstance(self.figure, W.DOMWidget) else W.HTML()])

    def _ipython_display_(self) -> None:
        if self.headless:
            from IPython.display import HTML

            display_any(HTML(self.summary.value))
            display_any(self.figure)
        else:
            display_any(self.widget)
