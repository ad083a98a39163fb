"""evalab.plots on synthetic run stores (tests/fake_run.py): one iteration, several, partial, missing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import plotly.graph_objects as go
import pytest

from evalab import plots
from evalab.store import RunStore
from fake_run import build_fake_run

RUN_FIGS = {
    "weights": plots.fig_weight_ridgeline,
    "sources": plots.fig_informativeness_by_source,
    "lineage": plots.fig_lineage,
    "constraints": plots.fig_constraint_drift,
    "length": plots.fig_prompt_length,
    "pass_rate": plots.fig_pass_rate_by_kind,
    "topic_map": lambda r: plots.fig_topic_map(r, embedder="hash"),
    "heldout": plots.fig_heldout_scores,
    "metric_overlap": plots.fig_metric_overlap,
    "selection": plots.fig_selection,
    "training": plots.fig_training,
    "outcomes": plots.fig_evolution_outcomes,
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {
        "one": build_fake_run(base / "one", n_iterations=1, n_prompts=16, seed=1),
        "many": build_fake_run(base / "many", n_iterations=4, n_prompts=24, seed=2),
        "partial": build_fake_run(base / "partial", n_iterations=2, n_prompts=16, seed=3, partial=True),
    }


def _axis_titles(fig: go.Figure) -> list[str]:
    lay = fig.layout.to_plotly_json()
    return [v.get("title", {}).get("text") for k, v in lay.items() if k.startswith(("xaxis", "yaxis"))]


@pytest.mark.parametrize("name", sorted(RUN_FIGS))
@pytest.mark.parametrize("which", ["one", "many"])
def test_every_figure_has_data_title_and_axis_labels(runs, name, which):
    fig = RUN_FIGS[name](runs[which])
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text, "figure has a title"
    assert len(fig.data) > 0 and all(_n_points(tr) > 0 for tr in fig.data), f"{name}: empty trace"
    if name != "lineage":  # a sunburst has no axes: its colour bar carries the unit instead
        titles = _axis_titles(fig)
        assert titles and all(titles), f"{name}: unlabelled axis {titles}"
        assert any("(" in t for t in titles), f"{name}: no unit in any axis title {titles}"
    else:
        assert "reward units" in fig.data[0].marker.colorbar.title.text


def _n_points(tr) -> int:
    for key in ("x", "z", "ids", "y"):
        v = getattr(tr, key, None)
        if v is not None:
            return len(v)
    return 0


def test_ridgeline_has_one_ridge_per_weighed_iteration(runs):
    fig = plots.fig_weight_ridgeline(runs["many"])
    ridges = [tr for tr in fig.data if tr.fill == "toself"]
    assert len(ridges) == 4  # iterations 0..3 weighed; iteration 4 holds only X_4 and the final eval
    assert "zero" in fig.layout.annotations[0].text


def test_other_metric_ridgeline_differs(runs):
    a = plots.fig_weight_ridgeline(runs["many"], metric="a_min")
    b = plots.fig_weight_ridgeline(runs["many"], metric="avg")
    assert a.data[0].y.tolist() != b.data[0].y.tolist() or a.data[0].x.tolist() != b.data[0].x.tolist()
    assert "avg" in b.layout.title.text


def test_source_summary_matches_table(runs):
    S = plots.source_summary(runs["many"])
    X = plots.prompt_table(runs["many"])
    g = X[(X.t == 2) & (X.source == "evolved")]
    row = S[(S.t == 2) & (S.source == "evolved")].iloc[0]
    assert row["n"] == len(g) and row["weight"] == pytest.approx(g["weight"].mean())
    assert set(S["source"]) == {"seed", "evolved", "buffer"}


def test_lineage_parents_exist_and_downsampling_keeps_whole_lineages(runs):
    nodes = plots.lineage_nodes(runs["many"])
    ids = set(nodes["id"])
    assert all(p == "" or p in ids for p in nodes["parent"])
    assert (nodes["parent"] != "").sum() > 0, "evolved prompts are attached to their parents"
    small = plots._subsample_tree(nodes, 20)
    assert len(small) == 20
    kept = set(small["id"])
    assert all(p == "" or p in kept for p in small["parent"]), "a kept node's parent is kept"
    fig = plots.fig_lineage(runs["many"], max_nodes=20)
    assert len(fig.data[0].ids) == 20 and f"20 of {len(nodes)}" in fig.layout.title.text


def test_constraint_kind_shares_are_per_prompt(runs):
    fig = plots.fig_constraint_drift(runs["many"])
    X = plots.prompt_table(runs["many"])
    X0 = X[X.t == 0]
    kind = fig.data[-1].name
    expected = 100 * np.mean([kind in ks for ks in X0["kinds"]])
    assert fig.data[-1].y[0] == pytest.approx(expected)


def test_pass_rate_heatmap_matches_eval_json(runs):
    fig = plots.fig_pass_rate_by_kind(runs["many"])
    ev = json.loads((runs["many"] / "iter_002" / "eval.json").read_text())
    hm = fig.data[0]
    i = list(hm.y).index("lowercase")
    assert hm.z[i][list(hm.x).index("2")] == pytest.approx(100 * ev["per_kind"]["lowercase"])


def test_heldout_several_seeds_error_bars(tmp_path, runs):
    seeds = [build_fake_run(tmp_path / f"s{i}", n_iterations=2, n_prompts=8, seed=10 + i) for i in range(3)]
    T = plots.heldout_table({"eva": seeds, "static": runs["one"]}, score="constraint_rate")
    eva = T[T.label == "eva"]
    assert list(eva["n_runs"]) == [3, 3, 3] and (eva["sd"] > 0).all()
    vals = [json.loads((s / "iter_001" / "eval.json").read_text())["constraint_rate"] for s in seeds]
    assert eva[eva.t == 1]["mean"].iloc[0] == pytest.approx(np.mean(vals))
    fig = plots.fig_heldout_scores({"eva": seeds, "static": runs["one"]}, score="constraint_rate")
    assert [tr.name for tr in fig.data] == ["eva", "static"]
    assert fig.data[0].error_y.visible and not fig.data[1].error_y.visible
    with pytest.raises(ValueError, match="score="):
        plots.heldout_table(runs["one"], score="accuracy")


def test_metric_overlap_is_symmetric_with_unit_diagonal(runs):
    sets = plots.metric_selections(runs["many"], t=1)
    J = plots.jaccard_matrix(sets)
    assert np.allclose(J.to_numpy(), J.to_numpy().T) and np.allclose(np.diag(J), 1.0)
    assert "run" in J.index and J.loc["run", "a_min"] == pytest.approx(1.0)  # the fake run selected with a_min
    assert J.loc["a_min", "inv_a_min"] < 1.0


def test_recompute_selection_reproduces_the_runs_subset(runs):
    store = RunStore(runs["many"])
    for t in (0, 1, 2):
        D = plots.recompute_selection(store, t, store.config.metric)
        assert set(D.loc[D.selected, "prompt_id"]) == set(store.read_table(t, "selected")["prompt_id"])
    other = plots.recompute_selection(store, 1, "avg")
    W = store.read_table(1, "weights").set_index("prompt_id")
    assert np.allclose(other.set_index("prompt_id")["weight"], W.loc[other["prompt_id"], "avg"])


def test_topic_map_pca_and_embedding_cache(runs):
    fig = plots.fig_topic_map(runs["many"], embedder="hash", max_per_iteration=10)
    assert sum(len(tr.x) for tr in fig.data) == 10 * 5
    assert (runs["many"] / plots.VIZ_DIR / "embeddings_hash.npz").exists()
    xy, ratio = plots.pca_2d(np.random.default_rng(0).normal(size=(30, 8)))
    assert xy.shape == (30, 2) and 0 < ratio[1] <= ratio[0] < 1
    with pytest.raises(ValueError, match="embedder"):
        plots.embed_texts(["a"], embedder="bert")


@pytest.mark.slow
def test_topic_map_minilm_embeddings(tmp_path):
    E = plots.embed_texts(["Write a poem about the sea.", "Write a poem about the ocean.", "Explain DPO loss."],
                          "minilm", cache_dir=tmp_path)
    assert E.shape == (3, 384) and np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
    assert E[0] @ E[1] > E[0] @ E[2], "paraphrases are closer than unrelated prompts"
    again = plots.embed_texts(["Explain DPO loss."], "minilm", cache_dir=tmp_path)
    assert np.allclose(again[0], E[2])


def test_partial_run_plots_what_exists(runs):
    p = runs["partial"]
    assert plots.check_run_dir(p) is None
    for name, fn in RUN_FIGS.items():
        fig = fn(p)
        assert fig.layout.title.text, name
    # iteration 1 has weights but no selection/evolution yet
    assert len([tr for tr in plots.fig_weight_ridgeline(p).data if tr.fill == "toself"]) == 2
    assert plots.fig_selection(p).layout.title.text.startswith("Selection at X_1")


def test_run_without_weights_shows_a_message(tmp_path, runs):
    d = tmp_path / "early"
    shutil.copytree(runs["one"], d)
    for stage in ("responses", "weights", "selected", "evolved", "next_prompts", "pairs", "train_log"):
        (d / "iter_000" / f"{stage}.parquet").unlink()
    shutil.rmtree(d / "iter_001")
    fig = plots.fig_weight_ridgeline(d)
    assert len(fig.data) == 0 and "no weights" in fig.layout.annotations[0].text
    assert plots.fig_training(d).layout.annotations[0].text == "no training log yet"
    assert "no responses" in plots.fig_metric_overlap(d).layout.annotations[0].text


def test_bad_run_dirs_have_clear_messages(tmp_path):
    assert "does not exist" in plots.check_run_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    assert "is empty" in plots.check_run_dir(tmp_path / "empty")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("x")
    assert "no config.json" in plots.check_run_dir(tmp_path / "foreign")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.fig_weight_ridgeline(tmp_path / "nope")


def test_mid_write_temporary_files_are_ignored(tmp_path, runs):
    d = tmp_path / "mid"
    shutil.copytree(runs["one"], d)
    (d / "iter_000" / ".selected.parquet.abc.tmp").write_bytes(b"half a file")
    (d / "events.jsonl").open("a").write('{"time": 1, "event": "stage_st')  # a line cut by a kill
    assert plots.fig_metric_overlap(d).layout.title.text


def test_export_figures_html(tmp_path, runs):
    out = plots.export_figures(runs["many"], tmp_path / "figs", png=False, embedder="hash")
    assert len(out) == 11
    for name, paths in out.items():
        html = paths[0].read_text()
        assert paths[0].suffix == ".html" and "plotly.min.js" in html and len(html) > 2000, name
    assert (tmp_path / "figs" / "plotly.min.js").exists()


@pytest.mark.slow
@pytest.mark.capability("png")
@pytest.mark.skipif(shutil.which("chromium") is None, reason="PNG export needs a Chrome: apt-get install chromium")
def test_export_png_with_kaleido(tmp_path, runs):
    pytest.importorskip("kaleido")
    out = plots.export_figures(runs["one"], tmp_path / "figs", png=True, embedder="hash")
    pngs = [p for ps in out.values() for p in ps if p.suffix == ".png"]
    assert len(pngs) == 11 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
