"""The order list (filters, sorts, keyset pages, totals) and its CSV export.

The order page and its actions live in orders/detail_views.py and orders/action_views.py;
this module only reads, through orders.selectors (the same reads the benchmark measures).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse

from billing.errors import InvalidInput
from billing.listing import export_csv, invalid_filters, keyset_page, list_url, page_size, render_list
from billing.roles import SUPPORT, role_required
from orders import selectors
from orders.filters import ORDER_SORTS, OrderFilter, order_sort
from orders.models import Order

CSV_COLUMNS = [
    ("id", "pk"),
    ("number", "number"),
    ("state", "state"),
    ("billing_status", "billing_status"),
    ("payment_status", "payment_status"),
    ("customer", "customer__name"),
    ("customer_email", "customer__email"),
    ("provider", "provider__name"),
    ("currency", "currency"),
    ("invoicing", "invoicing"),
    ("placed_at", "placed_at"),
    ("invoiced_total", "invoiced_total"),
    ("paid_total", "paid_total"),
    ("balance_due", "balance_due"),
]
_TEXT_COLUMNS = {"customer", "customer_email", "provider"}


def _filtered(request: HttpRequest) -> OrderFilter:
    return OrderFilter(request.GET, queryset=Order.objects.select_related("customer", "provider"))


@role_required(SUPPORT)
def order_list(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    sort = order_sort(filterset)
    totals = page = None
    if filterset.is_valid():
        totals = selectors.order_totals(filters=filterset)
        page = keyset_page(
            request,
            selectors.order_list(filters=filterset),
            ORDER_SORTS[sort],
            per_page=page_size(request),
            total_count=totals.count,
        )
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort": sort,
        "sort_param": sort if request.GET.get("sort") == sort else "",
        "sorts": ORDER_SORTS,
        "export_url": list_url(request, path=reverse("orders:export"), drop=("per_page",)),
        "clear_url": reverse("orders:list"),
        "noun": "orders",  # the list skeleton's totals label and pagination
    }
    return render_list(request, "orders/list.html", "orders/_list_results.html", context)


@role_required(SUPPORT)
def order_export(request: HttpRequest) -> HttpResponseBase:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    try:
        orders = selectors.order_list(filters=request.GET)
    except InvalidInput as error:
        return invalid_filters(error)
    return export_csv(orders, CSV_COLUMNS, filename="orders", text_columns=_TEXT_COLUMNS)
