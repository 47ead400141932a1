"""Minimal list views over the canonical selectors, measured until the real views land.

They do what a list view must do, and no more: parse the filters, one query for the
count and per-currency totals, one for the page's rows (with customer and provider),
one for the collections aging, and render an HTML table through the template engine.
The real views should call the selectors the same way: totals from the filters (so
the queue-total tables can answer), the page from the queryset.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template import engines
from django.urls import include, path

from billing.errors import BillingError
from billing.money import format_money
from billing.queues import page_number, page_of
from dunning.selectors import attach_aging, collections_queue, collections_totals
from invoices.selectors import invoice_queue, invoice_queue_totals
from payments.selectors import payment_queue, payment_queue_totals

PAGE = engines["django"].from_string(
    """<!doctype html><html><body>
<h1>{{ title }}</h1>
<p>{{ page.count }} rows{% for currency, sums in totals.by_currency.items %};
 {{ currency }}:{% for name, value in sums.items %} {{ name }} {{ value }}{% endfor %}{% endfor %}</p>
<table>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table>
<p>Page {{ page.number }} of {{ page.num_pages }}</p>
</body></html>"""
)


def _render(request, *, title, totals, page, rows) -> HttpResponse:
    return HttpResponse(PAGE.render({"title": title, "totals": totals, "page": page, "rows": rows}, request))


def invoice_list(request: HttpRequest) -> HttpResponse:
    try:
        queryset = invoice_queue(request.GET).select_related("customer", "provider")
        number = page_number(request.GET.get("page"))
        totals = invoice_queue_totals(request.GET)
    except BillingError as error:
        return HttpResponseBadRequest(str(error))
    try:
        page = page_of(queryset, number=number, count=totals.count)
    except BillingError as error:
        return HttpResponseBadRequest(str(error))
    rows = [
        (
            invoice.number or f"Draft #{invoice.pk}",
            invoice.customer.name,
            invoice.provider.name,
            invoice.due_date,
            format_money(invoice.total, invoice.currency),
            format_money(invoice.balance_due, invoice.currency),
            invoice.get_payment_status_display(),
        )
        for invoice in page.rows
    ]
    return _render(request, title="Invoices", totals=totals, page=page, rows=rows)


def payment_list(request: HttpRequest) -> HttpResponse:
    try:
        queryset = payment_queue(request.GET).select_related("customer")
        number = page_number(request.GET.get("page"))
        totals = payment_queue_totals(request.GET)
    except BillingError as error:
        return HttpResponseBadRequest(str(error))
    try:
        page = page_of(queryset, number=number, count=totals.count)
    except BillingError as error:
        return HttpResponseBadRequest(str(error))
    rows = [
        (
            payment.display_number,
            payment.customer.name,
            payment.received_at,
            format_money(payment.amount, payment.currency),
            format_money(payment.unallocated, payment.currency),
            payment.get_allocation_status_display(),
        )
        for payment in page.rows
    ]
    return _render(request, title="Payments", totals=totals, page=page, rows=rows)


def collections(request: HttpRequest) -> HttpResponse:
    try:
        queryset = collections_queue(order=request.GET.get("order") or "balance")
        number = page_number(request.GET.get("page"))
    except BillingError as error:
        return HttpResponseBadRequest(str(error))
    totals = collections_totals(queryset)
    try:
        page = page_of(queryset, number=number, count=totals.count)
    except BillingError as error:
        return HttpResponseBadRequest(str(error))
    accounts = attach_aging(page.rows)
    rows = [
        (
            account.customer.name,
            account.provider.name,
            format_money(account.balance_due, account.currency),
            account.open_invoice_count,
            account.oldest_due_date,
            *(format_money(getattr(account.aging, bucket), account.currency) for bucket in (
                "current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")),
        )
        for account in accounts
    ]
    return _render(request, title="Collections", totals=totals, page=page, rows=rows)


harness_patterns = (
    [
        path("invoices/", invoice_list, name="invoice_list"),
        path("payments/", payment_list, name="payment_list"),
        path("collections/", collections, name="collections"),
    ],
    "bench",
)


def urlconf_with_harness(project_urlconf: str) -> list:
    """The project's URLs, plus the harness views at /invoices/, /payments/, /collections/
    unless the project already serves those paths (then the harness sits under /bench/)."""
    from importlib import import_module

    project = list(import_module(project_urlconf).urlpatterns)
    taken = {str(getattr(p, "pattern", "")) for p in project}
    prefix = "bench/" if {"invoices/", "payments/", "collections/"} & taken else ""
    return [*project, path(prefix, include(harness_patterns))]
