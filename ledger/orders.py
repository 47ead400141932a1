"""The orders' part of the one refresh routine (DESIGN.md section 9).

ledger.core.refresh_all calls refresh_orders for the orders of the invoices it refreshed
(and for orders a service changed directly), in the same transaction, after the invoices:
an order's figures are sums of its invoices' and its lines' quantities are sums of its
invoice lines and credit note lines. Like the other refreshes it recomputes from rows,
derives the statuses with the pure functions of orders.models, writes only what changed,
and is idempotent. The caller holds the orders' locks (ledger.core.lock_rows takes them
after the accounts and before the invoices).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import connection

from billing.actors import Actor
from invoices.models import InvoiceState
from orders.models import InvoicingPolicy, Order, OrderStatusChange, derive_billing_status

_VOID = f"'{InvoiceState.VOID.value}'"
_OPEN = f"'{InvoiceState.OPEN.value}'"
_DELIVERED = f"'{InvoicingPolicy.DELIVERED.value}'"

# What an order line may be billed for under its order's policy (I9's limit).
BILLABLE_SQL = f"""CASE WHEN o.invoicing = {_DELIVERED}
    THEN LEAST(l.delivered_quantity, l.quantity - l.canceled_quantity)
    ELSE l.quantity - l.canceled_quantity END"""

# Invoiced quantity per order line: billed on invoices that are not void, less what credit
# notes with reopen_quantity gave back on those invoices.
LINE_INVOICED_SQL = f"""
    SELECT l.id,
           COALESCE((SELECT SUM(il.quantity) FROM invoices_invoiceline il
                     JOIN invoices_invoice i ON i.id = il.invoice_id
                     WHERE il.order_line_id = l.id AND i.state <> {_VOID}), 0)
         - COALESCE((SELECT SUM(cl.quantity) FROM invoices_creditnoteline cl
                     JOIN invoices_creditnote cn ON cn.id = cl.credit_note_id AND cn.reopen_quantity
                     JOIN invoices_invoiceline il ON il.id = cl.invoice_line_id
                     JOIN invoices_invoice i ON i.id = il.invoice_id
                     WHERE il.order_line_id = l.id AND i.state <> {_VOID}), 0) AS invoiced,
           {BILLABLE_SQL} AS billable
    FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
    WHERE l.order_id = ANY(%(ids)s)
"""

# LINE_INVOICED_SQL for every order line at once (reconciliation): grouped joins instead of
# two correlated sums per line. "Not on a void invoice" is an anti-join with the few void
# invoices, not a join with every invoice (which each parallel worker built again: 4 s at 1M).
_NOT_VOID = f"NOT EXISTS (SELECT 1 FROM invoices_invoice v WHERE v.id = il.invoice_id AND v.state = {_VOID})"
ALL_LINES_INVOICED_SQL = f"""
    SELECT l.id, COALESCE(b.q, 0) - COALESCE(r.q, 0) AS invoiced, {BILLABLE_SQL} AS billable
    FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id
    LEFT JOIN (SELECT il.order_line_id, SUM(il.quantity) AS q FROM invoices_invoiceline il
               WHERE il.order_line_id IS NOT NULL AND {_NOT_VOID} GROUP BY 1) b ON b.order_line_id = l.id
    LEFT JOIN (SELECT il.order_line_id, SUM(cl.quantity) AS q FROM invoices_creditnoteline cl
               JOIN invoices_creditnote cn ON cn.id = cl.credit_note_id AND cn.reopen_quantity
               JOIN invoices_invoiceline il ON il.id = cl.invoice_line_id
               WHERE {_NOT_VOID} GROUP BY 1) r ON r.order_line_id = l.id
"""

_LINES_REFRESH = f"""
    WITH figures AS ({LINE_INVOICED_SQL})
    UPDATE orders_orderline AS l
    SET invoiced_quantity = f.invoiced, invoiceable_quantity = f.billable - f.invoiced
    FROM figures f
    WHERE l.id = f.id
      AND (l.invoiced_quantity, l.invoiceable_quantity) IS DISTINCT FROM (f.invoiced, f.billable - f.invoiced)
