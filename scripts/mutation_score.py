"""Summarize ``mutmut results --all true`` (stdin): killed / survived / no tests per module, and the survivors.
score = killed / (killed + survived + no tests); "not run" (not checked, skipped) is left out.

    mutmut results --all true | python scripts/mutation_score.py
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_(?P<n>\d+): (?P<status>.+?)\s*$")


def main() -> None:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors = []
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        name, status = m.group("name"), m.group("status")
        module = ".".join(name.split(".")[:2])
        by_module[module][status] += 1
        if status in ("survived", "no tests"):
            survivors.append(f"{name}__mutmut_{m.group('n')}")
    total: Counter[str] = Counter()
    print("| module | mutants | killed | survived | no tests | not run | score |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for module in sorted(by_module):
        c = by_module[module]
        total.update(c)
        _row(module, c)
    _row("**all**", total)
    print("\nsurvivors (inspect each with `mutmut show NAME`):")
    for s in survivors:
        print(" ", s)


def _row(name: str, c: Counter[str]) -> None:
    n = sum(c.values())
    killed = c["killed"] + c["timeout"]  # a mutant that hangs the tests is detected too
    alive = c["survived"] + c["no tests"]  # a mutant no selected test runs is not killed either
    other = n - killed - alive
    score = killed / max(1, killed + alive)
    print(f"| {name} | {n} | {killed} | {c['survived']} | {c['no tests']} | {other} | {score:.1%} |")


if __name__ == "__main__":
    main()
