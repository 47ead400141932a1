"""The payment list (filters, the needs-work queue, sorts, keyset pages, totals) and its CSV export.

Detail pages and money actions live in payments/views.py; this module only reads.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from billing.listing import (
    Totals,
    amount_sort_currency,
    chosen_sort,
    currency_totals,
    kept_totals,
    only_filtered_by,
    export_csv,
    keyset_page,
    list_url,
    page_size,
    render_list,
)
from billing.roles import SUPPORT, role_required
from invoices.selectors import busiest_currency
from payments.filters import (
    AMOUNT_SORTS,
    DEFAULT_PAYMENT_SORT,
    NEEDS_WORK,
    NEEDS_WORK_STATES,
    NEEDS_WORK_STATUSES,
    PAYMENT_SORTS,
    PaymentFilter,
)
from payments.models import Payment, PaymentQueueTotal

CSV_COLUMNS = [
    ("id", "pk"),
    ("state", "state"),
    ("allocation_status", "allocation_status"),
    ("customer", "customer__name"),
    ("customer_email", "customer__email"),
    ("method", "method"),
    ("reference", "reference"),
    ("currency", "currency"),
    ("received_at", "received_at"),
    ("amount", "amount"),
    ("refunded_total", "refunded_total"),
    ("charged_back_total", "charged_back_total"),
    ("allocated_total", "allocated_total"),
    ("unallocated", "unallocated"),
]
_TEXT_COLUMNS = {"customer", "customer_email", "reference"}


def _filtered(request: HttpRequest) -> PaymentFilter:
    return PaymentFilter(request.GET, queryset=Payment.objects.select_related("customer"))


def _totals(filterset: PaymentFilter, request: HttpRequest) -> Totals:
    """Count and sums of the filtered payments: from the kept queue totals when the filters
    are ones they are kept by (queue, state, allocation status, currency), else one aggregate."""
    data = filterset.form.cleaned_data
    if only_filtered_by(data, {"queue", "state", "allocation_status", "currency"}):
        conditions, params = [], {}
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
        return kept_totals(
            PaymentQueueTotal, count="payments", sums=["amount", "unallocated"], conditions=conditions, params=params
        )
    return currency_totals(filterset.qs, request, amount="amount", unallocated="unallocated")


@role_required(SUPPORT)
def payment_list(request: HttpRequest) -> HttpResponse:
    sort = chosen_sort(request, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)
    amount_currency = amount_sort_currency(request, sort, AMOUNT_SORTS, busiest=busiest_currency)
    filterset = _filtered(request)
    totals = page = None
    if filterset.is_valid():
        totals = _totals(filterset, request)
        page = keyset_page(
            request, filterset.qs, PAYMENT_SORTS[sort], per_page=page_size(request), total_count=totals.count
        )
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort": sort,
        "sort_param": sort if request.GET.get("sort") == sort else "",
        "sorts": PAYMENT_SORTS,
        "amount_currency": amount_currency,
        "needs_work": request.GET.get("queue") == "needs_work",
        "export_url": list_url(request, path=reverse("payments:export"), drop=("per_page",)),
        "clear_url": reverse("payments:list"),
    }
    return render_list(request, "payments/list.html", "payments/_list_results.html", context)


@role_required(SUPPORT)
def payment_export(request: HttpRequest) -> HttpResponse:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    sort = chosen_sort(request, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)
    amount_sort_currency(request, sort, AMOUNT_SORTS, busiest=busiest_currency)
    ordering = PAYMENT_SORTS[sort]
    return export_csv(_filtered(request), ordering, CSV_COLUMNS, filename="payments", text_columns=_TEXT_COLUMNS)
