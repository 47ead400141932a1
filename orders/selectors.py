"""Order reads shared by the list page, its CSV export, the order page and the benchmark.

The order list is `order_list(filters=...)` and its figures `order_totals(filters=...)`:
both apply OrderFilter (the one definition of the list's filters), so the page, the
export and the benchmark read the same rows and the same totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from allocations.models import Allocation
from billing.kept_totals import kept_totals
from billing.listing import Totals, as_query, currency_totals, only_filtered_by, validated
from invoices.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceState
from orders.filters import ORDER_SORTS, OrderFilter, order_sort
from orders.models import ORDER_QUEUE_FIGURES, Order, OrderLine

# What the kept totals are kept by; any other filter is counted from the rows.
KEPT_FILTERS = {"billing_status", "payment_status", "currency", "provider"}

Filters = Mapping[str, Any] | OrderFilter


def order_filter(filters: Filters) -> OrderFilter:
    """OrderFilter bound to `filters` (request.GET or a dict) and validated; raises InvalidInput
    with the form's messages. A view that renders the form passes the filterset itself on."""
    if isinstance(filters, OrderFilter):
        return validated(filters)
    return validated(OrderFilter(as_query(filters), queryset=Order.objects.select_related("customer", "provider")))


def order_list(*, filters: Filters) -> QuerySet[Order]:
    """The orders the filters select, in the list's order (?sort=, else newest placed first),
    with customer and provider.

    Filters are OrderFilter's: number (prefix), customer, provider, currency, billing_status,
    payment_status, placed_from/to (local days, inclusive), sort.
    """
    filterset = order_filter(filters)
    return filterset.qs.order_by(*ORDER_SORTS[order_sort(filterset)].order_by())


def order_totals(*, filters: Filters) -> Totals:
    """Count, invoiced, paid and balance due per currency of what order_list(filters) lists.

    From the trigger-kept OrderQueueTotal when the filters are ones it is kept by (billing
    status, payment status, currency, provider): a few ms however many orders match. Else
    one aggregate over the filtered rows, reused while the clerk pages through the same set.
    """
    filterset = order_filter(filters)
    data = filterset.form.cleaned_data
    if only_filtered_by(data, KEPT_FILTERS):
        conditions: list[str] = []
        params: dict[str, object] = {}
        for name in ("billing_status", "payment_status", "currency"):
            if data.get(name):
                conditions.append(f"{name} = %({name})s")
                params[name] = data[name]
        if data.get("provider"):
            conditions.append("provider_id = %(provider)s")
            params["provider"] = data["provider"].pk
        return kept_totals(ORDER_QUEUE_FIGURES, conditions=conditions, params=params)
    return currency_totals(
        filterset.qs,
        filterset.data,
        invoiced_total="invoiced_total",
        paid_total="paid_total",
        balance_due="balance_due",
    )


CUSTOMER_ORDERS_SHOWN = 20


def customer_orders(customer_id: int, limit: int = CUSTOMER_ORDERS_SHOWN) -> list[Order]:
    """The customer's latest orders, newest first (the customer page; the list has them all).
    A customer has few orders: order_customer_idx finds them, the sort is of a handful."""
    return list(
        Order.objects.filter(customer_id=customer_id).select_related("provider").order_by("-placed_at", "-id")[:limit]
    )


# --- The order page -------------------------------------------------------------------------------


@dataclass
class OrderInvoice:
    """One invoice of the order with what paid it and what credited it."""

    invoice: Invoice
    lines: list[InvoiceLine] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)

    @property
    def can_credit(self) -> bool:
        return self.invoice.state == InvoiceState.OPEN and self.invoice.total > self.invoice.credited_total


def order_lines(order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.filter(order=order).order_by("position"))


def order_invoices(order: Order) -> list[OrderInvoice]:
    """The order's invoices, oldest first, each with its lines, allocations and credit notes:
    four queries whatever the number of invoices (invoice_order_idx, then the invoices' ids)."""
    invoices = list(Invoice.objects.filter(order=order).select_related("created_by").order_by("id"))
    by_id = {invoice.pk: OrderInvoice(invoice) for invoice in invoices}
    if not by_id:
        return []
    for line in InvoiceLine.objects.filter(invoice_id__in=by_id).order_by("invoice_id", "position"):
        by_id[line.invoice_id].lines.append(line)
    for row in Allocation.objects.filter(invoice_id__in=by_id).select_related("payment", "created_by").order_by("id"):
        by_id[row.invoice_id].allocations.append(row)
    notes = CreditNote.objects.filter(invoice_id__in=by_id).select_related("created_by").order_by("id")
    for note in notes:
        by_id[note.invoice_id].credit_notes.append(note)
    return list(by_id.values())


@dataclass(frozen=True)
class CreditableLine:
    """An invoice line and how much of its quantity may still be credited."""

    line: InvoiceLine
    credited: Decimal
    left: Decimal


def creditable_lines(invoice: Invoice) -> list[CreditableLine]:
    """The invoice's lines with what earlier credit notes credited (issue_credit_note's own rule)."""
    lines = list(InvoiceLine.objects.filter(invoice=invoice).select_related("order_line").order_by("position"))
    credited = dict(
        CreditNoteLine.objects.filter(invoice_line__invoice=invoice)
        .values("invoice_line_id")
        .annotate(q=Sum("quantity"))
        .values_list("invoice_line_id", "q")
    )
    result = []
    for line in lines:
        done = credited.get(line.pk) or Decimal("0")
        result.append(CreditableLine(line, done, line.quantity - done))
    return result
