"""Every comparison the shipped results files report, in one table: an arm minus its control on the held-out set,
at the iteration the design's config stated as its primary (else its last evaluated one), read from the paired
table each file stores (paired by seed and prompt, 95% bootstrap CI, the share of resamples in which the arm is
ahead). The README's "What was measured, in short" table and notebook 04's first summary.

    from evalab.findings import findings_table, findings_markdown_table, findings_counts
    table = findings_table(".")                  # one row per ``FINDINGS`` entry, from data/*.json
    print(findings_markdown_table(table))
    findings_counts(table)                       # {"comparisons": .., "ahead": .., "behind": .., "includes_0": ..}

A verdict is read from the CI alone: "ahead" when it lies above 0, "behind" when below, else "CI includes 0". The
rows are many comparisons on one held-out set, most on the same θ0, so a CI that excludes 0 in one row is what
about one row in twenty does by chance; the sections that ran a stated confirmation say what became of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalab.reproduction import load_results, paired_ahead, paired_cell

__all__ = ["Comparison", "FINDINGS", "findings_table", "findings_markdown_table", "findings_counts", "verdict"]


@dataclass(frozen=True)
class Comparison:
    """One row of the findings: ``arm`` minus ``vs`` in the results file ``path`` (relative to the root), at
    ``iteration`` (None: the last iteration the file's paired table has for the pair)."""
    design: str
    path: str
    arm: str
    vs: str
    iteration: int | None = None


_METRICS = ("metric=a_avg", "metric=var", "metric=avg", "metric=inv_avg", "metric=inv_a_min", "metric=uniform")
_CURRICULA = ("eva+frontier", "thompson", "greso", "band", "creator=r_zero", "creator=informativeness")

FINDINGS: tuple[Comparison, ...] = (
    *(Comparison("standard grid, 3 seeds", "data/reproduction.json", "eva", r)
      for r in ("static", "fresh", "no_evolve-greedy", "no_evolve-sampled", "sampling=uniform")),
    Comparison("standard grid, 9 seeds", "data/reproduction_seeds.json", "eva", "static"),
    *(Comparison("metric ablation", "data/reproduction_metrics.json", "eva", m) for m in _METRICS),
    Comparison("A*_avg re-test, seeds 4, 5", "data/replication_a_avg.json", "metric=a_avg", "eva"),
    Comparison("A*_avg confirmation, seeds 4-9", "data/replication_a_avg_confirm.json", "metric=a_avg", "eva"),
    Comparison("easy seed set", "data/regime_easy.json", "eva", "static"),
    Comparison("every pair trained on", "data/regime_all_pairs.json", "eva", "static"),
    Comparison("small set, 6 iterations", "data/regime_small_set.json", "eva", "static"),
    Comparison("lr ×5", "data/regime_high_lr.json", "eva", "static"),
    Comparison("lr ×5, 3 epochs", "data/regime_high_lr_ep3.json", "eva", "static"),
    # the two aims ran on to t = 5, but their configs stated t = 3 as the primary
    *(Comparison("creator aimed at the frontier", "data/aim_frontier.json", "aim=frontier", r, iteration=3)
      for r in ("eva", "static")),
    *(Comparison("gentler aim", "data/aim_frontier_gentle.json", "aim=frontier@0.25", r, iteration=3)
      for r in ("eva", "static")),
    Comparison("96 prompts", "data/regime_large_set.json", "eva", "static"),
    Comparison("8 iterations, seeds 6-8", "data/reproduction_long.json", "eva", "static"),
    Comparison("8 iterations, seeds 4, 5, 9", "data/reproduction_long_confirm.json", "eva", "static"),
    # the curricula grid reuses the standard grid's eva and static runs: its eva − static is the first row
    *(Comparison("curricula (issue 15)", "data/curricula.json", a, "static") for a in _CURRICULA),
    *(Comparison("online GRPO", "data/online_reproduction.json", a, "online-seed")
      for a in ("online-eva", "online-eva+dynamic")),
    *(Comparison("online prediction", "data/online_curricula.json", a, "online-eva")
      for a in ("online-thompson", "online-greso")),
)

COLUMNS = ["design", "path", "arm", "vs", "iteration", "n_seeds", "delta", "ci_low", "ci_high", "p_better",
           "verdict"]


def verdict(ci_low: float, ci_high: float) -> str:
    """What a 95% CI says of a difference: "ahead" (above 0), "behind" (below 0) or "CI includes 0"."""
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)) or ci_low > ci_high:
        raise ValueError(f"verdict: not a CI: [{ci_low}, {ci_high}]")
    return "ahead" if ci_low > 0 else "behind" if ci_high < 0 else "CI includes 0"


