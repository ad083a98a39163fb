"""Summarize ``mutmut results --all true`` (stdin): killed / survived / no tests per module, and the survivors.
score = killed / (killed + survived + no tests); "not run" (not checked, skipped) is left out.
Survivors listed in scripts/mutation_equivalent.txt (``NAME  reason``) are equivalent mutants: they are counted
as survivors in "score" and left out of "score without equivalent"; each is printed with its reason.

    mutmut results --all true | python scripts/mutation_score.py
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_(?P<n>\d+): (?P<status>.+?)\s*$")
EQUIVALENT_FILE = Path(__file__).with_name("mutation_equivalent.txt")


def load_equivalent(path: Path = EQUIVALENT_FILE) -> dict[str, str]:
    """Mutant name -> why it is equivalent (lines ``NAME  reason``; ``#`` starts a comment line)."""
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                name, _, why = line.strip().partition(" ")
                out[name] = why.strip()
    return out


def main() -> None:
    equivalent = load_equivalent()
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors, equivalents = [], []
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        name, status = m.group("name"), m.group("status")
        full = f"{name}__mutmut_{m.group('n')}"
        module = ".".join(name.split(".")[:2])
        by_module[module][status] += 1
        if status in ("survived", "no tests"):
            if full in equivalent:
                by_module[module]["equivalent"] += 1
                equivalents.append(f"{full}  {equivalent[full]}")
            else:
                survivors.append(full)
    total: Counter[str] = Counter()
    print("| module | mutants | killed | survived | of them equivalent | no tests | not run | score "
          "| score without equivalent |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for module in sorted(by_module):
        c = by_module[module]
        total.update(c)
        _row(module, c)
    _row("**all**", total)
    print("\nsurvivors not known to be equivalent (inspect each with `mutmut show NAME`):")
    for s in survivors:
        print(" ", s)
    print("\nequivalent survivors (scripts/mutation_equivalent.txt):")
    for s in equivalents:
        print(" ", s)


def _row(name: str, c: Counter[str]) -> None:
    n = sum(v for k, v in c.items() if k != "equivalent")
    killed = c["killed"] + c["timeout"]  # a mutant that hangs the tests is detected too
    alive = c["survived"] + c["no tests"]  # a mutant no selected test runs is not killed either
    other = n - killed - alive
    score = killed / max(1, killed + alive)
    strict = killed / max(1, killed + alive - c["equivalent"])
    print(f"| {name} | {n} | {killed} | {c['survived']} | {c['equivalent']} | {c['no tests']} | {other} "
          f"| {score:.1%} | {strict:.1%} |")


if __name__ == "__main__":
    main()
