"""The invoice list (filters, sorts, keyset pages, totals) and its CSV export.

Detail pages and money actions live in invoices/detail_views.py; this module only reads,
through invoices.selectors (the same reads the benchmark measures).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone

from billing.errors import InvalidInput
from billing.listing import (
    amount_sort_currency,
    export_csv,
    invalid_filters,
    keyset_page,
    list_url,
    page_size,
    render_list,
)
from billing.roles import SUPPORT, role_required
from invoices import selectors
from invoices.filters import AMOUNT_SORTS, INVOICE_SORTS, InvoiceFilter, invoice_sort
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


def _amount_currency(request: HttpRequest) -> str | None:
    """An amount sort (?sort=-total, balance_due) lists one currency: see amount_sort_currency."""
    return amount_sort_currency(request, request.GET.get("sort", ""), AMOUNT_SORTS, busiest=selectors.busiest_currency)


@role_required(SUPPORT)
def invoice_list(request: HttpRequest) -> HttpResponse:
    amount_currency = _amount_currency(request)
    filterset = _filtered(request)
    sort = invoice_sort(filterset)
    totals = page = None
    if filterset.is_valid():
        totals = selectors.invoice_totals(filters=filterset)
        page = keyset_page(
            request,
            selectors.invoice_list(filters=filterset),
            INVOICE_SORTS[sort],
            per_page=page_size(request),
            total_count=totals.count,
        )
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort": sort,
        "sort_param": sort if request.GET.get("sort") == sort else "",
        "sorts": INVOICE_SORTS,
        "amount_currency": amount_currency,
        "today": timezone.localdate(),
        "export_url": list_url(request, path=reverse("invoices:export"), drop=("per_page",)),
        "clear_url": reverse("invoices:list"),
        "noun": "invoices",  # the list skeleton's totals label and pagination
    }
    return render_list(request, "invoices/list.html", "invoices/_list_results.html", context)


@role_required(SUPPORT)
def invoice_export(request: HttpRequest) -> HttpResponseBase:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    _amount_currency(request)
    try:
        invoices = selectors.invoice_list(filters=request.GET)
    except InvalidInput as error:
        return invalid_filters(error)
    return export_csv(invoices, CSV_COLUMNS, filename="invoices", text_columns=_TEXT_COLUMNS)
