"""Prompt explorer: filter the prompts of a run and inspect one (responses, rewards, parent, children).

    from widgets import PromptExplorer
    ex = PromptExplorer("runs/demo")                 # in a notebook cell: `ex` renders the widget
    ex.operator.value = ("harden",); ex.filtered()   # filters are plain ipywidgets; read the result

Filters: iteration (the prompt set X_t), weight range, operator, constraint kind, text search. The
scatter shows the filtered prompts (weight vs length, coloured by source); clicking a point, or
picking a row in the list, shows the prompt's text and constraints, its N responses with rewards, its
parent and its children (every creator variant, accepted or rejected with the reason).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evalab import plots
from evalab.store import RunStore

from ._common import display_any, make_figure, sync_figure

ALL = "all"


class PromptExplorer:
    """Filter and inspect the prompts of a run. ``headless=True`` renders a static figure and table."""

    def __init__(self, run: str | Path | RunStore, *, headless: bool = False, max_list: int = 300,
                 max_points: int = 3000) -> None:
        self.store = plots.open_run(run)
        self.headless = headless
        self.max_list = max_list
        self.max_points = max_points
        self._evolved: pd.DataFrame | None = None
        self._responses: dict[int, pd.DataFrame] = {}
        self.table = plots.prompt_table(self.store)
        self.selected_key: tuple[int, str] | None = None

        ts = sorted(self.table["t"].unique().tolist()) if not self.table.empty else []
        ops = sorted(self.table["operator"].astype(str).unique().tolist()) if not self.table.empty else []
        kinds = sorted({k for ks in self.table.get("kinds", []) for k in ks})
        lo, hi = self._weight_bounds()
        self.iteration = W.Dropdown(options=[ALL, *ts], value=ts[-1] if ts else ALL, description="iteration")
        self.weight = W.FloatRangeSlider(value=(lo, hi), min=lo, max=hi, step=max((hi - lo) / 100, 1e-6),
                                         description="weight", readout_format=".2f", continuous_update=False)
        self.include_unweighed = W.Checkbox(value=True, description="include prompts not weighed yet")
        self.operator = W.SelectMultiple(options=ops, value=tuple(ops), description="operator", rows=min(7, max(2, len(ops))))
        self.kind = W.Dropdown(options=[ALL, *kinds], value=ALL, description="kind")
        self.search = W.Text(placeholder="words in the prompt", description="search", continuous_update=False)
        self.listing = W.Select(options=[], rows=12, layout=W.Layout(width="100%"))
        self.count = W.HTML()
        self.detail = W.HTML(layout=W.Layout(max_height="480px", overflow="auto"))
        self.figure = make_figure(self._scatter(self.filtered()), headless)
        for w in (self.iteration, self.weight, self.include_unweighed, self.operator, self.kind, self.search):
            w.observe(self._on_filter, names="value")
        self.listing.observe(self._on_pick, names="value")
        if not headless:
            for tr in self.figure.data:
                tr.on_click(self._on_click)
        self._update()

    # --- data -----------------------------------------------------------------------------------
    def _weight_bounds(self) -> tuple[float, float]:
        w = self.table["weight"].to_numpy(float) if not self.table.empty else np.zeros(0)
        w = w[np.isfinite(w)]
        if w.size == 0:
            return 0.0, 1.0
        lo, hi = float(w.min()), float(w.max())
        return (lo, hi) if hi > lo else (lo, lo + 1.0)

    def filtered(self) -> pd.DataFrame:
        """The prompts passing every filter, highest weight first."""
        X = self.table
        if X.empty:
            return X
        m = np.ones(len(X), bool)
        if self.iteration.value != ALL:
            m &= (X["t"] == self.iteration.value).to_numpy()
        w = X["weight"].to_numpy(float)
        lo, hi = self.weight.value
        in_range = (w >= lo - 1e-12) & (w <= hi + 1e-12)
        m &= in_range | (~np.isfinite(w) & self.include_unweighed.value)
        m &= X["operator"].astype(str).isin(self.operator.value).to_numpy()
        if self.kind.value != ALL:
            m &= X["kinds"].map(lambda ks: self.kind.value in ks).to_numpy()
        q = self.search.value.strip().lower()
        if q:
            m &= X["text"].astype(str).str.lower().str.contains(q, regex=False).to_numpy()
        return X[m].sort_values("weight", ascending=False, na_position="last")

    def responses(self, t: int, prompt_id: str) -> pd.DataFrame:
        """The N responses (sample, reward, response) to one prompt of X_t; empty if not generated yet."""
        if t not in self._responses:
            df = plots._read(self.store, t, "responses")
            self._responses[t] = df if df is not None else pd.DataFrame(columns=["prompt_id", "sample", "response", "reward"])
        R = self._responses[t]
        return R[R["prompt_id"] == prompt_id].sort_values("sample")

    def children(self, prompt_id: str) -> pd.DataFrame:
        """Every creator variant of ``prompt_id`` (accepted or not, with the reason)."""
        if self._evolved is None:
            self._evolved = plots.stage_frame(self.store, "evolved")
        V = self._evolved
        if V.empty or "parent_id" not in V.columns:
            return V
        return V[V["parent_id"] == prompt_id]

    # --- views ----------------------------------------------------------------------------------
    def _scatter(self, F: pd.DataFrame) -> go.Figure:
        fig = go.Figure()
        if len(F) > self.max_points:
            F = F.sample(self.max_points, random_state=0)
        for src in plots.SOURCES:
            g = F[F["source"] == src]
            fig.add_trace(go.Scatter(
                x=g["n_words"], y=g["weight"].fillna(-0.05), mode="markers", name=src,
                marker=dict(color=plots.SOURCE_COLORS[src], size=7, opacity=0.7),
                customdata=np.c_[g["t"].to_numpy(), g["id"].to_numpy()] if len(g) else None,
                hovertext=[f"X_{t} · {op}<br>{plots._short(x, 120)}" for t, op, x in zip(g["t"], g["operator"], g["text"])],
                hoverinfo="text+y"))
        shown = f"{len(F)} prompts" + (f" (random {self.max_points} shown)" if len(F) >= self.max_points else "")
        return plots._layout(fig, f"Filtered prompts: {shown}", "prompt length (words)",
                             "weight (reward units; −0.05 = not weighed)", height=380, legend=dict(title="source"))

    def _label(self, r: pd.Series) -> str:
        w = "  n/a" if not np.isfinite(r["weight"]) else f"{r['weight']:.3f}"
        return f"X_{r['t']} | w={w} | {r['operator']:<15} | {plots._short(r['text'], 90)}"

    def _update(self) -> None:
        F = self.filtered()
        self.count.value = f"<b>{len(F)}</b> of {len(self.table)} prompt rows match"
        top = F.head(self.max_list)
        self.listing.unobserve(self._on_pick, names="value")
        self.listing.options = [(self._label(r), (int(r["t"]), str(r["id"]))) for _, r in top.iterrows()]
        self.listing.value = None
        self.listing.observe(self._on_pick, names="value")
        sync_figure(self.figure, self._scatter(F))

    def _on_filter(self, _change: dict[str, Any]) -> None:
        self._update()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.select(*change["new"])

    def _on_click(self, trace: Any, points: Any, _state: Any) -> None:
        if points.point_inds:
            t, pid = trace.customdata[points.point_inds[0]]
            self.select(int(t), str(pid))

    def select(self, t: int, prompt_id: str) -> str:
        """Show one prompt of X_t in the detail pane; returns the HTML shown. Raises KeyError if absent."""
        rows = self.table[(self.table["t"] == t) & (self.table["id"] == prompt_id)]
        if rows.empty:
            raise KeyError(f"prompt {prompt_id!r} is not in X_{t} of {self.store.root}")
        self.selected_key = (t, prompt_id)
        self.detail.value = self.detail_html(t, prompt_id)
        return self.detail.value

    def detail_html(self, t: int, prompt_id: str) -> str:
        """Text, constraints, weight, responses with rewards, parent and children of one prompt."""
        r = self.table[(self.table["t"] == t) & (self.table["id"] == prompt_id)].iloc[0]
        esc = html.escape
        cons = json.loads(r["constraints"]) if isinstance(r["constraints"], str) else r["constraints"]
        w = "not weighed yet" if not np.isfinite(r["weight"]) else f"{r['weight']:.3f}"
        parts = [f"<h4>{esc(prompt_id)} <small>(X_{t}, {esc(str(r['source']))}, operator {esc(str(r['operator']))},"
                 f" created in iteration {r['iteration']})</small></h4>",
                 f"<p><b>weight</b> {w} · <b>reward mean</b> {r['reward_mean']:.3f} · <b>selected</b> {bool(r['selected'])}</p>",
                 f"<pre style='white-space:pre-wrap'>{esc(str(r['text']))}</pre>",
                 "<p><b>constraints</b>: " + (esc(json.dumps(cons)) if cons else "none") + "</p>"]
        R = self.responses(t, prompt_id)
        if len(R):
            rows = "".join(f"<tr><td>{s}</td><td>{'n/a' if pd.isna(x) else f'{x:.3f}'}</td>"
                           f"<td><pre style='white-space:pre-wrap;margin:0'>{esc(plots._short(txt, 600))}</pre></td></tr>"
                           for s, x, txt in zip(R["sample"], R["reward"], R["response"]))
            parts.append(f"<p><b>responses</b> ({len(R)})</p><table><tr><th>#</th><th>reward</th><th>response</th></tr>{rows}</table>")
        else:
            parts.append("<p><b>responses</b>: none generated yet</p>")
        pid = r["parent_id"]
        if isinstance(pid, str) and pid:
            par = self.table[self.table["id"] == pid]
            ptxt = plots._short(par.iloc[0]["text"], 300) if len(par) else "(not in any stored prompt set)"
            parts.append(f"<p><b>parent</b> {esc(pid)}: {esc(ptxt)}</p>")
        else:
            parts.append("<p><b>parent</b>: none (a seed prompt)</p>")
        C = self.children(prompt_id)
        if len(C):
            items = "".join(f"<li>[{esc(str(c['operator']))}] {'accepted' if c['accepted'] else 'rejected: ' + esc(str(c['reason']))}"
                            f" — {esc(plots._short(c['text'], 160))}</li>" for _, c in C.iterrows())
            parts.append(f"<p><b>children</b> ({int(C['accepted'].sum())} accepted of {len(C)} variants)</p><ul>{items}</ul>")
        else:
            parts.append("<p><b>children</b>: none (not selected for evolution, or not evolved yet)</p>")
        return "\n".join(parts)

    def refresh(self) -> None:
        """Re-read the run (after new stages were written) and re-apply the filters."""
        self.table = plots.prompt_table(self.store)
        self._evolved, self._responses = None, {}
        ts = sorted(self.table["t"].unique().tolist()) if not self.table.empty else []
        keep = self.iteration.value
        self.iteration.options = [ALL, *ts]
        self.iteration.value = keep if keep in self.iteration.options else (ts[-1] if ts else ALL)
        ops = sorted(self.table["operator"].astype(str).unique().tolist()) if not self.table.empty else []
        self.operator.options = ops
        self.operator.value = tuple(ops)
        lo, hi = self._weight_bounds()
        self.weight.min, self.weight.max = min(lo, self.weight.min), max(hi, self.weight.max)
        self._update()

    @property
    def widget(self) -> W.Widget:
        filters = W.VBox([self.iteration, self.weight, self.include_unweighed, self.operator, self.kind, self.search])
        return W.VBox([W.HBox([filters, self.figure if isinstance(self.figure, W.DOMWidget) else W.HTML()]),
                       self.count, self.listing, self.detail])

    def _ipython_display_(self) -> None:
        if self.headless:
            display_any(self.figure)
            F = self.filtered().head(10)
            display_any(F[["t", "id", "operator", "source", "weight", "n_constraints", "text"]])
            if len(F):  # the detail pane of the top prompt, as static HTML
                from IPython.display import HTML

                display_any(HTML(self.detail_html(int(F.iloc[0]["t"]), str(F.iloc[0]["id"]))))
        else:
            display_any(self.widget)
