"""Invoice reads shared by the list page, its CSV export, the dashboard, commands and the benchmark.

The invoice list is `invoice_list(filters=...)` and its figures `invoice_totals(filters=...)`:
both apply InvoiceFilter (the one definition of the list's filters and its defaults: open
invoices unless a state is asked for), so the page, the export and the benchmark read the
same rows and the same totals.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from billing.kept_totals import kept_totals
from billing.listing import Totals, as_query, currency_totals, only_filtered_by, validated
from invoices.filters import ALL_STATES, INVOICE_SORTS, InvoiceFilter, invoice_sort
from invoices.models import INVOICE_QUEUE_FIGURES, OPEN_WORK_SQL, Invoice, InvoiceState, overdue_sql
from payments.models import Payment

# What the kept totals are kept by; any other filter is counted from the rows.
KEPT_FILTERS = {"state", "payment_status", "overdue", "currency"}

Filters = Mapping[str, Any] | InvoiceFilter


def allocatable_invoices(payment: Payment) -> QuerySet[Invoice]:
    """Invoices a payment may go to: open, same customer and currency, something due; oldest first."""
    return Invoice.objects.filter(
        customer_id=payment.customer_id,
        currency=payment.currency,
        state=InvoiceState.OPEN,
        balance_due__gt=0,
    ).order_by("due_date", "issue_date", "id")


def invoice_filter(filters: Filters, *, today: datetime.date | None = None) -> InvoiceFilter:
    """InvoiceFilter bound to `filters` (request.GET or a dict) and validated; raises InvalidInput
    with the form's messages. A view that renders the form passes the filterset itself on."""
    if isinstance(filters, InvoiceFilter):
        return validated(filters)
    queryset = Invoice.objects.select_related("customer", "provider")
    return validated(InvoiceFilter(as_query(filters), queryset=queryset, today=today))


def invoice_list(*, filters: Filters, today: datetime.date | None = None) -> QuerySet[Invoice]:
    """The invoices the filters select, in the list's order (?sort=, else oldest due first
    for overdue, else newest issued first), with customer and provider.

    Filters are InvoiceFilter's: number, customer, provider, currency, state (default open;
    `all` for any), payment_status (repeatable), overdue, total_min/max, issued_from/to,
    due_from/to, sort. `today` is what overdue is measured against (default: today).
    """
    filterset = invoice_filter(filters, today=today)
    return filterset.qs.order_by(*INVOICE_SORTS[invoice_sort(filterset)].order_by())


def invoice_totals(*, filters: Filters, today: datetime.date | None = None) -> Totals:
    """Count, total and balance due per currency of what invoice_list(filters) lists.

    From the trigger-kept InvoiceQueueTotal when the filters are ones it is kept by (state,
    payment status, overdue, currency), a few ms however many invoices match; else one
    aggregate over the filtered rows, reused while the clerk pages through the same set.
    """
    filterset = invoice_filter(filters, today=today)
    data = filterset.form.cleaned_data
    state = data.get("state")
    # The list leaves out voided drafts (no issue date); the kept totals count every void invoice.
    if only_filtered_by(data, KEPT_FILTERS) and state != InvoiceState.VOID:
        conditions, params = [], {}
        if state and state != ALL_STATES:
            conditions.append("state = %(state)s")
            params["state"] = state
        if data.get("payment_status"):
            conditions.append("payment_status = ANY(%(statuses)s)")
            params["statuses"] = list(data["payment_status"])
        if data.get("overdue"):
            condition, overdue_params = overdue_sql(filterset.today)
            conditions.append(condition)
            params.update(overdue_params)
        if data.get("currency"):
            conditions.append("currency = %(currency)s")
            params["currency"] = data["currency"]
        return kept_totals(INVOICE_QUEUE_FIGURES, conditions=conditions, params=params)
    return currency_totals(filterset.qs, filterset.data, total="total", balance_due="balance_due")


def busiest_currency() -> str | None:
    """The currency with the most open work (unpaid or partially paid open invoices), from the
    kept queue totals: where an amount-sorted list starts when the clerk has not chosen one."""
    kept = kept_totals(INVOICE_QUEUE_FIGURES, conditions=[OPEN_WORK_SQL], params={})
    ranked = sorted(kept.by_currency, key=lambda row: (-row["count"], row["currency"]))
    return ranked[0]["currency"] if ranked else None
