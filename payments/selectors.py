"""Payment reads shared by the list page, its CSV export, the dashboard and the benchmark.

The payment list is `payment_list(filters=...)` and its figures `payment_totals(filters=...)`:
both apply PaymentFilter (the one definition of the list's filters, including the
needs-work queue), so the page, the export and the benchmark read the same rows and totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from billing.kept_totals import kept_totals
from billing.listing import Totals, as_query, currency_totals, only_filtered_by, validated
from payments.filters import NEEDS_WORK, PAYMENT_SORTS, PaymentFilter, payment_sort
from payments.models import NEEDS_WORK_STATES, NEEDS_WORK_STATUSES, PAYMENT_QUEUE_FIGURES, Payment

# What the kept totals are kept by; any other filter is counted from the rows.
KEPT_FILTERS = {"queue", "state", "allocation_status", "currency"}

Filters = Mapping[str, Any] | PaymentFilter


def payment_filter(filters: Filters) -> PaymentFilter:
    """PaymentFilter bound to `filters` (request.GET or a dict) and validated; raises InvalidInput
    with the form's messages. A view that renders the form passes the filterset itself on."""
    if isinstance(filters, PaymentFilter):
        return validated(filters)
    return validated(PaymentFilter(as_query(filters), queryset=Payment.objects.select_related("customer")))


def payment_list(*, filters: Filters) -> QuerySet[Payment]:
    """The payments the filters select, in the list's order (?sort=, else newest received first),
    with their customer.

    Filters are PaymentFilter's: queue (needs_work), customer, reference, method, currency,
    state, allocation_status (repeatable), amount_min/max, received_from/to, sort.
    """
    filterset = payment_filter(filters)
    return filterset.qs.order_by(*PAYMENT_SORTS[payment_sort(filterset)].order_by())


def payment_totals(*, filters: Filters) -> Totals:
    """Count, amount and unallocated money per currency of what payment_list(filters) lists.

    From the trigger-kept PaymentQueueTotal when the filters are ones it is kept by (queue,
    state, allocation status, currency); else one aggregate over the filtered rows, reused
    while the clerk pages through the same set.
    """
    filterset = payment_filter(filters)
    data = filterset.form.cleaned_data
    if only_filtered_by(data, KEPT_FILTERS):
        conditions: list[str] = []
        params: dict[str, object] = {}
        if data.get("queue") == NEEDS_WORK:
            conditions += ["state = ANY(%(work_states)s)", "allocation_status = ANY(%(work_statuses)s)"]
            params.update(
                work_states=[str(s) for s in NEEDS_WORK_STATES], work_statuses=[str(s) for s in NEEDS_WORK_STATUSES]
            )
        if data.get("state"):
            conditions.append("state = %(state)s")
            params["state"] = data["state"]
        if data.get("allocation_status"):
            conditions.append("allocation_status = ANY(%(statuses)s)")
            params["statuses"] = list(data["allocation_status"])
        if data.get("currency"):
            conditions.append("currency = %(currency)s")
            params["currency"] = data["currency"]
        return kept_totals(PAYMENT_QUEUE_FIGURES, conditions=conditions, params=params)
    return currency_totals(filterset.qs, filterset.data, amount="amount", unallocated="unallocated")
