"""Fixtures come from the real code: the fake run's constraints are real ones, and every plot function of
evalab.plots renders the stored data/demo_run (a real 2-iteration run)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from evalab import constraints as C
from evalab import plots
from fake_run import build_fake_run

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo_run"


def test_fake_run_constraints_are_real(tmp_path):
    run = build_fake_run(tmp_path / "run", n_iterations=2, n_prompts=12, seed=3)
    seen = set()
    for p in sorted(run.rglob("prompts.parquet")) + sorted(run.rglob("evolved.parquet")):
        df = pd.read_parquet(p)
        for text, cons in zip(df["text"], df["constraints"]):
            cs = json.loads(cons)
            assert not C.constraint_problems(cs), (p, cs)
            for c in cs:
                assert c["kind"] in C.KIND_NAMES, c
                C.check(c, "some response text")  # the real checker accepts its parameters
                assert C.describe(c) in text  # rendered by the real module
                seen.add(c["kind"])
    assert len(seen) >= 8, seen


def _figure_functions() -> dict[str, object]:
    return {name: fn for name, fn in inspect.getmembers(plots, inspect.isfunction)
            if name.startswith("fig_") and fn.__module__ == plots.__name__}


ONLINE_ONLY = {"fig_group_outcomes"}  # plots of an online run's per-step train log (no offline run has one)
GRID_ONLY = {"fig_iteration_curves", "fig_pass_rate_distribution", "fig_offspring",  # plots of a grid's results tables
             "fig_seed_deltas", "fig_findings"}
TRAINED_CREATOR = {"fig_creator_training"}  # a run whose creator was trained; data/demo_run's was not


def test_every_plot_renders_the_demo_run():
    fns = _figure_functions()
    assert len(fns) >= 11, sorted(fns)
    assert ONLINE_ONLY | GRID_ONLY | TRAINED_CREATOR <= set(fns)
    for name, fn in sorted(fns.items()):
        if name in ONLINE_ONLY | GRID_ONLY | TRAINED_CREATOR:
            continue
        params = inspect.signature(fn).parameters
        kwargs = {"embedder": "hash"} if "embedder" in params else {}
        fig = fn(DEMO, **kwargs)
        assert isinstance(fig, go.Figure), name
        assert fig.layout.title.text, name
        assert len(fig.data) >= 1, f"{name} drew nothing from data/demo_run"
        fig.to_json()  # serializable: what the notebook and the HTML export write


def test_the_trained_creator_plot_says_the_demo_run_has_none_and_draws_the_stored_table():
    fig = plots.fig_creator_training(DEMO)
    assert not fig.data and "was not trained" in fig.layout.annotations[0].text
    table = plots.load_creator_training(ROOT / "data" / "creator_training_demo.json")
    fig = plots.fig_creator_training(table)
    assert fig.layout.title.text and len(fig.data) >= 3
    fig.to_json()


def test_grid_plots_render_the_stored_reproduction():
    from evalab.digest import load_digests
    from evalab.reproduction import load_results, offspring_outcomes, seed_deltas

    res = load_results(ROOT / "data" / "reproduction.json")
    fig = plots.fig_iteration_curves(res["curves"], ["heldout_full", "informative_share", "rollouts_per_pair"])
    assert fig.layout.title.text and len(fig.data) == 3 * 2 * len(set(res["curves"].arm))  # band + line per arm
    fig = plots.fig_pass_rate_distribution(res["pass_rates"])
    assert fig.layout.title.text and len(fig.data) == 5 * len(set(res["pass_rates"].arm))  # one bar per bin
    off = offspring_outcomes(load_digests(ROOT / "data" / "digests" / "regime_high_lr_ep3", arms=["eva", "aim=frontier"]),
                             n_boot=200)
    fig = plots.fig_offspring(off)
    assert fig.layout.title.text and len(fig.data) == 3 * 2  # a bar trace per (child outcome, arm)
    assert sum(len(tr.x) for tr in fig.data) == 3 * len(off)
    fig.to_json()
    sd = seed_deltas(load_digests(ROOT / "data" / "digests" / "reproduction", arms=["eva", "static"]), n_boot=200)
    fig = plots.fig_seed_deltas(sd, overall=(-0.017, -0.064, 0.028))
    assert fig.layout.title.text.endswith("t = 3") and len(fig.data) == 1 and len(fig.data[0].x) == 3  # a point a seed
    assert list(fig.data[0].error_x.array) == list(sd.ci_high - sd.delta) and fig.layout.shapes  # CIs, 0 and the band
    fig.to_json()
    for f in (plots.fig_iteration_curves(res["curves"], ["bogus"]), plots.fig_pass_rate_distribution(None),
              plots.fig_offspring(off.iloc[:0]), plots.fig_seed_deltas(sd.iloc[:0])):
        assert not f.data and f.layout.annotations  # says what is missing
    fig.to_json()


def test_online_only_plots_render_an_online_train_log():
    logs = pd.DataFrame({"step": [1, 2, 3], "frac_all_fail": [0.5, 0.25, 0.0], "frac_mixed": [0.5, 0.5, 0.75],
                         "frac_all_pass": [0.0, 0.25, 0.25]})
    for name in ONLINE_ONLY:
        fig = getattr(plots, name)(logs)
        assert fig.layout.title.text and len(fig.data) == 3, name
