"""Training monitor: follows the trainer's log while a run trains and redraws loss and reward margins.

    from widgets import TrainingMonitor
    mon = TrainingMonitor("runs/demo", interval=2.0)
    mon.start()      # polls in a background thread; mon.stop() ends it; mon.poll() polls once

It reads ``train_log.parquet`` of finished iterations and, for an iteration still training, the newest
``trainer_state.json`` the trainer checkpoints under that iteration's directory. An online run (``python -m evalab
online``) keeps one ``train_log.parquet`` at the top of its run directory, rewritten at every log step: the monitor
follows that one. When the log has the shares of groups whose completions all fail, are mixed or all pass
(``frac_all_fail``, ``frac_mixed``, ``frac_all_pass``), the status line shows the latest ones and a second figure
plots them per step.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd

from evalab import plots
from evalab.store import RunStore

from ._common import display_any, make_figure, sync_figure


class TrainingMonitor:
    """Polls a run's training logs and updates a loss/margins figure when they change."""

    def __init__(self, run: str | Path | RunStore, *, interval: float = 2.0, headless: bool = False) -> None:
        if interval <= 0:
            raise ValueError(f"interval={interval!r}: must be > 0 seconds")
        self.store = plots.open_run(run)
        self.interval = interval
        self.headless = headless
        self.logs = monitor_logs(self.store)
        self._sig = self._signature(self.logs)
        self.figure = make_figure(plots.fig_training(self.logs), headless)
        self.outcomes_figure = make_figure(plots.fig_group_outcomes(self.logs), headless)
        self.status = W.HTML(self._status_text())
        self.toggle = W.ToggleButton(value=False, description="follow training", icon="refresh")
        self.toggle.observe(lambda ch: self.start() if ch["new"] else self.stop(), names="value")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.polls = 0

    @staticmethod
    def _signature(L: pd.DataFrame) -> tuple[Any, ...]:
        if L.empty:
            return (0,)
        last = L.iloc[-1]
        return (len(L), last.get("t"), last.get("step"), last.get("loss"))

    def _status_text(self) -> str:
        L = self.logs
        if L.empty or "loss" not in L.columns or L["loss"].dropna().empty:
            return "no training log yet"
        last = L[L["loss"].notna()].iloc[-1]
        return (f"iteration {int(last['t'])}, step {int(last['step'])}: loss {last['loss']:.4f}"
                f"{outcome_text(L)} (checked {time.strftime('%H:%M:%S')})")

    @property
    def has_outcomes(self) -> bool:
        return bool(plots.outcome_columns(self.logs))

    def poll(self) -> bool:
        """Read the logs once; redraw and return True if they changed."""
        self.polls += 1
        L = monitor_logs(self.store)
        sig = self._signature(L)
        changed = sig != self._sig
        self.logs, self._sig = L, sig
        if changed:
            sync_figure(self.figure, plots.fig_training(L))
            sync_figure(self.outcomes_figure, plots.fig_group_outcomes(L))
        self.status.value = self._status_text()
        return changed

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as e:  # keep following; say what went wrong
                self.status.value = f"<span style='color:#c00'>poll failed: {type(e).__name__}: {e}</span>"

    def start(self) -> None:
        """Poll every ``interval`` seconds in a daemon thread until ``stop()``."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="evalab-training-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        self._thread = None

    @property
    def widget(self) -> W.Widget:
        figs = [self.figure] + ([self.outcomes_figure] if self.has_outcomes else [])
        return W.VBox([W.HBox([self.toggle, self.status])] + [f if isinstance(f, W.DOMWidget) else W.HTML() for f in figs])

    def _ipython_display_(self) -> None:
        if self.headless:
            from IPython.display import HTML

            display_any(HTML(self.status.value))
            display_any(self.figure)
            if self.has_outcomes:
                display_any(self.outcomes_figure)
        else:
            display_any(self.widget)


def monitor_logs(store: RunStore) -> pd.DataFrame:
    """The trainer log rows to show: an offline run's per-iteration logs (``plots.train_logs``), else an online
    run's top-level ``train_log.parquet`` (as iteration 0); empty when neither exists yet."""
    L = plots.train_logs(store)
    online = store.root / "train_log.parquet"
    if L.empty and online.exists():
        try:
            L = pd.read_parquet(online).assign(t=0)
        except (OSError, ValueError):  # replaced while reading: the next poll reads it
            pass
    return L


def outcome_text(L: pd.DataFrame) -> str:
    """" · all fail 20% · mixed 70% · all pass 10%" from the latest log row that has the shares ("" if none)."""
    cols = plots.outcome_columns(L)
    if not cols:
        return ""
    rows = L.dropna(subset=list(cols.values()), how="all")
    if rows.empty:
        return ""
    last = rows.iloc[-1]
    labels = {"frac_all_fail": "all fail", "frac_mixed": "mixed", "frac_all_pass": "all pass"}
    return "".join(f" · {labels[k]} {last[c]:.0%}" for k, c in cols.items() if pd.notna(last[c]))
