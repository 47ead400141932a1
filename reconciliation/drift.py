"""Find drift: cached figures that differ from what the ledger rows say, in set-based SQL.

Each query recomputes every figure of a whole table (or of a few rows, for the
re-check under lock) from the ledger in one statement, so what it compares is one
consistent snapshot. The status derivations mirror billing.status in SQL; a test
checks the two agree.

What is compared, per object:
- invoice: total (against its lines; reported, never repaired automatically),
  credited_total, paid_total, balance_due, payment_status;
- payment: allocated_total, refunded_total, charged_back_total, unallocated,
  allocation_status;
- account: balance_due, open_invoice_count, oldest_due_date, computed from what its
  open invoices' figures should be (so an account is wrong if its invoices are).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from invoices.models import OPEN_WORK_STATUSES, InvoiceState
from reconciliation.models import ObjectKind

# SQL literals from the enums (invoices.models): the invoices an account's cache sums.
_OPEN = f"'{InvoiceState.OPEN.value}'"
_OPEN_WORK = ", ".join(f"'{status.value}'" for status in OPEN_WORK_STATUSES)

INVOICE_STATUS_SQL = """CASE
        WHEN {paid} > {net} THEN 'overpaid'
        WHEN {paid} = {net} THEN 'paid'
        WHEN {paid} = 0 THEN 'unpaid'
        ELSE 'partially_paid' END"""
"""billing.status.derive_payment_status in SQL."""

ALLOCATION_STATUS_SQL = """CASE
        WHEN {allocated} > {available} THEN 'overallocated'
        WHEN {allocated} = {available} THEN 'fully_allocated'
        WHEN {allocated} = 0 THEN 'unallocated'
        ELSE 'partially_allocated' END"""
"""billing.status.derive_allocation_status in SQL."""


def _invoice_ledger(main_filter: str, ledger_filter: str) -> str:
    """Every invoice in scope with its cached figures and the ledger's, side by side."""
    paid = "COALESCE(a.s, 0)"
    credited = "COALESCE(c.s, 0)"
    status = INVOICE_STATUS_SQL.format(paid=paid, net=f"i.total - {credited}")
    return f"""
        SELECT i.id, i.account_id, i.state, i.due_date,
               i.total, COALESCE(l.s, 0) AS ledger_total,
               i.credited_total, {credited} AS ledger_credited_total,
               i.paid_total, {paid} AS ledger_paid_total,
               i.balance_due,
               CASE WHEN i.state = 'void' THEN 0 ELSE i.total - {credited} - {paid} END AS ledger_balance_due,
               i.payment_status, {status} AS ledger_payment_status
        FROM invoices_invoice i
        LEFT JOIN (SELECT invoice_id, SUM(amount) AS s FROM invoices_invoiceline {ledger_filter}
                   GROUP BY invoice_id) l ON l.invoice_id = i.id
        LEFT JOIN (SELECT invoice_id, SUM(amount) AS s FROM invoices_creditnote {ledger_filter}
                   GROUP BY invoice_id) c ON c.invoice_id = i.id
        LEFT JOIN (SELECT invoice_id, SUM(amount) AS s FROM allocations_allocation {ledger_filter}
                   GROUP BY invoice_id) a ON a.invoice_id = i.id
        {main_filter}
    """


def _payment_ledger(main_filter: str, ledger_filter: str) -> str:
    refunded, charged_back, allocated = "COALESCE(r.s, 0)", "COALESCE(c.s, 0)", "COALESCE(a.s, 0)"
    available = f"(CASE WHEN p.state = 'canceled' THEN 0 ELSE p.amount - {refunded} - {charged_back} END)"
    status = ALLOCATION_STATUS_SQL.format(allocated=allocated, available=available)
    return f"""
        SELECT p.id,
               p.allocated_total, {allocated} AS ledger_allocated_total,
               p.refunded_total, {refunded} AS ledger_refunded_total,
               p.charged_back_total, {charged_back} AS ledger_charged_back_total,
               p.unallocated, {available} - {allocated} AS ledger_unallocated,
               p.allocation_status, {status} AS ledger_allocation_status
        FROM payments_payment p
        LEFT JOIN (SELECT payment_id, SUM(amount) AS s FROM payments_refund {ledger_filter}
                   GROUP BY payment_id) r ON r.payment_id = p.id
        LEFT JOIN (SELECT payment_id, SUM(amount) AS s FROM payments_chargeback {ledger_filter}
                   GROUP BY payment_id) c ON c.payment_id = p.id
        LEFT JOIN (SELECT payment_id, SUM(amount) AS s FROM allocations_allocation {ledger_filter}
                   GROUP BY payment_id) a ON a.payment_id = p.id
        {main_filter}
    """


INVOICE_FIELDS = ("total", "credited_total", "paid_total", "balance_due", "payment_status")
PAYMENT_FIELDS = ("allocated_total", "refunded_total", "charged_back_total", "unallocated", "allocation_status")
ACCOUNT_FIELDS = ("balance_due", "open_invoice_count", "oldest_due_date")


