"""The nightly drift check over the whole data set.

The stand-in is the set-based SQL of tests/invariants.py without LIMIT (every row
recomputed from the ledger). If the `reconcile_statuses` command exists (app
reconciliation, written in parallel), it is timed too.

Issue 12 added the orders to both: the stand-in's order checks are timed apart, and the
command's three detection reads (which it runs at once, on their own connections) are
timed again one by one, to show where its time goes.
"""

from __future__ import annotations

import io
import time

from django.core.management import call_command, get_commands

from bench.checks import is_order_check, timed_invariant_violations


def measure() -> dict:
    counts, by_check = timed_invariant_violations()
    seconds = sum(by_check.values())
    order_seconds = sum(s for name, s in by_check.items() if is_order_check(name))
    result: dict[str, dict[str, object] | None] = {
        "stand_in_sql": {
            "seconds": round(seconds, 2),
            "drift": sum(counts.values()),
            "by_check": counts,
            "seconds_by_check": {name: round(s, 3) for name, s in by_check.items()},
            "order_checks_seconds": round(order_seconds, 2),
            "without_orders_seconds": round(seconds - order_seconds, 2),
        }
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
            "reads_alone_seconds": _reads_alone_seconds(),
        }
    else:
        result["command"] = None
    return result


def _reads_alone_seconds() -> dict[str, float]:
    """The command's three detection reads, each timed alone (the command runs them at once)."""
    from reconciliation.drift import find_drift, find_drifted_by_invoice
    from reconciliation.journal import find_journal_drift
    from reconciliation.models import ObjectKind

    reads = {
        "invoices, accounts and orders": find_drifted_by_invoice,
        "payments": lambda: find_drift(ObjectKind.PAYMENT),
        "journal": find_journal_drift,
    }
    seconds = {}
    for name, read in reads.items():
        started = time.perf_counter()
        read()
        seconds[name] = round(time.perf_counter() - started, 2)
    return seconds
