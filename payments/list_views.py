"""The payment list (filters, the needs-work queue, sorts, keyset pages, totals) and its CSV export.

Detail pages and money actions live in payments/detail_views.py; this module only reads,
through payments.selectors (the same reads the benchmark measures).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse

from billing.errors import InvalidInput
from billing.listing import (
    amount_sort_currency,
    chosen_sort,
    export_csv,
    invalid_filters,
    keyset_page,
    list_url,
    page_size,
    render_list,
)
from billing.roles import SUPPORT, role_required
from invoices.selectors import busiest_currency
from payments import selectors
from payments.filters import AMOUNT_SORTS, DEFAULT_PAYMENT_SORT, NEEDS_WORK, PAYMENT_SORTS, PaymentFilter, payment_sort
from payments.models import Payment

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


@role_required(SUPPORT)
def payment_list(request: HttpRequest) -> HttpResponse:
    sort = chosen_sort(request.GET, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)
    amount_currency = amount_sort_currency(request, sort, AMOUNT_SORTS, busiest=busiest_currency)
    filterset = _filtered(request)
    totals = page = None
    if filterset.is_valid():
        totals = selectors.payment_totals(filters=filterset)
        page = keyset_page(
            request,
            selectors.payment_list(filters=filterset),
            PAYMENT_SORTS[payment_sort(filterset)],
            per_page=page_size(request),
            total_count=totals.count,
        )
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort": sort,
        "sort_param": sort if request.GET.get("sort") == sort else "",
        "sorts": PAYMENT_SORTS,
        "amount_currency": amount_currency,
        "needs_work": request.GET.get("queue") == NEEDS_WORK,
        "export_url": list_url(request, path=reverse("payments:export"), drop=("per_page",)),
        "clear_url": reverse("payments:list"),
        "noun": "payments",  # the list skeleton's totals label and pagination
    }
    return render_list(request, "payments/list.html", "payments/_list_results.html", context)


@role_required(SUPPORT)
def payment_export(request: HttpRequest) -> HttpResponseBase:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    sort = chosen_sort(request.GET, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)
    amount_sort_currency(request, sort, AMOUNT_SORTS, busiest=busiest_currency)
    try:
        payments = selectors.payment_list(filters=request.GET)
    except InvalidInput as error:
        return invalid_filters(error)
    return export_csv(payments, CSV_COLUMNS, filename="payments", text_columns=_TEXT_COLUMNS)
