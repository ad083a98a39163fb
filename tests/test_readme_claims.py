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


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: markdown escapes dropped, lower case, punctuation other than - and _
    removed, spaces to hyphens."""
    text = heading.replace("\\", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_contents_links_every_section_in_order():
    text = (ROOT / "README.md").read_text()
    heads, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            heads.append(line[3:])
    contents = text.split("**Contents:**", 1)[1].split("\n\n", 1)[0]
    links = re.findall(r"\[([^\]]+)\]\(#([^)]+)\)", contents)
    assert [t for t, _ in links] == heads
    assert [a for _, a in links] == [github_anchor(h) for h in heads]
    assert github_anchor("The paper's scale: GPUs, vLLM, more machines") == "the-papers-scale-gpus-vllm-more-machines"
