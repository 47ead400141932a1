"""The score and the survivors of the last mutation run (`make mutate`), read from mutmut's result files.

Usage: python -m tests.mutation_report [MODULE ...]   (modules as dotted prefixes: billing.money ledger.core)

The score is killed / (killed + survived + no tests): a mutant that no selected test even reaches
counts against the score, since the run's tests did not guard that code. Timeouts count as killed
(the suite stopped the mutant); mutants not yet checked are left out and counted apart.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}


def results(root: Path = Path("mutants")) -> dict[str, dict[str, int | None]]:
    """mutant name -> exit code, grouped by module (dotted path)."""
    by_module: dict[str, dict[str, int | None]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(root).with_suffix("").with_suffix("").parts)
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            by_module[module] = codes
    return by_module


def main(argv: list[str]) -> int:
    prefixes = [arg.replace("/", ".").removesuffix(".py") for arg in argv]
    by_module = {
        module: codes
        for module, codes in results().items()
        if not prefixes or any(module == p or module.startswith(p + ".") for p in prefixes)
    }
    if not by_module:
        print("No mutation results: run `make mutate` first.")
        return 1
    total: Counter[str] = Counter()
    survivors: list[str] = []
    print(f"{'module':40} {'killed':>7} {'survived':>9} {'no tests':>9} {'unchecked':>10} {'score':>7}")
    for module, codes in by_module.items():
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                survivors.append(name)
            elif code in NO_TESTS:
                counts["no tests"] += 1
                survivors.append(f"{name} (no tests)")
            else:
                counts["unchecked"] += 1
        total.update(counts)
        print(
            f"{module:40} {counts['killed']:7} {counts['survived']:9} {counts['no tests']:9} {counts['unchecked']:10} {score(counts):>7}"
        )
    print(
        f"{'total':40} {total['killed']:7} {total['survived']:9} {total['no tests']:9} {total['unchecked']:10} {score(total):>7}"
    )
    print()
    print(f"Survivors ({len(survivors)}; `mutmut show NAME` prints the change):")
    for name in survivors:
        print(f"  {name}")
    return 0


def score(counts: Counter[str]) -> str:
    judged = counts["killed"] + counts["survived"] + counts["no tests"]
    return f"{100 * counts['killed'] / judged:.1f}%" if judged else "-"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
