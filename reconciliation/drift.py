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
  open invoices' figures should be (so an account is wrong if its invoices are);
- order: invoiced_total, paid_total, balance_due, billing_status, payment_status, state
  from what its open invoices' figures should be, and its lines' invoiced and invoiceable
  quantities (line_quantities) from the invoice lines and credit note lines; a line
  invoiced beyond what may be invoiced (I9, over_invoiced) is reported, never repaired;
- plan: state (paid off when every open installment and penalty of it owes nothing by
  the ledger's sums, plans.models.derive_plan_state in SQL).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction

from invoices.models import OPEN_WORK_STATUSES, InvoiceState
from ledger.orders import ALL_LINES_INVOICED_SQL, LINE_INVOICED_SQL
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
        SELECT i.id, i.account_id, i.order_id, i.plan_id, i.plan_sequence, i.state, i.due_date,
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


def _order_sums(invoices: str) -> str:
    """(order_id, net, paid) of the orders, from `invoices`: a FROM item of _invoice_ledger's rows
    (the orders' open invoices)."""
    return f"""
        SELECT order_id, SUM(ledger_total - ledger_credited_total) AS net, SUM(ledger_paid_total) AS paid
        FROM {invoices} GROUP BY order_id"""


def _plan_sums(invoices: str) -> str:
    """(plan_id, installments, all_paid, owed, oldest) of the plans, from `invoices`: a FROM item of
    _invoice_ledger's rows (the plans' open invoices). Paid is judged on the invoice's total
    (its lines are checked apart), less what the ledger says was credited and allocated; owed
    and oldest as an account's, over the invoices still owing."""
    owing = f"ledger_payment_status IN ({_OPEN_WORK})"
    return f"""
        SELECT plan_id, COUNT(*) FILTER (WHERE plan_sequence IS NOT NULL) AS installments,
               bool_and(total - ledger_credited_total - ledger_paid_total <= 0) AS all_paid,
               SUM(ledger_balance_due) FILTER (WHERE {owing}) AS owed,
               MIN(due_date) FILTER (WHERE {owing}) AS oldest
        FROM {invoices} GROUP BY plan_id"""


def _order_drift_sql(scoped: bool, invoice_sums: str | None = None, *, detail: bool = True) -> str:
    """Every order in scope, its cached figures beside what its invoices' ledger and its lines say.

    The derivations mirror orders.models (derive_billing_status, derive_order_payment_status,
    derive_order_state) in SQL, as the invoice's mirror billing.status. `invoice_sums`, when
    given, is a SELECT of (order_id, net, paid) over the orders' open invoices' ledger figures
    (find_drifted_by_invoice passes its own, from the ledger it computed once for every invoice).
    Without `detail` (the whole-table detection, which keeps only which orders drifted), the
    lines are compared line by line instead of as the "position:invoiced/invoiceable" texts
    a report shows: building those for half a million lines was a third of the query.
    """
    order_filter = "WHERE o.id = ANY(%(ids)s)" if scoped else ""
    if invoice_sums is None:
        invoices = _invoice_ledger(
            f"WHERE i.state = {_OPEN} AND i.order_id " + ("= ANY(%(ids)s)" if scoped else "IS NOT NULL"),
            "WHERE invoice_id IN (SELECT id FROM invoices_invoice WHERE order_id "
            + ("= ANY(%(ids)s))" if scoped else "IS NOT NULL)"),
        )
        invoice_sums = _order_sums(f"({invoices}) x")
    lines_sql = LINE_INVOICED_SQL if scoped else ALL_LINES_INVOICED_SQL
    paid, net = "COALESCE(inv.paid, 0)", "COALESCE(inv.net, 0)"
    payment_status = INVOICE_STATUS_SQL.format(paid="f.paid", net="f.net")
    over = "lf.invoiced > lf.billable OR lf.invoiced < 0"
    if detail:
        line_texts = f"""
                   string_agg(l.position || ':' || l.invoiced_quantity::float8 || '/' || l.invoiceable_quantity::float8,
                              ' ' ORDER BY l.position) AS cached,
                   string_agg(l.position || ':' || lf.invoiced::float8 || '/' || (lf.billable - lf.invoiced)::float8,
                              ' ' ORDER BY l.position) AS ledger,
                   COALESCE(string_agg(CASE WHEN {over}
                                       THEN 'line ' || l.position || ': ' || lf.invoiced::float8 || ' of '
                                            || lf.billable::float8 END, ', ' ORDER BY l.position), '') AS over,"""
    else:
        line_texts = f"""
                   '' AS cached,
                   CASE WHEN bool_or((l.invoiced_quantity, l.invoiceable_quantity)
                                     IS DISTINCT FROM (lf.invoiced, lf.billable - lf.invoiced))
                        THEN 'differs' ELSE '' END AS ledger,
                   CASE WHEN bool_or({over}) THEN 'over' ELSE '' END AS over,"""
    return f"""
        WITH inv AS ({invoice_sums}),
        lf AS ({lines_sql}),
        lines AS (
            SELECT l.order_id,
                   {line_texts}
                   bool_or(lf.invoiced > 0) AS any_invoiced,
                   bool_and(lf.invoiced >= l.quantity - l.canceled_quantity) AS all_invoiced
            FROM orders_orderline l JOIN lf ON lf.id = l.id GROUP BY l.order_id),
        figures AS (
            SELECT o.id, o.account_id, {net} AS net, {paid} AS paid,
                   CASE WHEN NOT COALESCE(lines.any_invoiced, false) THEN 'not_invoiced'
                        WHEN COALESCE(lines.all_invoiced, true) THEN 'invoiced'
                        ELSE 'partially_invoiced' END AS billing,
                   COALESCE(lines.cached, '') AS line_quantities, COALESCE(lines.ledger, '') AS ledger_line_quantities,
                   COALESCE(lines.over, '') AS ledger_over_invoiced,
                   o.invoiced_total, o.paid_total, o.balance_due, o.billing_status, o.payment_status, o.state
            FROM orders_order o LEFT JOIN inv ON inv.order_id = o.id LEFT JOIN lines ON lines.order_id = o.id
            {order_filter}),
        derived AS (
            SELECT f.*, CASE WHEN f.billing = 'not_invoiced' AND f.net = 0 AND f.paid = 0 THEN 'unpaid'
                             ELSE {payment_status} END
                        AS payment
            FROM figures f)
        SELECT * FROM (
            SELECT d.id, d.account_id,
                   d.invoiced_total, d.net AS ledger_invoiced_total,
                   d.paid_total, d.paid AS ledger_paid_total,
                   d.balance_due, d.net - d.paid AS ledger_balance_due,
                   d.billing_status, d.billing AS ledger_billing_status,
                   d.payment_status, d.payment AS ledger_payment_status,
                   d.state, CASE WHEN d.state = 'canceled' THEN 'canceled'
                                 WHEN d.billing = 'invoiced' AND d.payment = 'paid' THEN 'closed'
                                 ELSE 'open' END AS ledger_state,
                   d.line_quantities, d.ledger_line_quantities,
                   '' AS over_invoiced, d.ledger_over_invoiced
            FROM derived d) x
        WHERE {_differs(ORDER_FIELDS)}
        ORDER BY x.id
    """


INVOICE_FIELDS = ("total", "credited_total", "paid_total", "balance_due", "payment_status")
PAYMENT_FIELDS = ("allocated_total", "refunded_total", "charged_back_total", "unallocated", "allocation_status")
ACCOUNT_FIELDS = ("balance_due", "open_invoice_count", "oldest_due_date")
ORDER_FIELDS = (
    "invoiced_total",
    "paid_total",
    "balance_due",
    "billing_status",
    "payment_status",
    "state",
    "line_quantities",
    "over_invoiced",
)


PLAN_FIELDS = ("state", "balance_due", "oldest_due_date")


def _plan_drift_sql(scoped: bool, invoice_sums: str | None = None) -> str:
    """Every plan in scope, its cached state and figures beside what its open invoices' ledger sums say.

    `invoice_sums`, when given, is a SELECT of _plan_sums' columns over the plans'
    open invoices (find_drifted_by_invoice passes its own, from the ledger it computed once)."""
    scope = "= ANY(%(ids)s)" if scoped else "IS NOT NULL"
    if invoice_sums is None:
        invoices = _invoice_ledger(
            f"WHERE i.state = {_OPEN} AND i.plan_id {scope}",
            f"WHERE invoice_id IN (SELECT id FROM invoices_invoice WHERE plan_id {scope})",
        )
        invoice_sums = _plan_sums(f"({invoices}) x")
    return f"""
        WITH inv AS ({invoice_sums})
        SELECT * FROM (
            SELECT p.id, p.account_id, p.state,
                   CASE WHEN p.state = 'canceled' THEN 'canceled'
                        WHEN COALESCE(inv.installments, 0) > 0 AND COALESCE(inv.all_paid, true) THEN 'paid_off'
                        ELSE 'active' END AS ledger_state,
                   p.balance_due, COALESCE(inv.owed, 0) AS ledger_balance_due,
                   p.oldest_due_date, inv.oldest AS ledger_oldest_due_date
            FROM plans_plan p LEFT JOIN inv ON inv.plan_id = p.id
            WHERE p.id {scope}) x
        WHERE {_differs(PLAN_FIELDS)}
        ORDER BY x.id
    """


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


def _account_drift_sql(scoped: bool, open_invoices: str | None = None) -> str:
    """`open_invoices`, when given, is a SELECT of the open invoices' ledger figures (as
    _invoice_ledger's columns; find_drifted_by_invoice passes a filter of the ledger it computed once)."""
    # Only open invoices count towards an account (same rule as ledger.core._ACCOUNTS_REFRESH,
    # but on the figures the invoices should have, not the ones they have).
    account_filter = "WHERE ac.id = ANY(%(ids)s)" if scoped else ""
    if open_invoices is None and scoped:
        open_ids = f"SELECT id FROM invoices_invoice WHERE state = {_OPEN} AND account_id = ANY(%(ids)s)"
        open_invoices = _invoice_ledger(
            f"WHERE i.state = {_OPEN} AND i.account_id = ANY(%(ids)s)", f"WHERE invoice_id IN ({open_ids})"
        )
    elif open_invoices is None:
        open_invoices = _invoice_ledger(
            f"WHERE i.state = {_OPEN}", f"WHERE invoice_id IN (SELECT id FROM invoices_invoice WHERE state = {_OPEN})"
        )
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


def _all_drifted_sql() -> str:
    """find_drifted_by_invoice's one statement: the ledger figures of every invoice computed once
    (materialized), then compared with the invoices, summed for the accounts, the orders and the plans."""
    open_invoices = f"SELECT * FROM ledger WHERE state = {_OPEN}"
    order_sums = _order_sums(f"({open_invoices} AND order_id IS NOT NULL) x")
    plan_sums = _plan_sums(f"({open_invoices} AND plan_id IS NOT NULL) x")
    return f"""
        WITH ledger AS MATERIALIZED ({_invoice_ledger("", "")})
        SELECT '{ObjectKind.INVOICE.value}' AS kind, x.id, x.account_id
        FROM ledger x WHERE {_differs(INVOICE_FIELDS)}
        UNION ALL
        SELECT '{ObjectKind.ACCOUNT.value}', a.id, a.id FROM ({_account_drift_sql(False, open_invoices)}) a
        UNION ALL
        SELECT '{ObjectKind.ORDER.value}', o.id, o.account_id FROM ({_order_drift_sql(False, order_sums, detail=False)}) o
        UNION ALL
        SELECT '{ObjectKind.PLAN.value}', p.id, p.account_id FROM ({_plan_drift_sql(False, plan_sums)}) p
        ORDER BY 1, 2
    """


# Keyed by the kind's value: callers pass the stored string (ObjectKind members are str).
_SQL: dict[str, tuple[tuple[str, ...], Callable[[bool], str]]] = {
    ObjectKind.INVOICE: (INVOICE_FIELDS, _invoice_drift_sql),
    ObjectKind.PAYMENT: (PAYMENT_FIELDS, _payment_drift_sql),
    ObjectKind.ACCOUNT: (ACCOUNT_FIELDS, _account_drift_sql),
    ObjectKind.ORDER: (ORDER_FIELDS, _order_drift_sql),
    ObjectKind.PLAN: (PLAN_FIELDS, _plan_drift_sql),
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
    account_id: int | None = None  # invoices: the account its figures feed; orders, plans: the account locked first

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


def find_drifted_by_invoice() -> list[tuple[str, int, int | None]]:
    """(kind, id, account id) of every drifted invoice, account, order and plan of the whole
    ledger, by id within each kind.

    What find_drift over those four whole tables finds, in one statement: the invoices'
    ledger figures, which the accounts', the orders' and the plans' are sums of, are computed
    once instead of four times.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # One process: its parallel workers each built the order lines' sums again (measured as
        # fast without them), and the command's other reads want the other core meanwhile.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute(_all_drifted_sql())
        return [(kind, pk, account_id) for kind, pk, account_id in cursor.fetchall()]


def count_objects() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COUNT(*) FROM invoices_invoice), (SELECT COUNT(*) FROM payments_payment),"
            " (SELECT COUNT(*) FROM billing_account), (SELECT COUNT(*) FROM orders_order),"
            " (SELECT COUNT(*) FROM plans_plan)"
        )
        invoices, payments, accounts, orders, plans = cursor.fetchone()
    return {
        ObjectKind.INVOICE: invoices,
        ObjectKind.PAYMENT: payments,
        ObjectKind.ACCOUNT: accounts,
        ObjectKind.ORDER: orders,
        ObjectKind.PLAN: plans,
    }
