"""Payment reads shared by views, exports, commands and the benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from billing.money import MINOR_UNITS
from billing.queues import QueueTotals, cached_totals, choices, many, optional_id, queue_totals
from billing.status import AllocationStatus
from payments.models import Payment, PaymentMethod, PaymentQueueTotal, PaymentState


@dataclass(frozen=True)
class PaymentFilters:
    """What the payment list can be filtered by; build it from a query string with from_params."""

    allocation_status: tuple[str, ...] = ()
    state: str | None = None
    customer_id: int | None = None
    method: str | None = None
    currency: str | None = None
    reference: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PaymentFilters:
        """From request.GET or a dict: allocation_status (repeatable or comma-separated), state,
        customer, method, currency, reference (a prefix). Raises InvalidInput."""
        states = choices(many(params, "state"), PaymentState.values, field="state")
        methods = choices(many(params, "method"), PaymentMethod.values, field="payment method")
        currencies = choices(many(params, "currency"), MINOR_UNITS, field="currency")
        return cls(
            allocation_status=choices(
                many(params, "allocation_status"), AllocationStatus.values, field="allocation status"
            ),
            state=states[0] if states else None,
            customer_id=optional_id(params.get("customer"), field="customer"),
            method=methods[0] if methods else None,
            currency=currencies[0] if currencies else None,
            reference=str(params.get("reference") or "").strip(),
        )


def payment_queue(filters: PaymentFilters | Mapping[str, Any] | None = None) -> QuerySet[Payment]:
    """The payment list and its work queues (unallocated, partially allocated, overallocated).

    Filtering by allocation status means the work queue, oldest received first, read
    from payment_status_queue_idx; without it, the plain list, newest first.
    """
    if not isinstance(filters, PaymentFilters):
        filters = PaymentFilters.from_params(filters or {})
    queryset = Payment.objects.all()
    statuses = filters.allocation_status
    if len(statuses) == 1:
        queryset = queryset.filter(allocation_status=statuses[0])
    elif statuses:
        queryset = queryset.filter(allocation_status__in=statuses)
    if filters.state:
        queryset = queryset.filter(state=filters.state)
    if filters.customer_id is not None:
        queryset = queryset.filter(customer_id=filters.customer_id)
    if filters.method:
        queryset = queryset.filter(method=filters.method)
    if filters.currency:
        queryset = queryset.filter(currency=filters.currency)
    if filters.reference:
        queryset = queryset.filter(reference__startswith=filters.reference)
    if statuses:
        return queryset.order_by("received_at", "id")
    return queryset.order_by("-id")


def payment_queue_totals(
    filters: PaymentFilters | Mapping[str, Any] | QuerySet[Payment] | None = None,
) -> QueueTotals:
    """Count, amount and unallocated money, per currency, of what payment_queue(filters) lists.

    Filters among allocation status, state and currency are answered from
    PaymentQueueTotal; a customer's, method's or reference search's list by one
    aggregate over its rows. A queryset is aggregated as given.
    """
    sums = ["amount", "unallocated"]
    if isinstance(filters, QuerySet):
        return queue_totals(filters, sums)
    if not isinstance(filters, PaymentFilters):
        filters = PaymentFilters.from_params(filters or {})
    if filters.customer_id is not None or filters.method or filters.reference:
        return queue_totals(payment_queue(filters), sums)
    conditions, params = [], {}
    if filters.allocation_status:
        conditions.append("allocation_status = ANY(%(statuses)s)")
        params["statuses"] = list(filters.allocation_status)
    if filters.state:
        conditions.append("state = %(state)s")
        params["state"] = filters.state
    if filters.currency:
        conditions.append("currency = %(currency)s")
        params["currency"] = filters.currency
    return cached_totals(
        PaymentQueueTotal, count="payments", sums=sums, where=" AND ".join(conditions) or "TRUE", params=params
    )
