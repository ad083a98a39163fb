"""Build notebooks/*.ipynb from their percent-format sources in notebooks/src/*.py.

    python scripts/build_notebooks.py            # rebuild every notebook
    python scripts/build_notebooks.py --check    # exit 1 if a notebook is out of date (used by the tests)

A source is plain Python split into cells by ``# %%`` lines. ``# %% [markdown]`` starts a markdown cell
whose lines are written as ``# text``; ``# %% tags=["parameters"]`` tags a code cell (papermill's
parameters cell). Outputs are never stored: the .ipynb in git is the clean notebook.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(src: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    cells: list[tuple[bool, list[str], list[str]]] = []
    for line in src.splitlines():
        m = HEADER.match(line)
        if m:
            cells.append((bool(m.group("md")), json.loads(m.group("tags")) if m.group("tags") else [], []))
        elif cells:
            cells[-1][2].append(line)
    for i, (md, tags, lines) in enumerate(cells):
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if md:
            text = "\n".join(re.sub(r"^# ?", "", x) for x in lines)
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        cell["id"] = f"cell-{i:02d}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def build(check: bool = False) -> int:
    stale = []
    for src in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        target = ROOT / "notebooks" / f"{src.stem}.ipynb"
        text = nbformat.writes(parse(src.read_text()))
        if target.exists() and target.read_text() == text:
            continue
        if check:
            stale.append(target.name)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print(f"out of date (run python scripts/build_notebooks.py): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(build(check="--check" in sys.argv))
