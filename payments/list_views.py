"""The payment list (filters, the needs-work queue, sorts, keyset pages, totals) and its CSV export.

Detail pages and money actions live in payments/views.py; this module only reads.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from billing.listing import (
    chosen_sort,
    currency_totals,
    export_csv,
    keyset_page,
    list_url,
    page_size,
    render_list,
)
from billing.roles import SUPPORT, role_required
from payments.filters import DEFAULT_PAYMENT_SORT, PAYMENT_SORTS, PaymentFilter
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
    filterset = _filtered(request)
    sort = chosen_sort(request, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)
    totals = page = None
    if filterset.is_valid():
        totals = currency_totals(filterset.qs, request, amount="amount", unallocated="unallocated")
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
        "needs_work": request.GET.get("queue") == "needs_work",
        "export_url": list_url(request, path=reverse("payments:export"), drop=("per_page",)),
        "clear_url": reverse("payments:list"),
    }
    return render_list(request, "payments/list.html", "payments/_list_results.html", context)


@role_required(SUPPORT)
def payment_export(request: HttpRequest) -> HttpResponse:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    ordering = PAYMENT_SORTS[chosen_sort(request, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)]
    return export_csv(_filtered(request), ordering, CSV_COLUMNS, filename="payments", text_columns=_TEXT_COLUMNS)
