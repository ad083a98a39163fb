"""README's numbers are the ones the tests assert."""

from __future__ import annotations

import re
from pathlib import Path

from test_distributed import LOSS_TOL, MIN_COSINE

ROOT = Path(__file__).resolve().parents[1]


def scale_out_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Rehearse the scale-out on a CPU", 1)[1].split("Pitfalls found", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| path") and "---" not in r]
    return {r.split("|")[1].strip(): r.split("|")[3].strip() for r in rows}


def test_scale_out_tolerances_are_the_tested_ones():
    rows = scale_out_rows()
    training = {k: v for k, v in rows.items() if k.startswith(("DDP", "DeepSpeed"))}
    assert len(training) == 2, rows
    for path, checked in training.items():
        tols = [float(x) for x in re.findall(r"\(to ([0-9.e-]+)\)", checked)]
        assert tols == [LOSS_TOL], (path, checked)
        cosines = [float(x) for x in re.findall(r"cosine > ([0-9.]+)", checked)]
        assert cosines == [MIN_COSINE], (path, checked)
