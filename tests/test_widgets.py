"""widgets/ in plain Python (constructed, driven programmatically) and notebook 02 through papermill."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import widgets
from evalab import plots
from evalab.store import RunStore
from fake_run import build_fake_run
from nbrun import CELL_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_fake_run(tmp_path_factory.mktemp("w") / "run", n_iterations=3, n_prompts=24, seed=5)


def test_explorer_filters_and_detail(run):
    ex = widgets.PromptExplorer(run)
    assert isinstance(ex.figure, go.FigureWidget)
    assert set(ex.filtered()["t"]) == {3}  # starts on the latest prompt set
    ex.iteration.value = "all"
    n_all = len(ex.filtered())
    assert n_all == len(plots.prompt_table(run))
    ex.operator.value = ("harden",)
    F = ex.filtered()
    assert len(F) and (F["operator"] == "harden").all()
    assert sum(len(tr.x) for tr in ex.figure.data) == len(F), "scatter follows the filters"
    assert f"<b>{len(F)}</b>" in ex.count.value
    ex.operator.value = tuple(ex.operator.options)
    ex.kind.value = "lowercase"
    assert ex.filtered()["kinds"].map(lambda k: "lowercase" in k).all()
    ex.kind.value = "all"
    lo, hi = 0.4, 0.6
    ex.include_unweighed.value = False
    ex.weight.value = (lo, hi)
    w = ex.filtered()["weight"]
    assert len(w) and w.between(lo - 1e-9, hi + 1e-9).all()


def test_explorer_selection_shows_responses_parent_children(run):
    ex = widgets.PromptExplorer(run)
    ex.iteration.value = 1
    X = ex.filtered()
    child = X[X["source"] == "evolved"].iloc[0]
    html = ex.select(1, child["id"])
    assert child["parent_id"] in html and "parent" in html
    R = RunStore(run).read_table(1, "responses")
    for txt in R[R.prompt_id == child["id"]]["response"]:
        assert txt in html
    parent_with_kids = RunStore(run).read_table(0, "selected")["prompt_id"].iloc[0]
    html0 = ex.select(0, parent_with_kids)
    assert "children" in html0 and "accepted of" in html0
    ex.listing.value = ex.listing.options[0][1]  # picking a row fills the detail pane
    assert ex.listing.options[0][1][1] in ex.detail.value
    with pytest.raises(KeyError):
        ex.select(0, "no-such-id")


def test_metric_switcher_recomputes_live(run):
    ms = widgets.MetricSwitcher(run)
    before = [np.asarray(tr.x, float).copy() for tr in ms.figure.data]
    sel_before = set(ms.selection.loc[ms.selection.selected, "prompt_id"])
    assert sel_before == set(RunStore(run).read_table(2, "selected")["prompt_id"])
    assert "Jaccard 1.00" in ms.summary.value
    ms.metric.value = "avg"
    after = [np.asarray(tr.x, float) for tr in ms.figure.data]
    assert any(a.shape != b.shape or not np.allclose(a, b) for a, b in zip(before, after)), "figure changed"
    assert "under avg" in ms.figure.layout.title.text
    W = RunStore(run).read_table(2, "weights").set_index("prompt_id")
    assert np.allclose(ms.selection.set_index("prompt_id")["weight"], W.loc[ms.selection.prompt_id, "avg"])
    ms.fraction.value = 0.25
    assert ms.selection["selected"].sum() == 6
    ms.iteration.value = 0
    assert "X_0" in ms.figure.layout.title.text
    with pytest.raises(ValueError, match="metric="):
        widgets.MetricSwitcher(run, metric="nope")


def test_stepper_runs_steps_refreshes_and_reports_errors():
    calls, refreshed = [], []

    def step():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("creator timed out")
        return "done" if len(calls) == 4 else f"stage {len(calls)}"

    st = widgets.IterationStepper(step, total=3, refresh=[lambda: refreshed.append(1)])
    assert st.step() == "stage 1" and st.progress.value == 1 and refreshed == [1]
    assert st.step() is None and "creator timed out" in st.status.value and st.progress.bar_style == "danger"
    assert st.run() == ["stage 3", "done"] and st.done and st.progress.bar_style == "success"
    assert st.step() is None and "finished" in st.status.value and len(calls) == 4
    st.button.click()  # the button does what step() does (here: nothing left)
    assert len(calls) == 4
    with pytest.raises(ValueError, match="callable"):
        widgets.IterationStepper("run_stage")


def test_loop_step_fn_on_a_finished_run(tmp_path):
    pytest.importorskip("evalab.loop")
    d = build_fake_run(tmp_path / "r", n_iterations=1, n_prompts=8, seed=1)
    store = RunStore(d)
    # mark every loop stage finished so stepping must load no model
    for stage in ("train_responses",):
        store.write_table(0, stage, store.read_table(0, "responses"))
    with store.checkpoint_writer(0) as ck:
        (ck / "config.json").write_text("{}")
    st = widgets.IterationStepper(widgets.loop_step_fn(store))
    assert st.step().startswith("done") and st.done


def test_training_monitor_follows_a_growing_log(tmp_path):
    d = build_fake_run(tmp_path / "r", n_iterations=1, n_prompts=8, seed=2)
    store = RunStore(d)
    mon = widgets.TrainingMonitor(store, interval=0.05)
    assert mon.poll() is False and "step 12" in mon.status.value
    # iteration 1 is training: the trainer checkpoints trainer_state.json under its scratch dir
    work = store.scratch_dir(1, "trainer") / "checkpoint-2"
    work.mkdir(parents=True)
    hist = [{"step": 1, "epoch": 0.5, "loss": 0.7}, {"step": 2, "epoch": 1.0, "loss": 0.6}]
    (work / "trainer_state.json").write_text(pd.Series({"log_history": hist}).to_json())
    assert mon.poll() is True
    assert "iteration 1, step 2" in mon.status.value
    assert any(tr.name == "t=1" for tr in mon.figure.data)
    mon.start()
    import time

    time.sleep(0.3)
    mon.stop()
    assert mon.polls >= 3 and mon._thread is None
    with pytest.raises(ValueError, match="interval"):
        widgets.TrainingMonitor(store, interval=0)


def test_headless_widgets_render_static_figures(run, capsys):
    for w in (widgets.PromptExplorer(run, headless=True), widgets.MetricSwitcher(run, headless=True),
              widgets.TrainingMonitor(run, headless=True)):
        assert type(w.figure) is go.Figure
        capsys.readouterr()
        w._ipython_display_()
        assert "Figure" in capsys.readouterr().out, "a static figure is displayed"


def test_open_run_or_message(tmp_path, capsys, run):
    assert widgets.open_run_or_message(tmp_path / "missing") is None
    assert "does not exist" in capsys.readouterr().out
    assert isinstance(widgets.open_run_or_message(run), RunStore)


# --- notebook 02 through papermill -------------------------------------------------------------------

def _execute(tmp_path: Path, **params):
    import nbformat
    import papermill as pm

    out = tmp_path / "02.out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "02_curriculum.ipynb"), str(out), parameters=params,
                        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
                        execution_timeout=CELL_TIMEOUT)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs


@pytest.mark.slow
def test_notebook_02_headless_on_a_fake_run(tmp_path, run):
    d = tmp_path / "run"
    shutil.copytree(run, d)
    # section 4c: this fake run's creator was not trained, so the stored table is shown (here one made from a copy
    # of the run given a creator_training stage)
    trained = RunStore(shutil.copytree(run, tmp_path / "trained"))
    trained.write_table(1, "creator_training", pd.DataFrame({
        "call": 0, "step": [1, 1, 2], "parent_id": "p", "completion": "c", "proposal": ["a", "b", ""],
        "valid": [True, True, False], "reason": ["", "", "blank"], "pass_rate": [0.5, 0.0, float("nan")],
        "reward": [1.0, 0.0, 0.0]}))
    table = plots.save_creator_training(trained, tmp_path / "creator.json")
    outputs = _execute(tmp_path, profile="ci", run_dir=str(d), headless=True, embedder="hash",
                       creator_json=str(table))
    figs = [o["data"]["application/vnd.plotly.v1+json"] for o in outputs
            if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figs) >= 13
    assert all(f["layout"].get("title", {}).get("text") for f in figs)
    assert any(f["layout"]["title"]["text"].startswith("The trained creator") for f in figs)
    text = "\n".join(o.get("text", "") for o in outputs)
    assert f"run {d}" in text and "iterations [0, 1, 2, 3]" in text
    assert f"showing {table} (3 proposals, 1 iterations)" in text


@pytest.mark.slow
def test_notebook_02_missing_run_dir_stops_gracefully(tmp_path):
    outputs = _execute(tmp_path, profile="ci", run_dir=str(tmp_path / "no_run_here"), headless=True)
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "Nothing to show" in text and "does not exist" in text
    assert not [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
