"""The nightly drift check over the whole data set.

The stand-in is the set-based SQL of tests/invariants.py without LIMIT (every row
recomputed from the ledger). If the `reconcile_statuses` command exists (app
reconciliation, written in parallel), it is timed too.
"""

from __future__ import annotations

import io
import time

from django.core.management import call_command, get_commands

from bench.checks import invariant_violations


def measure() -> dict:
    counts, seconds = invariant_violations()
    result: dict[str, dict[str, object] | None] = {
        "stand_in_sql": {"seconds": round(seconds, 2), "drift": sum(counts.values()), "by_check": counts}
    }
    if "reconcile_statuses" in get_commands():
        out = io.StringIO()
        started = time.perf_counter()
        try:
            call_command("reconcile_statuses", stdout=out, stderr=out)
            error = None
        except Exception as exc:  # noqa: BLE001 - report the command's failure, keep the run's figures
            error = f"{type(exc).__name__}: {exc}"
        result["command"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "output_tail": out.getvalue()[-2000:],
            "error": error,
        }
    else:
        result["command"] = None
    return result
