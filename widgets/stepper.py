"""Iteration stepper: a button that runs the next stage of a run, with a progress bar, then refreshes plots.

    from widgets import IterationStepper
    st = IterationStepper(lambda: run_stage(store), total=10, refresh=[explorer.refresh, switcher.refresh])
    st                      # in a notebook: a "Run next stage" button; st.step() does the same from code

``step_fn`` is any callable taking no argument and returning a short description of what it did (e.g.
``evalab.loop.run_stage`` bound to a store); returning a string that starts with "done" (or raising
StopIteration) means the run has nothing left to do. Each callable in ``refresh`` runs after a step.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from evalab.store import RunStore

from ._common import display_any


class IterationStepper:
    """Runs ``step_fn`` one stage at a time; shows progress, the last result and any error."""

    def __init__(self, step_fn: Callable[[], str], *, total: int | None = None,
                 refresh: Sequence[Callable[[], Any]] = (), headless: bool = False,
                 description: str = "Run next stage") -> None:
        if not callable(step_fn):
            raise ValueError(f"step_fn must be callable (a function running one stage); got {type(step_fn).__name__}")
        self.step_fn = step_fn
        self.refresh_fns = list(refresh)
        self.headless = headless
        self.total = total
        self.done = False
        self.history: list[str] = []
        self.last_error: str | None = None
        self.button = W.Button(description=description, button_style="primary", icon="play")
        self.run_all_button = W.Button(description="Run to the end", icon="forward")
        self.progress = W.IntProgress(value=0, min=0, max=max(1, total or 1), description="stages")
        self.status = W.HTML("ready")
        self.button.on_click(lambda _b: self.step())
        self.run_all_button.on_click(lambda _b: self.run())

    def step(self) -> str | None:
        """Run one stage; returns its description (None if it failed: see ``last_error``/the status line)."""
        if self.done:
            self.status.value = "the run is finished: nothing left to do"
            return None
        self.button.disabled = self.run_all_button.disabled = True
        self.progress.bar_style = "info"
        self.status.value = f"running stage {len(self.history) + 1}…"
        t0 = time.time()
        try:
            result = str(self.step_fn())
        except StopIteration:
            result = "done"
        except Exception as e:  # shown in the widget; the notebook keeps working
            self.last_error = f"{type(e).__name__}: {e}"
            self.progress.bar_style = "danger"
            self.status.value = f"<span style='color:#c00'>stage failed: {self.last_error}</span>"
            self.traceback = traceback.format_exc()
            return None
        finally:
            self.button.disabled = self.run_all_button.disabled = False
        self.last_error = None
        self.history.append(result)
        self.done = result.lower().startswith("done")
        if self.total is None:
            self.progress.max = len(self.history) + (0 if self.done else 1)
        self.progress.value = min(len(self.history), self.progress.max)
        self.progress.bar_style = "success" if self.done else ""
        self.status.value = f"{result} ({time.time() - t0:.1f} s)"
        for fn in self.refresh_fns:
            fn()
        return result

    def run(self, max_steps: int | None = None) -> list[str]:
        """Step until the run is done, a stage fails, or ``max_steps`` stages ran."""
        out: list[str] = []
        while not self.done and (max_steps is None or len(out) < max_steps):
            r = self.step()
            if r is None:
                break
            out.append(r)
        return out

    @property
    def widget(self) -> W.Widget:
        return W.VBox([W.HBox([self.button, self.run_all_button, self.progress]), self.status])

    def _ipython_display_(self) -> None:
        if self.headless:
            print(f"IterationStepper (headless): call .step() or .run(); {len(self.history)} stage(s) run so far")
        else:
            display_any(self.widget)


def loop_step_fn(store: RunStore) -> Callable[[], str]:
    """A ``step_fn`` running the next pending stage of the eva loop (``evalab.loop.EvaRun.step``) on the
    run in ``store``; models load lazily, on the first stage that needs one."""
    from evalab.loop import EvaRun

    run = EvaRun(store.config.replace(run_dir=str(store.root)))

    def step() -> str:
        done = run.step()
        return "done: every stage of the run is finished" if done is None else f"iteration {done[0]} · {done[1]} finished"

    return step
