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

from django.db.models import Case, QuerySet, Value, When
from django.db.models.functions import Coalesce

from allocations.checks import plan_allocation
from billing.kept_totals import kept_totals
from billing.listing import Totals, as_query, currency_totals, only_filtered_by, validated
from invoices.filters import ALL_STATES, INVOICE_SORTS, InvoiceFilter, invoice_sort
from invoices.models import INVOICE_QUEUE_FIGURES, OPEN_WORK_SQL, Invoice, InvoiceState, overdue_sql
from payments.models import Payment

# What the kept totals are kept by; any other filter is counted from the rows.
KEPT_FILTERS = {"state", "payment_status", "overdue", "currency"}

Filters = Mapping[str, Any] | InvoiceFilter


def penalty_rank() -> int:
    """Where a penalty goes beside its installment (rank 1) in the allocation order."""
    return 0 if plan_allocation() == "penalties_first" else 2


def allocation_order_sql(alias: str, installment_alias: str) -> str:
    """ORDER BY of allocatable_invoices in SQL over `alias` and its LEFT JOINed installment (ledger.bulk)."""
    i, inst = alias, installment_alias
    return (
        f"COALESCE({inst}.due_date, {i}.due_date), COALESCE({inst}.issue_date, {i}.issue_date),"
        f" COALESCE({i}.installment_id, {i}.id),"
        f" CASE WHEN {i}.installment_id IS NULL THEN 1 ELSE {penalty_rank()} END,"
        f" COALESCE({i}.penalty_period, 0), {i}.id"
    )


def allocatable_invoices(payment: Payment) -> QuerySet[Invoice]:
    """Invoices a payment may go to: open, same customer and currency, something due; oldest first
    (due date, issue date, id). A penalty sorts with its installment, before or after it
    (SETTLE_PLAN_ALLOCATION), so a plan's invoices come oldest installment first (DESIGN.md section 10)."""
    return (
        Invoice.objects.filter(
            customer_id=payment.customer_id,
            currency=payment.currency,
            state=InvoiceState.OPEN,
            balance_due__gt=0,
        )
        .annotate(
            order_due=Coalesce("installment__due_date", "due_date"),
            order_issue=Coalesce("installment__issue_date", "issue_date"),
            order_anchor=Coalesce("installment_id", "id"),
            order_rank=Case(When(installment__isnull=False, then=Value(penalty_rank())), default=Value(1)),
            order_period=Coalesce("penalty_period", Value(0)),
        )
        .order_by("order_due", "order_issue", "order_anchor", "order_rank", "order_period", "id")
    )


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
