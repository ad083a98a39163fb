"""README's numbers are the ones the tests assert."""

from __future__ import annotations

import re
from pathlib import Path

from docs import headings
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
    heads = headings(ROOT / "README.md", 2)
    contents = text.split("**Contents:**", 1)[1].split("\n\n", 1)[0]
    links = re.findall(r"\[([^\]]+)\]\(#([^)]+)\)", contents)
    assert [t for t, _ in links] == heads
    assert [a for _, a in links] == [github_anchor(h) for h in heads]
    assert github_anchor("The paper's scale: GPUs, vLLM, more machines") == "the-papers-scale-gpus-vllm-more-machines"


def test_every_design_in_detail_links_each_section_of_docs_experiments_in_order():
    """docs/experiments.md holds each further design's section: its contents line and README's "Every design in
    detail" list link every one of its sections in order."""
    doc = ROOT / "docs" / "experiments.md"
    heads = headings(doc, 2)
    assert len(heads) >= 16 and len(set(heads)) == len(heads)
    contents = doc.read_text().split("**Contents:**", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"\[(.+)\]\(#([^)]+)\)", contents) == [(h, github_anchor(h)) for h in heads]
    readme = (ROOT / "README.md").read_text()
    listed = readme.split("### Every design in detail", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"\[(.+)\]\(docs/experiments\.md#([^)]+)\)", listed) == [(h, github_anchor(h)) for h in heads]


def _anchors(path: Path) -> set[str]:
    return {github_anchor(h) for level in range(1, 7) for h in headings(path, level)}


def test_links_between_readme_and_docs_land_on_headings():
    """Every link from README.md into docs/*.md, from a docs page back into README.md, or within either file,
    names a file that exists and, with a fragment, a heading of it."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        for target, frag in re.findall(r"\]\(((?:\.\./)?(?:README|docs/\w+)\.md|)(?:#([^)]+))?\)", page.read_text()):
            if not target and not frag:
                continue
            dest = (page.parent / target).resolve() if target else page
            assert dest.is_file(), (page.name, target)
            if frag:
                assert frag in _anchors(dest), (page.name, target, frag)
            checked += 1
    assert checked > 40
