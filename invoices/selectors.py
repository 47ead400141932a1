"""Invoice reads shared by views, exports, commands and the benchmark."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from billing.money import MINOR_UNITS
from billing.queues import QueueTotals, cached_totals, choices, flag, many, optional_id, queue_totals
from billing.status import PaymentStatus
from invoices.models import OPEN_WORK_STATUSES, Invoice, InvoiceQueueTotal, InvoiceState
from payments.models import Payment


def allocatable_invoices(payment: Payment) -> QuerySet[Invoice]:
    """Invoices a payment may go to: open, same customer and currency, something due; oldest first."""
    return Invoice.objects.filter(
        customer_id=payment.customer_id,
        currency=payment.currency,
        state=InvoiceState.OPEN,
        balance_due__gt=0,
    ).order_by("due_date", "issue_date", "id")


@dataclass(frozen=True)
class InvoiceFilters:
    """What the invoice list can be filtered by; build it from a query string with from_params."""

    payment_status: tuple[str, ...] = ()
    state: str | None = None
    overdue: bool = False
    customer_id: int | None = None
    provider_id: int | None = None
    account_id: int | None = None
    currency: str | None = None
    number: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> InvoiceFilters:
        """From request.GET or a dict: payment_status (repeatable or comma-separated), state,
        overdue=1, customer, provider, account, currency, number (a prefix). Raises InvalidInput."""
        states = choices(many(params, "state"), InvoiceState.values, field="state")
        currencies = choices(many(params, "currency"), MINOR_UNITS, field="currency")
        return cls(
            payment_status=choices(many(params, "payment_status"), PaymentStatus.values, field="payment status"),
            state=states[0] if states else None,
            overdue=flag(params.get("overdue", "")),
            customer_id=optional_id(params.get("customer"), field="customer"),
            provider_id=optional_id(params.get("provider"), field="provider"),
            account_id=optional_id(params.get("account"), field="account"),
            currency=currencies[0] if currencies else None,
            number=str(params.get("number") or "").strip(),
        )


def _scope(filters: InvoiceFilters, today: datetime.date | None) -> tuple[tuple[str, ...], str | None, datetime.date | None]:
    """(payment statuses, state, due before) that the filters select; () statuses means any."""
    statuses = filters.payment_status
    due_before = None
    if filters.overdue:
        # Overdue is not stored (DESIGN.md §3): unpaid or partially paid, due before today.
        statuses = tuple(s for s in statuses or OPEN_WORK_STATUSES if s in OPEN_WORK_STATUSES)
        due_before = today or timezone.localdate()
    # The same order as the partial index's predicate, so the planner can prove it applies.
    statuses = tuple(s for s in PaymentStatus.values if s in statuses)
    queue = bool(filters.payment_status) or filters.overdue
    # A status filter means the work queue: void invoices leave every queue, drafts are not in one yet.
    state = filters.state or (InvoiceState.OPEN if queue else None)
    return statuses, state, due_before


def invoice_queue(
    filters: InvoiceFilters | Mapping[str, Any] | None = None, *, today: datetime.date | None = None
) -> QuerySet[Invoice]:
    """The invoice list and its work queues, ordered for paging by an index.

    Filtering by payment status (or overdue) means the work queue: open invoices only,
    oldest due first, read from invoice_status_queue_idx (one status) or
    invoice_open_due_idx (unpaid and partially paid together, e.g. overdue).
    Without those filters it is the plain list, newest first.
    """
    if not isinstance(filters, InvoiceFilters):
        filters = InvoiceFilters.from_params(filters or {})
    queryset = Invoice.objects.all()
    statuses, state, due_before = _scope(filters, today)
    if filters.overdue and not statuses:
        return queryset.none()
    if due_before:
        queryset = queryset.filter(due_date__lt=due_before)
    if len(statuses) == 1:
        queryset = queryset.filter(payment_status=statuses[0])
    elif statuses:
        queryset = queryset.filter(payment_status__in=statuses)
    if state:
        queryset = queryset.filter(state=state)
    if filters.customer_id is not None:
        queryset = queryset.filter(customer_id=filters.customer_id)
    if filters.provider_id is not None:
        queryset = queryset.filter(provider_id=filters.provider_id)
    if filters.account_id is not None:
        queryset = queryset.filter(account_id=filters.account_id)
    if filters.currency:
        queryset = queryset.filter(currency=filters.currency)
    if filters.number:
        queryset = queryset.filter(number__startswith=filters.number.upper())
    if filters.payment_status or filters.overdue:
        return queryset.order_by("due_date", "id")
    return queryset.order_by("-id")


def invoice_queue_totals(
    filters: InvoiceFilters | Mapping[str, Any] | QuerySet[Invoice] | None = None,
    *,
    today: datetime.date | None = None,
) -> QueueTotals:
    """Count, balance due and total, per currency, of what invoice_queue(filters) lists.

    Filters among state, payment status, overdue and currency are answered from
    InvoiceQueueTotal (a few thousand rows, whatever the list's size); a customer's,
    provider's, account's or number search's list by one aggregate over its rows,
    which their indexes keep small. A queryset is aggregated as given.
    """
    sums = ["balance_due", "total"]
    if isinstance(filters, QuerySet):
        return queue_totals(filters, sums)
    if not isinstance(filters, InvoiceFilters):
        filters = InvoiceFilters.from_params(filters or {})
    narrowed = (filters.customer_id, filters.provider_id, filters.account_id)
    if any(value is not None for value in narrowed) or filters.number:
        return queue_totals(invoice_queue(filters, today=today), sums)
    statuses, state, due_before = _scope(filters, today)
    if filters.overdue and not statuses:
        return QueueTotals(count=0)
    conditions, params = [], {}
    if statuses:
        conditions.append("payment_status = ANY(%(statuses)s)")
        params["statuses"] = list(statuses)
    if state:
        conditions.append("state = %(state)s")
        params["state"] = state
    if due_before:
        conditions.append("due_date < %(due_before)s")
        params["due_before"] = due_before
    if filters.currency:
        conditions.append("currency = %(currency)s")
        params["currency"] = filters.currency
    return cached_totals(
        InvoiceQueueTotal, count="invoices", sums=sums, where=" AND ".join(conditions) or "TRUE", params=params
    )


def busiest_currency() -> str | None:
    """The currency with the most open work (unpaid or partially paid open invoices), from the
    kept queue totals: where an amount-sorted list starts when the clerk has not chosen one."""
    kept = cached_totals(
        InvoiceQueueTotal, count="invoices", sums=["invoices"],
        where="state = 'open' AND payment_status = ANY(%(work)s)", params={"work": [str(s) for s in OPEN_WORK_STATUSES]},
    )
    ranked = sorted(kept.by_currency.items(), key=lambda item: (-item[1]["invoices"], item[0]))
    return ranked[0][0] if ranked else None
