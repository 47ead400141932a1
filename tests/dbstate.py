"""A snapshot of everything a service may write, to prove a failed call changed nothing.

DESIGN.md §7: a BillingError always means the database is unchanged. The snapshot
counts the rows of every ledger and party table and keeps every cached figure and
status, so any stray write (a ledger row, a cached total, a counter) shows up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

COUNTED_TABLES = [
    "allocations_allocation",
    "payments_refund",
    "payments_chargeback",
    "invoices_creditnote",
    "invoices_invoicestatuschange",
    "payments_paymentstatuschange",
    "invoices_invoiceline",
    "invoices_invoice",
    "payments_payment",
    "billing_account",
    "billing_customer",
    "billing_provider",
]

ROW_QUERIES = {
    "invoices": """
        SELECT id, state, payment_status, number, sequence, issue_date, due_date, total, credited_total,
               paid_total, balance_due, voided_at, void_reason
        FROM invoices_invoice ORDER BY id
    """,
    "payments": """
        SELECT id, state, allocation_status, amount, currency, reference, refunded_total, charged_back_total,
               allocated_total, unallocated, canceled_at, cancel_reason, corrected_by_id
        FROM payments_payment ORDER BY id
    """,
    "accounts": "SELECT id, balance_due, open_invoice_count, oldest_due_date FROM billing_account ORDER BY id",
    "providers": "SELECT id, code, last_invoice_number FROM billing_provider ORDER BY id",
}


def _one_query() -> str:
    counts = [f"(SELECT COUNT(*) FROM {table})" for table in COUNTED_TABLES]
    rows = [f"(SELECT array_agg(q::text) FROM ({sql}) q)" for sql in ROW_QUERIES.values()]
    return "SELECT " + ", ".join(counts + rows)


_QUERY = _one_query()


def snapshot() -> dict[str, object]:
    """Counts and cached figures in one round trip (rows compared as their exact text)."""
    with connection.cursor() as cursor:
        cursor.execute(_QUERY)
        values = cursor.fetchone()
    keys = [f"count {table}" for table in COUNTED_TABLES] + list(ROW_QUERIES)
    return dict(zip(keys, values, strict=True))


def ledger_counts() -> dict[str, int]:
    """Row counts of the six append-only ledger tables."""
    full = snapshot()
    return {table: full[f"count {table}"] for table in COUNTED_TABLES[:6]}


@contextmanager
def unchanged_database() -> Iterator[None]:
    """Fail if anything in the snapshot differs after the block (use around pytest.raises)."""
    before = snapshot()
    yield
    after = snapshot()
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not changed, f"the database changed: {changed}"
