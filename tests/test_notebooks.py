"""Notebooks 01, 03 and 04 run headlessly through papermill with profile="ci"; their outputs are checked.
(02 and 05 run in tests/test_widgets.py and tests/test_online.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbrun import CELL_TIMEOUT, execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def test_notebooks_are_built_from_their_sources():
    r = subprocess.run([sys.executable, "scripts/build_notebooks.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_papermill_parameters(nb):
    cells = nbformat.read(nb, as_version=4).cells
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{nb.name}: exactly one cell tagged 'parameters'"
    src = params[0].source
    assert "profile = " in src and "run_dir = " in src
    assert cells[0].cell_type == "markdown" and "papermill" in cells[0].source


def execute(name: str, tmp_path: Path, **params) -> tuple[nbformat.NotebookNode, Path]:
    run_dir = tmp_path / "run"
    out = tmp_path / f"{name}.out.ipynb"
    execute_notebook(ROOT / "notebooks" / f"{name}.ipynb", out,
                        parameters={"profile": "ci", "run_dir": str(run_dir), **params},
                        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return nb, run_dir


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            if "text" in o:
                parts.append(o["text"])
            for key in ("text/plain", "text/html", "text/markdown"):
                if key in o.get("data", {}):
                    parts.append(str(o["data"][key]))
    return "\n".join(parts)


def figures_of(nb: nbformat.NotebookNode) -> list[dict]:
    return [o["data"]["application/vnd.plotly.v1+json"] for c in nb.cells for o in c.get("outputs", [])
            if "application/vnd.plotly.v1+json" in o.get("data", {})]


@pytest.mark.slow
def test_notebook_01_weights(tmp_path):
    nb, run_dir = execute("01_weights", tmp_path)
    out = text_of(nb)
    assert "variants accepted" in out and "constraints per prompt: X0" in out
    figs = figures_of(nb)
    assert len(figs) >= 5
    assert all(f["layout"].get("title") for f in figs)
    for stage in ("responses", "weights", "selected", "evolved", "next_prompts"):
        assert (run_dir / "iter_000" / f"{stage}.parquet").exists(), stage
    assert (run_dir / "iter_001" / "prompts.parquet").exists()


@pytest.mark.slow
def test_notebook_03_iterations(tmp_path):
    nb, run_dir = execute("03_iterations", tmp_path)
    assert (run_dir / "iter_000" / "checkpoint" / "DONE").exists()
    e0 = json.loads((run_dir / "iter_000" / "eval.json").read_text())
    e1 = json.loads((run_dir / "iter_001" / "eval.json").read_text())
    assert e0["n"] == e1["n"] == 6 and 0 <= e1["full_rate"] <= 1
    assert len(figures_of(nb)) >= 4
    last = nb.cells[-1].outputs[0]["text"]
    assert set(json.loads(last)) == {"constraint_rate", "full_rate"}


@pytest.mark.slow
def test_notebook_04_ablations(tmp_path):
    # the metric-ablation section renders any results file: here the one this run writes for its own stores
    nb, run_dir = execute("04_ablations", tmp_path, seeds=[1, 2], reproduction_json="runs",
                          metrics_json=str(tmp_path / "run" / "reproduction.json"))
    for arm in ("eva", "static"):
        for s in (1, 2):
            assert (run_dir / arm / f"seed{s}" / "iter_001" / "eval.json").exists()
    # θ₀ is decoded once; the three other runs carry a marked copy of the same report
    reports = [json.loads((run_dir / a / f"seed{s}" / "iter_000" / "eval.json").read_text())
               for a in ("eva", "static") for s in (1, 2)]
    assert sum("shared_from" not in r for r in reports) == 1
    assert all(r["per_prompt"] == reports[0]["per_prompt"] for r in reports)
    out = text_of(nb)
    assert "gain_ci_low" in out and "static" in out and "p_better" in out
    # first, every comparison the shipped results files report (evalab.findings), as a table and a forest plot
    assert "| design | comparison | t | seeds | difference [95% CI] (share ahead) | verdict |" in out
    assert "'comparisons': 36" in out and "| 8 iterations, seeds 6-8 | eva − static | 8 | 3 |" in out
    assert any(t.startswith("Every comparison: arm − control") for t in
               (f["layout"]["title"]["text"] for f in figures_of(nb) if f["layout"].get("title")))
    # the reproduction section: without a stored reproduction it renders this run's stores (no recomputation)
    rep = json.loads((run_dir / "reproduction.json").read_text())
    assert {r["arm"] for r in rep["curves"]} == {"eva", "static"} and rep["paired"]
    titles = [f["layout"]["title"]["text"] for f in figures_of(nb) if f["layout"].get("title")]
    assert any(t.startswith("Per-iteration curves per arm") for t in titles)
    assert any(t.startswith("eva − control") for t in titles)
    assert any(t.startswith("The metric ablation: per-iteration curves") for t in titles)
    assert "| t | eva | static |" in out and "eva − static" in out and "arms eva, static; seeds [1, 2]" in out
    assert "| paper | — |" in out   # the README's tables with the paper's ordering (no entry for static)
    # A*_avg's lead: the confirmation's file, the seed groups, each of the nine seeds at t = 3
    assert "data/replication_a_avg_confirm.json: arms" in out and "| 4–9 (primary) | 6 |" in out
    assert "| 1–9 (pooled) | 9 |" in out
    assert any(t.startswith("metric=a_avg − eva at t = 3 seed by seed") for t in titles)
    # the regimes section renders the shipped regime files (data/reproduction.json and data/regime_easy.json at least)
    assert any(t.startswith("Regimes: eva and static") for t in titles)
    assert "regimes stored: ['standard', 'easy seed set', 'all pairs', 'small set', 'lr ×5', 'lr ×5, 3 epochs', 'large set'] |" in out
    assert "| standard | 3 |" in out and "| all pairs | 3 |" in out and "| small set | 6 |" in out
    assert "small set − standard" in out and "| t | eva: all pairs − standard | static: all pairs − standard |" in out
    assert "| t | eva: θ_t − θ_1 | static: θ_t − θ_1 | eva − static: change since t = 1 |" in out
    assert "**lr ×5, 3 epochs** (share of resamples above 0" in out
    assert "| regime | t | seeds | eva − static |" in out and "| **pooled** | — | 18 |" in out
    assert "| seeds per arm | runs | 95% CI half-width |" in out
    assert "measured at 3 seeds (mean over the regimes): ±0." in out
    # the standard design on 9 seeds: the file, the first seeds beside the added ones, each seed's difference
    assert "data/reproduction_seeds.json: arms" in out
    assert "| 1–9 (all) | 9 |" in out and "| 4–9 (added) | 6 |" in out
    seed_fig = [f for f in figures_of(nb) if f["layout"].get("title", {}).get("text", "").startswith(
        "eva − static seed by seed")]
    assert len(seed_fig) == 1 and len(seed_fig[0]["data"][0]["y"]) == 9
    # the standard design over 8 iterations: the file, the change since t = 3, the curves, the pairs built
    assert "data/reproduction_long.json: arms" in out and "| 8 | 0.300 [" in out
    assert "| t | eva: θ_t − θ_3 | static: θ_t − θ_3 | eva − static: change since t = 3 |" in out
    assert "| t | eva: n_pairs_built | static: n_pairs_built |" in out
    assert any(t.startswith("Eight iterations at 48 prompts") for t in titles)
    # its confirmation on seeds 4, 5, 9: the file, the lead's seeds beside the confirmation's and all six, each seed
    assert "data/reproduction_long_confirm.json: arms" in out and "| 4–9 (pooled) | 6 |" in out
    assert any(t.startswith("eva − static at t = 8 seed by seed") for t in titles)
    # the creator aimed at the frontier: its comparison with the 3-epoch regime's eva and static, and its training sets
    assert "| t | aim=frontier − eva | aim=frontier − static |" in out and "| t | quantity | eva | aim=frontier |" in out
    assert any(t.startswith("Creator aimed at the frontier") for t in titles)
    # where the creator's children landed, and the gentler aim beside the first one
    assert "| arm | root pass rate | eased | roots | children | mixed | all_pass | all_fail |" in out
    assert "| aim=frontier@0.25 | 0.00 | yes |" in out
    assert any(t.startswith("Children's next outcome by their root's pass rate") for t in titles)
    assert "| t | aim=frontier@0.25 − eva | aim=frontier@0.25 − static |" in out and "aim=frontier@0.25" in out
    assert any(t.startswith("A gentler aim") for t in titles)


@pytest.mark.slow
def test_notebook_06_curricula(tmp_path):
    """Without a stored comparison, 06 runs its small one (eva, thompson, static; 2 iterations) and renders it; then
    the same notebook re-renders that results file without running anything."""
    nb, run_dir = execute("06_curricula", tmp_path, curricula_json="runs")
    res = json.loads((run_dir / "curricula.json").read_text())
    assert {r["arm"] for r in res["curves"]} == {"eva", "thompson", "static"}
    rows = res["per_seed"]
    saved = {r["arm"]: sum(x["rollouts_saved"] or 0 for x in rows if x["arm"] == r["arm"]) for r in rows}
    assert saved["thompson"] > 0 and saved["eva"] == 0 == saved["static"]   # prediction skipped prompts
    shares = {}
    for r in res["pass_rates"]:
        shares[(r["arm"], r["iteration"])] = shares.get((r["arm"], r["iteration"]), 0) + r["share"]
    assert shares and all(abs(v - 1) < 1e-9 for v in shares.values())
    titles = [f["layout"]["title"]["text"] for f in figures_of(nb) if f["layout"].get("title")]
    assert any(t.startswith("Per-iteration curves per arm") for t in titles)
    assert any(t.startswith("Pass rate of the training set") for t in titles)
    assert any(t.startswith("arm − static") for t in titles)
    out = text_of(nb)
    assert "minus_static" in out and "rollouts_saved" in out
    # a stored results file renders without running: nothing is written under the new run_dir
    (tmp_path / "again").mkdir()
    nb2, run_dir2 = execute("06_curricula", tmp_path / "again", curricula_json=str(run_dir / "curricula.json"))
    assert not run_dir2.exists()
    assert "a smoke-size comparison" not in text_of(nb2) and "minus_static" in text_of(nb2)
    # by default it renders the shipped data/curricula.json, and names the runs a partial one lacks
    shipped = json.loads((ROOT / "data" / "curricula.json").read_text())
    (tmp_path / "shipped").mkdir()
    nb3, run_dir3 = execute("06_curricula", tmp_path / "shipped")
    out3 = text_of(nb3)
    assert "data/curricula.json: arms" in out3 and not run_dir3.exists()
    assert ("PARTIAL" in out3) == bool(shipped["missing"])
    assert all(f"{m['arm']}/seed{m['seed']}" in out3 for m in shipped["missing"])
