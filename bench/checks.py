"""Consistency of the benchmark data: the SQL of tests/invariants.py, over every row."""

from __future__ import annotations

import time

from django.db import connection

from tests.invariants import check_sql


def invariant_violations() -> tuple[dict[str, int], float]:
    """Count the rows breaking each invariant (no LIMIT); returns (counts, seconds)."""
    counts, seconds = timed_invariant_violations()
    return counts, sum(seconds.values())


def timed_invariant_violations() -> tuple[dict[str, int], dict[str, float]]:
    """Count the rows breaking each invariant (no LIMIT); returns (counts, seconds per check)."""
    counts, seconds = {}, {}
    with connection.cursor() as cursor:
        for name, sql in check_sql().items():
            started = time.perf_counter()
            cursor.execute(f"SELECT count(*) FROM ({sql}) AS broken")
            counts[name] = cursor.fetchone()[0]
            seconds[name] = time.perf_counter() - started
    return counts, seconds


def is_order_check(name: str) -> bool:
    """The checks issue 12 added: order lines and figures, I9, credit note lines (the "before" is the rest)."""
    return "order" in name or "credit note lines" in name or "credited more quantity" in name


REQUIRED = {
    "invoice state": {"draft", "open", "void"},
    "invoice payment_status (open)": {"unpaid", "partially_paid", "paid", "overpaid"},
    "payment state": {"pending", "settled", "canceled", "charged_back"},
    "payment allocation_status": {"unallocated", "partially_allocated", "fully_allocated", "overallocated"},
    "order billing_status": {"not_invoiced", "partially_invoiced", "invoiced"},
    "order payment_status": {"unpaid", "partially_paid", "paid", "overpaid"},
    "order state": {"open", "closed", "canceled"},
}


def missing_statuses(status_counts: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{group}: {value}"
        for group, values in REQUIRED.items()
        for value in sorted(values - set(status_counts.get(group, {})))
    ]
