"""Helpers shared by the widgets: figure syncing, opening a run with a message, headless display.

    from widgets._common import open_run_or_message, sync_figure
    store = open_run_or_message("data/demo_run")      # None (and a printed reason) if it cannot be plotted
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from evalab import plots
from evalab.store import RunStore


def resolve_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as given if it exists (or is absolute); else relative to the repository root, so
    ``"data/demo_run"`` works from the repo root and from ``notebooks/`` alike."""
    p = Path(run_dir).expanduser()
    if p.is_absolute() or p.exists():
        return p
    for base in (Path.cwd(), *Path.cwd().parents):
        if (base / "evalab" / "__init__.py").exists() and (base / p).exists():
            return base / p
    return p


def open_run_or_message(run_dir: str | Path | RunStore) -> RunStore | None:
    """The open run, or None after printing why it cannot be shown (missing, empty, not started)."""
    if isinstance(run_dir, RunStore):
        return run_dir
    run_dir = resolve_run_dir(run_dir)
    msg = plots.check_run_dir(run_dir)
    if msg:
        print(f"Nothing to show: {msg}.")
        return None
    return plots.open_run(run_dir)


def make_figure(fig: go.Figure, headless: bool) -> go.Figure:
    """A live ``go.FigureWidget`` copy of ``fig`` (interactive) or ``fig`` itself (headless)."""
    return fig if headless else go.FigureWidget(fig)


def sync_figure(target: go.Figure, new: go.Figure) -> None:
    """Make ``target`` (a FigureWidget shown on screen, or a plain Figure) show ``new`` in place."""
    with target.batch_update():
        if len(target.data) == len(new.data) and all(a.type == b.type for a, b in zip(target.data, new.data)):
            for old_tr, new_tr in zip(target.data, new.data):
                old_tr.update(new_tr.to_plotly_json(), overwrite=True)
        else:
            target.data = ()
            target.add_traces(list(new.data))
        layout = new.layout.to_plotly_json()
        layout.pop("template", None)  # same template on both sides; re-validating it costs seconds
        target.layout.annotations = ()
        target.update_layout(layout)


def display_any(obj: Any) -> None:
    """IPython display, or a text fallback outside IPython (plain scripts, tests)."""
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        print(obj)
        return
    display(obj)
