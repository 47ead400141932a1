"""The invoice list (filters, sorts, keyset pages, totals) and its CSV export.

Detail pages and money actions live in invoices/views.py; this module only reads.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from billing.listing import (
    Totals,
    amount_sort_currency,
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
from invoices.filters import ALL_STATES, AMOUNT_SORTS, INVOICE_SORTS, InvoiceFilter, invoice_sort
from invoices.models import OPEN_WORK_STATUSES, Invoice, InvoiceQueueTotal, InvoiceState
from invoices.selectors import busiest_currency

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
    return amount_sort_currency(request, request.GET.get("sort", ""), AMOUNT_SORTS, busiest=busiest_currency)


def _totals(filterset: InvoiceFilter, request: HttpRequest) -> Totals:
    """Count and sums of the filtered invoices: from the kept queue totals when the filters
    are ones they are kept by (state, payment status, overdue, currency), else one aggregate."""
    data = filterset.form.cleaned_data
    state = data.get("state")
    # The list leaves out voided drafts (no issue date); the kept totals count every void invoice.
    if only_filtered_by(data, {"state", "payment_status", "overdue", "currency"}) and state != InvoiceState.VOID:
        conditions, params = [], {}
        if state and state != ALL_STATES:
            conditions.append("state = %(state)s")
            params["state"] = state
        if data.get("payment_status"):
            conditions.append("payment_status = ANY(%(statuses)s)")
            params["statuses"] = list(data["payment_status"])
        if data.get("overdue"):
            conditions += ["state = 'open'", "payment_status = ANY(%(work)s)", "due_date < %(today)s"]
            params.update(work=[str(s) for s in OPEN_WORK_STATUSES], today=timezone.localdate())
        if data.get("currency"):
            conditions.append("currency = %(currency)s")
            params["currency"] = data["currency"]
        return kept_totals(
            InvoiceQueueTotal, count="invoices", sums=["total", "balance_due"], conditions=conditions, params=params
        )
    return currency_totals(filterset.qs, request, total="total", balance_due="balance_due")


@role_required(SUPPORT)
def invoice_list(request: HttpRequest) -> HttpResponse:
    amount_currency = _amount_currency(request)
    filterset = _filtered(request)
    sort = invoice_sort(request, filterset)
    totals = page = None
    if filterset.is_valid():
        totals = _totals(filterset, request)
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
        "amount_currency": amount_currency,
        "today": timezone.localdate(),
        "export_url": list_url(request, path=reverse("invoices:export"), drop=("per_page",)),
        "clear_url": reverse("invoices:list"),
    }
    return render_list(request, "invoices/list.html", "invoices/_list_results.html", context)


@role_required(SUPPORT)
def invoice_export(request: HttpRequest) -> HttpResponse:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    _amount_currency(request)
    filterset = _filtered(request)
    ordering = INVOICE_SORTS[invoice_sort(request, filterset)]
    return export_csv(filterset, ordering, CSV_COLUMNS, filename="invoices", text_columns=_TEXT_COLUMNS)
