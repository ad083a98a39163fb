"""Figure build time and payload size on a large synthetic run (default 10 iterations x 10K prompts).

    python benchmarks/bench_plots.py                      # builds runs/bench_plots once, then times
    python benchmarks/bench_plots.py --iterations 3 --prompts 2000 --embedder minilm

Prints one row per figure: build seconds (median of --repeat builds) and the size of its JSON payload
(what a notebook output or an HTML export carries, plotly.js excluded); then the latency of the
widgets' live operations (metric switch, explorer filter). The synthetic run comes from
tests/fake_run.py (realistic stages and lineage, no model).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from evalab import plots  # noqa: E402
from fake_run import build_fake_run  # noqa: E402


def timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--run-dir", default=None, help="default: runs/bench_plots_<iterations>x<prompts>")
    ap.add_argument("--embedder", default="hash", choices=["hash", "minilm"])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    run = Path(a.run_dir or ROOT / "runs" / f"bench_plots_{a.iterations}x{a.prompts}")
    if not (run / "config.json").exists():
        t0 = time.perf_counter()
        build_fake_run(run, n_iterations=a.iterations, n_prompts=a.prompts, n_samples=a.samples, seed=0)
        print(f"built synthetic run {run} in {time.perf_counter() - t0:.1f} s")
    X = plots.prompt_table(run)
    print(f"run: {X['t'].nunique()} prompt sets, {len(X)} prompt rows, {a.samples} responses each")
    figs = {
        "weight_ridgeline": lambda: plots.fig_weight_ridgeline(run),
        "informativeness_by_source": lambda: plots.fig_informativeness_by_source(run),
        "lineage (max 1500 nodes)": lambda: plots.fig_lineage(run),
        "constraint_drift": lambda: plots.fig_constraint_drift(run),
        "prompt_length": lambda: plots.fig_prompt_length(run),
        "pass_rate_by_kind": lambda: plots.fig_pass_rate_by_kind(run),
        f"topic_map ({a.embedder}, cached)": lambda: plots.fig_topic_map(run, embedder=a.embedder),
        "heldout": lambda: plots.fig_heldout_scores({"eva": run}),
        "metric_overlap": lambda: plots.fig_metric_overlap(run),
        "selection": lambda: plots.fig_selection(run),
        "training": lambda: plots.fig_training(run),
        "evolution_outcomes": lambda: plots.fig_evolution_outcomes(run),
    }
    t0 = time.perf_counter()
    plots.fig_topic_map(run, embedder=a.embedder)  # first call embeds and fills the cache
    print(f"topic map first call (embedding + cache): {time.perf_counter() - t0:.1f} s")
    print(f"{'figure':36s} {'build s':>8s} {'payload KB':>11s} {'points':>8s}")
    for name, fn in figs.items():
        sec, fig = timed(fn, a.repeat)
        payload = len(fig.to_json().encode()) / 1024
        pts = sum(len(getattr(tr, k)) for tr in fig.data for k in ("x", "ids", "z") if getattr(tr, k, None) is not None)
        print(f"{name:36s} {sec:8.2f} {payload:11.1f} {pts:8d}")

    import widgets

    t0 = time.perf_counter()
    ms = widgets.MetricSwitcher(run)
    print(f"{'MetricSwitcher construct':36s} {time.perf_counter() - t0:8.2f}")
    sec, _ = timed(lambda: setattr(ms.metric, "value", "avg" if ms.metric.value != "avg" else "a_min"), a.repeat)
    print(f"{'MetricSwitcher metric change':36s} {sec:8.2f}")
    t0 = time.perf_counter()
    ex = widgets.PromptExplorer(run)
    print(f"{'PromptExplorer construct':36s} {time.perf_counter() - t0:8.2f}")
    ops = list(ex.operator.options)
    sec, _ = timed(lambda: setattr(ex.operator, "value", tuple(ops[: 1 + len(ex.operator.value) % len(ops)])), a.repeat)
    print(f"{'PromptExplorer filter change':36s} {sec:8.2f}")
    ex.iteration.value = "all"
    sec, _ = timed(lambda: setattr(ex.kind, "value", ex.kind.options[1 + (ex.kind.index or 0) % (len(ex.kind.options) - 1)]), a.repeat)
    print(f"{'PromptExplorer filter (all iters)':36s} {sec:8.2f}")


if __name__ == "__main__":
    main()
