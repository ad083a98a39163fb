"""Training monitor: follows the trainer's log while a run trains and redraws loss and reward margins.

    from widgets import TrainingMonitor
    mon = TrainingMonitor("runs/demo", interval=2.0)
    mon.start()      # polls in a background thread; mon.stop() ends it; mon.poll() polls once

It reads ``train_log.parquet`` of finished iterations and, for an iteration still training, the newest
``trainer_state.json`` the trainer checkpoints under that iteration's directory.
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
        self.logs = plots.train_logs(self.store)
        self._sig = self._signature(self.logs)
        self.figure = make_figure(plots.fig_training(self.logs), headless)
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
        return (f"iteration {int(last['t'])}, step {int(last['step'])}: loss {last['loss']:.4f} "
                f"(checked {time.strftime('%H:%M:%S')})")

    def poll(self) -> bool:
        """Read the logs once; redraw and return True if they changed."""
        self.polls += 1
        L = plots.train_logs(self.store)
        sig = self._signature(L)
        changed = sig != self._sig
        self.logs, self._sig = L, sig
        if changed:
            sync_figure(self.figure, plots.fig_training(L))
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
        return W.VBox([W.HBox([self.toggle, self.status]), self.figure if isinstance(self.figure, W.DOMWidget) else W.HTML()])

    def _ipython_display_(self) -> None:
        if self.headless:
            from IPython.display import HTML

            display_any(HTML(self.status.value))
            display_any(self.figure)
        else:
            display_any(self.widget)
