"""The results files in data/ are what the README says: every number of README's reproduction table is read back
from data/reproduction.json (and the file is a complete results file: per-seed rows for every arm × seed ×
iteration, the budget rule, the checkpoints of the runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalab.reproduction import RESULT_TABLES, load_results

ROOT = Path(__file__).resolve().parents[1]
REP = ROOT / "data" / "reproduction.json"


def _fmt(v: float) -> str:
    return f"{v + 0.0:+.3f}".replace("-", "−")


@pytest.mark.skipif(not REP.exists(), reason="data/reproduction.json is written by `python -m evalab reproduce`")
def test_readme_reproduction_table_is_the_results_file():
    res = load_results(REP)
    assert set(RESULT_TABLES) <= set(res) and res["budget_rule"] and res["pairs_per_iteration"] == 24
    ps = res["per_seed"]
    arms, seeds = sorted(set(ps.arm)), sorted(set(ps.seed))
    assert len(seeds) >= 3 and len(ps) == len(arms) * len(seeds) * 4   # iterations 0..3, θ3 evaluated
    readme = (ROOT / "README.md").read_text()
    readme = readme[readme.index("## Does evolving beat a fixed set?"):]
    curves = res["curves"]
    paired = res["paired"]
    for t in (1, 2, 3):
        row = next(line for line in readme.splitlines() if line.startswith(f"| {t} | "))
        for arm in ("eva", "static"):
            c = curves[(curves.arm == arm) & (curves.quantity == "heldout_full") & (curves.iteration == t)].iloc[0]
            assert f"{c['mean']:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}]" in row, (arm, t, row)
        for metric in ("full", "frac"):
            d = paired[(paired.arm == "eva") & (paired.vs == "static") & (paired.metric == metric)
                       & (paired.iteration == t)].iloc[0]
            assert f"{_fmt(d.delta)} [{_fmt(d.ci_low)}, {_fmt(d.ci_high)}]" in row, (metric, t, row)
        p = paired[(paired.arm == "eva") & (paired.vs == "static") & (paired.metric == "full")
                   & (paired.iteration == t)].p_better.item()
        assert f"| {p:.2f} |" in row
