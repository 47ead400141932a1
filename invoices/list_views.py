"""The invoice list (filters, sorts, keyset pages, totals) and its CSV export.

Detail pages and money actions live in invoices/views.py; this module only reads.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from billing.listing import (
    currency_totals,
    export_csv,
    keyset_page,
    list_url,
    page_size,
    render_list,
)
from billing.roles import SUPPORT, role_required
from invoices.filters import INVOICE_SORTS, InvoiceFilter, invoice_sort
from invoices.models import Invoice

CSV_COLUMNS = [
    ("id", "pk"),
    ("number", "number"),
    ("state", "state"),
    ("payment_status", "payment_status"),
    ("customer", "customer__name"),
    ("customer_email", "customer__email"),
    ("provider", "provider__name"),
    ("currency", "currency"),
    ("issue_date", "issue_date"),
    ("due_date", "due_date"),
    ("total", "total"),
    ("credited_total", "credited_total"),
    ("paid_total", "paid_total"),
    ("balance_due", "balance_due"),
]
_TEXT_COLUMNS = {"customer", "customer_email", "provider"}


def _filtered(request: HttpRequest) -> InvoiceFilter:
    return InvoiceFilter(request.GET, queryset=Invoice.objects.select_related("customer", "provider"))


@role_required(SUPPORT)
def invoice_list(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    sort = invoice_sort(request, filterset)
    totals = page = None
    if filterset.is_valid():
        totals = currency_totals(filterset.qs, request, total="total", balance_due="balance_due")
        page = keyset_page(
            request, filterset.qs, INVOICE_SORTS[sort], per_page=page_size(request), total_count=totals.count
        )
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort": sort,
        "sort_param": sort if request.GET.get("sort") == sort else "",
        "sorts": INVOICE_SORTS,
        "today": timezone.localdate(),
        "export_url": list_url(request, path=reverse("invoices:export"), drop=("per_page",)),
        "clear_url": reverse("invoices:list"),
    }
    return render_list(request, "invoices/list.html", "invoices/_list_results.html", context)


@role_required(SUPPORT)
def invoice_export(request: HttpRequest) -> HttpResponse:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    filterset = _filtered(request)
    ordering = INVOICE_SORTS[invoice_sort(request, filterset)]
    return export_csv(filterset, ordering, CSV_COLUMNS, filename="invoices", text_columns=_TEXT_COLUMNS)
