"""The prose the tests read numbers from: README.md and the per-design record docs/experiments.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXPERIMENTS = ROOT / "docs" / "experiments.md"


def _level(line: str) -> int:
    """A markdown heading's level (``## x`` → 2); 0 for a line that is not a heading."""
    hashes = len(line) - len(line.lstrip("#"))
    return hashes if 0 < hashes <= 6 and line[hashes:hashes + 1] == " " else 0


def headings(path: Path, level: int) -> list[str]:
    """The text of every heading of ``level`` in a markdown file, outside fenced code, in order."""
    heads, fenced = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and _level(line) == level:
            heads.append(line[level + 1:])
    return heads


def section(heading: str, path: Path | None = None) -> str:
    """The section that starts at the heading line beginning with ``heading`` (``"## A larger set"``), up to the
    next heading of its level or higher, outside fenced code. Looked up in README.md and docs/experiments.md (or
    ``path``): exactly one heading of all of them must match, so a section cannot silently be read from the wrong
    file."""
    level = _level(heading)
    if not level:
        raise ValueError(f"not a markdown heading: {heading!r}")
    found = []
    for p in [path] if path else [README, EXPERIMENTS]:
        lines, fenced, start = p.read_text().splitlines(keepends=True), False, None
        for i, line in enumerate(lines):
            if line.startswith("```"):
                fenced = not fenced
            if fenced:
                continue
            if start is None and line.startswith(heading):
                start = i
            elif start is not None and 0 < _level(line) <= level:
                found.append("".join(lines[start:i]))
                start = None
        if start is not None:
            found.append("".join(lines[start:]))
    if len(found) != 1:
        raise AssertionError(f"{len(found)} sections start with {heading!r} (README.md, docs/experiments.md)")
    return found[0]
