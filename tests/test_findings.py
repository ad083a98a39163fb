"""evalab.findings: the one-table summary of every shipped comparison, checked against the results files it reads and
against the README that quotes it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_results_files import _ci

from evalab.findings import (FINDINGS, Comparison, findings_counts, findings_markdown_table, findings_table,
                             verdict)
from evalab.reproduction import load_results, paired_ahead

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, rows: list[dict]) -> str:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "r.json").write_text(json.dumps({"paired": rows}))
    return "data/r.json"


def _pair(arm, vs, t, delta, lo, hi, p, metric="full", n=3):
    return {"arm": arm, "vs": vs, "iteration": t, "metric": metric, "delta": delta, "ci_low": lo, "ci_high": hi,
            "p_better": p, "n_seeds": n}


@pytest.mark.parametrize("lo, hi, want", [(0.001, 0.1, "ahead"), (-0.1, -0.001, "behind"), (-0.1, 0.1, "CI includes 0"),
                                          (0.0, 0.1, "CI includes 0"), (-0.1, 0.0, "CI includes 0")])
def test_verdict_reads_the_ci_alone(lo, hi, want):
    assert verdict(lo, hi) == want


@pytest.mark.parametrize("lo, hi", [(np.nan, 0.1), (0.2, 0.1)])
def test_verdict_refuses_what_is_not_a_ci(lo, hi):
    with pytest.raises(ValueError, match="not a CI"):
        verdict(lo, hi)


def test_a_row_is_the_last_iteration_and_a_reversed_pair_is_negated(tmp_path):
    path = _write(tmp_path, [_pair("eva", "static", 1, 0.01, -0.02, 0.04, 0.7),
                             _pair("eva", "static", 2, 0.05, 0.01, 0.09, 0.98),
                             _pair("eva", "static", 2, 0.5, 0.4, 0.6, 1.0, metric="frac"),
                             _pair("static", "fresh", 2, 0.03, -0.01, 0.07, 0.9)])
    comps = (Comparison("d", path, "eva", "static"), Comparison("d", path, "fresh", "static"),
             Comparison("d", path, "eva", "static", iteration=1))
    t = findings_table(tmp_path, comps)
    assert t.iteration.tolist() == [2, 2, 1]
    assert t.loc[0, ["delta", "ci_low", "ci_high", "p_better"]].tolist() == [0.05, 0.01, 0.09, 0.98]
    assert t.loc[0, "verdict"] == "ahead"
    # fresh − static is static − fresh negated, its CI flipped, the share ahead 1 − static's (as paired_ahead)
    assert t.loc[1, ["delta", "ci_low", "ci_high"]].tolist() == pytest.approx([-0.03, -0.07, 0.01])
    assert t.loc[1, "p_better"] == pytest.approx(0.1)
    paired = load_results(tmp_path / path)["paired"]
    assert tuple(t.loc[1, ["delta", "ci_low", "ci_high", "p_better"]]) == pytest.approx(
        paired_ahead(paired, "fresh", "static", "full", 2))
    assert t.loc[2, "verdict"] == "CI includes 0"
    assert findings_table(tmp_path, comps[:1], metric="frac").delta.item() == 0.5


def test_a_missing_file_pair_or_iteration_is_named(tmp_path):
    path = _write(tmp_path, [_pair("eva", "static", 1, 0.01, -0.02, 0.04, 0.7)])
    with pytest.raises(FileNotFoundError, match="nope.json.*'x'"):
        findings_table(tmp_path, (Comparison("x", "data/nope.json", "eva", "static"),))
    with pytest.raises(ValueError, match="no paired difference eva − fresh.*eva − static"):
        findings_table(tmp_path, (Comparison("x", path, "eva", "fresh"),))
    with pytest.raises(ValueError, match="no iteration 3.*iterations: \\[1\\]"):
        findings_table(tmp_path, (Comparison("x", path, "eva", "static", iteration=3),))
    with pytest.raises(ValueError, match="metric must be"):
        findings_table(tmp_path, (), metric="mean")


def test_every_shipped_comparison_is_its_files_paired_row():
    table = findings_table(ROOT)
    assert len(table) == len(FINDINGS) and table.verdict.notna().all()
    files = {path: load_results(ROOT / path)["paired"] for path in dict.fromkeys(c.path for c in FINDINGS)}
    for c, r in zip(FINDINGS, table.itertuples()):
        paired = files[c.path]
        assert (r.arm, r.vs) == (c.arm, c.vs)
        assert (r.delta, r.ci_low, r.ci_high, r.p_better) == pytest.approx(
            paired_ahead(paired, c.arm, c.vs, "full", r.iteration))
        ts = paired[((paired.arm == c.arm) & (paired.vs == c.vs)) | ((paired.arm == c.vs) & (paired.vs == c.arm))]
        assert r.iteration == (ts.iteration.max() if c.iteration is None else c.iteration)
    # no comparison twice: the curricula grid reuses the standard grid's eva and static runs
    assert not table.duplicated(["arm", "vs", "delta", "ci_low", "ci_high"]).any()


def _readme_section(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start:end if end > 0 else None]


def test_readme_findings_table_and_counts_are_the_results_files():
    table = findings_table(ROOT)
    section = _readme_section("### Every comparison in one table")
    assert findings_markdown_table(table) in section
    c = findings_counts(table)
    assert c["ahead"] + c["behind"] + c["includes_0"] == c["comparisons"] == len(FINDINGS)
    frac_t = findings_table(ROOT, metric="frac")
    frac = findings_counts(frac_t)
    top = _readme_section("## What was measured, in short")
    for text in (section, top):
        assert f"{c['comparisons']} comparisons" in text
        assert f"{c['includes_0']} include 0" in text
    ahead = table[table.verdict == "ahead"]
    behind = table[table.verdict == "behind"]
    assert re.search(rf"{len(ahead)} (?:lies|lie) above 0 and {len(behind)} below", section)
    for r in pd.concat([ahead, behind]).itertuples():  # each CI that excludes 0 is named and quoted up top
        assert r.design in top
        assert _ci(r.delta, r.ci_low, r.ci_high) in top
    assert f'`metric="frac"`: {frac["includes_0"]} of {frac["comparisons"]}' in section
    # "the same two rows exclude it": the constraint rate's rows outside 0 are the fully-satisfied rate's
    assert "the same two rows exclude it" in section
    assert (frac_t.verdict != "CI includes 0").tolist() == (table.verdict != "CI includes 0").tolist()
    assert len(ahead) + len(behind) == 2


def test_fig_findings_draws_every_comparison_once_coloured_by_verdict():
    from evalab.plots import FINDING_COLORS, fig_findings

    table = findings_table(ROOT)
    fig = fig_findings(table)
    points = [(y, x) for tr in fig.data for x, y in zip(tr.x, tr.y)]
    assert len(points) == len(table) == len({y for y, _ in points})
    by_verdict = {tr.name: len(tr.x) for tr in fig.data}
    assert by_verdict == {v: int((table.verdict == v).sum()) for v in FINDING_COLORS if (table.verdict == v).any()}
    for tr in fig.data:  # each point's error bar spans its CI
        rows = table[table.verdict == tr.name]
        np.testing.assert_allclose(np.asarray(tr.x) + np.asarray(tr.error_x.array), rows.ci_high)
        np.testing.assert_allclose(np.asarray(tr.x) - np.asarray(tr.error_x.arrayminus), rows.ci_low)
    # top to bottom in the table's order
    assert list(fig.layout.yaxis.categoryarray)[::-1][0].startswith("standard grid, 3 seeds: eva − static")
    assert "no comparison" in str(fig_findings(table.iloc[:0]).layout.annotations[0].text)


def test_every_shipped_results_file_with_paired_differences_has_a_row():
    """A new results file in data/ joins the summary, or this names it."""
    files = {f"data/{p.name}" for p in (ROOT / "data").glob("*.json") if "paired" in json.loads(p.read_text())}
    assert files - {c.path for c in FINDINGS} == set()
    assert {c.path for c in FINDINGS} <= files
