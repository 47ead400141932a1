"""Consistency of the benchmark data: the SQL of tests/invariants.py, over every row."""

from __future__ import annotations

import time

from django.db import connection

from tests.invariants import check_sql


def invariant_violations() -> tuple[dict[str, int], float]:
    """Count the rows breaking each invariant (no LIMIT); returns (counts, seconds)."""
    counts = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for name, sql in check_sql().items():
            cursor.execute(f"SELECT count(*) FROM ({sql}) AS broken")
            counts[name] = cursor.fetchone()[0]
    return counts, time.perf_counter() - started


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