"""

# An order's figures: its open invoices' (void ones count nothing, drafts nothing yet), and
# whether any / every line is invoiced (every line: all that will ever be billed, is).
_ORDER_FIGURES = f"""
    SELECT o.id,
           COALESCE(inv.net, 0), COALESCE(inv.paid, 0),
           COALESCE(ln.any_invoiced, false), COALESCE(ln.all_invoiced, true)
    FROM orders_order o
    LEFT JOIN LATERAL (
        SELECT SUM(total - credited_total) AS net, SUM(paid_total) AS paid
        FROM invoices_invoice WHERE order_id = o.id AND state = {_OPEN}) inv ON true
    LEFT JOIN LATERAL (
        SELECT bool_or(invoiced_quantity > 0) AS any_invoiced,
               bool_and(invoiced_quantity >= quantity - canceled_quantity) AS all_invoiced
        FROM orders_orderline WHERE order_id = o.id) ln ON true
    WHERE o.id = ANY(%(ids)s)
"""


def order_figures(order_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal, bool, bool]]:
    """(invoiced_total, paid_total, any line invoiced, every line invoiced) per order, from the rows."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_ORDER_FIGURES, {"ids": ids})
        return {pk: (net, paid, any_, all_) for pk, net, paid, any_, all_ in cursor.fetchall()}


def derive_order(
    order: Order, figures: tuple[Decimal, Decimal, bool, bool]
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Put the figures on an order copy and derive its statuses (nothing written): the changed
    columns, and (field, old, new) for each status that moved."""
    net, paid, any_invoiced, all_invoiced = figures
    changed = []
    moves = []
    for field, value in (("invoiced_total", net), ("paid_total", paid), ("balance_due", net - paid)):
        if getattr(order, field) != value:
            setattr(order, field, value)
            changed.append(field)
    for field, move in (
        (
            "billing_status",
            lambda: order.move_billing_status(
                derive_billing_status(any_invoiced=any_invoiced, all_invoiced=all_invoiced)
            ),
        ),
        ("payment_status", order.refresh_payment_status),
        ("state", order.refresh_state),
    ):
        old = getattr(order, field)
        move()
        if getattr(order, field) != old:
            changed.append(field)
            moves.append((field, old, getattr(order, field)))
    return changed, moves


def refresh_orders(orders: Iterable[Order], *, cause: str, by: Actor, lines: bool = True) -> list[Order]:
    """Recompute the orders' line quantities, figures and statuses; returns the orders that changed.

    `orders` are locked copies (ledger.core.lock_rows). Each status that moves is recorded
    in the order's history with `cause` and `by`, as an invoice's. `lines=False` for money
    moving alone (allocations): it changes what was paid, never what was invoiced, and the
    lines' refresh is the costly part (44 ms for a bank import chunk's ~100 orders).
    """
    from ledger.bulk import insert_changes, save_many

    by_id = {order.pk: order for order in orders}
    if not by_id:
        return []
    if lines:
        with connection.cursor() as cursor:
            cursor.execute(_LINES_REFRESH, {"ids": sorted(by_id)})
    moved: list[Order] = []
    fields: dict[int, set[str]] = {}
    history: list[tuple[int, str, str, str, str]] = []
    for pk, figures in order_figures(by_id).items():
        order = by_id[pk]
        changed, moves = derive_order(order, figures)
        history += [(pk, field, old, new, cause) for field, old, new in moves]
        if changed:
            fields[pk] = set(changed)
            moved.append(order)
    # One INSERT and one UPDATE however many orders (a bank import's chunk has ~100), as ledger.bulk writes invoices.
    insert_changes(OrderStatusChange, "order", history, by=by)
    save_many(Order, sorted(moved, key=lambda order: order.pk), fields)
    return moved