def _differs(fields: tuple[str, ...]) -> str:
    return " OR ".join(f"x.{name} IS DISTINCT FROM x.ledger_{name}" for name in fields)


def _invoice_drift_sql(scoped: bool) -> str:
    if scoped:
        ledger = _invoice_ledger("WHERE i.id = ANY(%(ids)s)", "WHERE invoice_id = ANY(%(ids)s)")
    else:
        ledger = _invoice_ledger("", "")
    return f"SELECT * FROM ({ledger}) x WHERE {_differs(INVOICE_FIELDS)} ORDER BY x.id"


def _payment_drift_sql(scoped: bool) -> str:
    if scoped:
        ledger = _payment_ledger("WHERE p.id = ANY(%(ids)s)", "WHERE payment_id = ANY(%(ids)s)")
    else:
        ledger = _payment_ledger("", "")
    return f"SELECT * FROM ({ledger}) x WHERE {_differs(PAYMENT_FIELDS)} ORDER BY x.id"


def _account_drift_sql(scoped: bool) -> str:
    # Only open invoices count towards an account (same rule as ledger.core._ACCOUNTS_REFRESH,
    # but on the figures the invoices should have, not the ones they have).
    if scoped:
        open_ids = f"SELECT id FROM invoices_invoice WHERE state = {_OPEN} AND account_id = ANY(%(ids)s)"
        open_invoices = _invoice_ledger(
            f"WHERE i.state = {_OPEN} AND i.account_id = ANY(%(ids)s)", f"WHERE invoice_id IN ({open_ids})"
        )
        account_filter = "WHERE ac.id = ANY(%(ids)s)"
    else:
        open_invoices = _invoice_ledger(
            f"WHERE i.state = {_OPEN}", f"WHERE invoice_id IN (SELECT id FROM invoices_invoice WHERE state = {_OPEN})"
        )
        account_filter = ""
    return f"""
        WITH open_invoices AS ({open_invoices}),
        owed AS (
            SELECT account_id, SUM(ledger_balance_due) AS s, COUNT(*) AS n, MIN(due_date) AS d
            FROM open_invoices WHERE ledger_payment_status IN ({_OPEN_WORK})
            GROUP BY account_id
        )
        SELECT * FROM (
            SELECT ac.id,
                   ac.balance_due, COALESCE(o.s, 0) AS ledger_balance_due,
                   ac.open_invoice_count, COALESCE(o.n, 0) AS ledger_open_invoice_count,
                   ac.oldest_due_date, o.d AS ledger_oldest_due_date
            FROM billing_account ac LEFT JOIN owed o ON o.account_id = ac.id
            {account_filter}
        ) x
        WHERE {_differs(ACCOUNT_FIELDS)}
        ORDER BY x.id
    """


# Keyed by the kind's value: callers pass the stored string (ObjectKind members are str).
_SQL: dict[str, tuple[tuple[str, ...], Callable[[bool], str]]] = {
    ObjectKind.INVOICE: (INVOICE_FIELDS, _invoice_drift_sql),
    ObjectKind.PAYMENT: (PAYMENT_FIELDS, _payment_drift_sql),
    ObjectKind.ACCOUNT: (ACCOUNT_FIELDS, _account_drift_sql),
}


@dataclass(frozen=True)
class FieldDrift:
    field: str
    cached: object
    ledger: object

    @property
    def cached_text(self) -> str:
        return as_text(self.cached)

    @property
    def ledger_text(self) -> str:
        return as_text(self.ledger)


@dataclass
class ObjectDrift:
    kind: str
    id: int
    fields: list[FieldDrift] = field(default_factory=list)
    account_id: int | None = None  # invoices: the account its figures feed

    @property
    def field_names(self) -> set[str]:
        return {item.field for item in self.fields}


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def find_drift(kind: str, ids: Collection[int] | None = None) -> dict[int, ObjectDrift]:
    """Drifted objects of one kind: over the whole table (ids None) or among `ids`, by id."""
    fields, make_sql = _SQL[kind]
    if ids is not None and not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(make_sql(ids is not None), {"ids": sorted(ids)} if ids is not None else {})
        columns = [col.name for col in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    found = {}
    for row in rows:
        drift = ObjectDrift(kind=kind, id=row["id"], account_id=row.get("account_id"))
        for name in fields:
            if row[name] != row[f"ledger_{name}"]:
                drift.fields.append(FieldDrift(name, row[name], row[f"ledger_{name}"]))
        found[drift.id] = drift
    return found


def count_objects() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COUNT(*) FROM invoices_invoice), (SELECT COUNT(*) FROM payments_payment),"
            " (SELECT COUNT(*) FROM billing_account)"
        )
        invoices, payments, accounts = cursor.fetchone()
    return {ObjectKind.INVOICE: invoices, ObjectKind.PAYMENT: payments, ObjectKind.ACCOUNT: accounts}