def _row(c: Comparison, paired: pd.DataFrame, metric: str) -> dict[str, Any]:
    pm = paired[paired.metric == metric]
    rows = pm[((pm.arm == c.arm) & (pm.vs == c.vs)) | ((pm.arm == c.vs) & (pm.vs == c.arm))]
    if not len(rows):
        have = sorted({f"{a} − {v}" for a, v in zip(pm.arm, pm.vs)})
        raise ValueError(f"{c.path}: no paired difference {c.arm} − {c.vs} ({metric}); the file has: {have}")
    t = int(rows.iteration.max()) if c.iteration is None else c.iteration
    if not (rows.iteration == t).any():
        raise ValueError(f"{c.path}: {c.arm} − {c.vs} has no iteration {t} "
                         f"(iterations: {sorted(int(i) for i in rows.iteration.unique())})")
    delta, lo, hi, p = paired_ahead(paired, c.arm, c.vs, metric, t)  # a reversed row comes back negated
    return {"design": c.design, "path": c.path, "arm": c.arm, "vs": c.vs, "iteration": t,
            "n_seeds": int(rows[rows.iteration == t].n_seeds.iloc[0]), "delta": delta, "ci_low": lo, "ci_high": hi,
            "p_better": p, "verdict": verdict(lo, hi)}


def findings_table(root: str | Path = ".", comparisons: tuple[Comparison, ...] = FINDINGS,
                   metric: str = "full") -> pd.DataFrame:
    """One row per comparison (``FINDINGS`` by default): ``arm − vs`` on the held-out ``metric`` ("full": fully
    satisfied rate, "frac": constraint rate) at the iteration it names or the file's last, from the results files
    under ``root``. A missing file or pair raises, naming it: a summary never leaves a row out silently."""
    if metric not in ("full", "frac"):
        raise ValueError(f"metric must be 'full' or 'frac', got {metric!r}")
    files: dict[str, pd.DataFrame] = {}
    rows = []
    for c in comparisons:
        if c.path not in files:
            path = Path(root) / c.path
            if not path.exists():
                raise FileNotFoundError(f"findings: results file {path} is missing (row {c.design!r})")
            files[c.path] = load_results(path)["paired"]
        rows.append(_row(c, files[c.path], metric))
    return pd.DataFrame(rows, columns=COLUMNS)


def findings_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many rows, and how many of them are ahead, behind, or include 0."""
    v = table.verdict
    return {"comparisons": len(table), "ahead": int((v == "ahead").sum()), "behind": int((v == "behind").sum()),
            "includes_0": int((v == "CI includes 0").sum())}


def findings_markdown_table(table: pd.DataFrame) -> str:
    """The README's table: design, comparison, t, seeds, the difference with its CI and share ahead, verdict."""
    lines = ["| design | comparison | t | seeds | difference [95% CI] (share ahead) | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        cell = paired_cell(r.delta, r.ci_low, r.ci_high, r.p_better)
        design = r.design.replace("*", "\\*")  # A*_avg: a literal star, not emphasis
        lines.append(f"| {design} | {r.arm} − {r.vs} | {r.iteration} | {r.n_seeds} | {cell} | {r.verdict} |")
    return "\n".join(lines)
