"""The plan list (filters, totals, keyset pages) with its CSV export, and the waiver report with its CSV.

Both only read, through plans.listings (the same reads the benchmark measures).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone

from billing.errors import InvalidInput
from billing.listing import (
    csv_text,
    export_csv,
    invalid_filters,
    keyset_page,
    list_url,
    page_size,
    render_list,
    stream_csv,
)
from billing.roles import SUPPORT, role_required
from plans import listings
from plans.filters import PLAN_ORDERING, PlanFilter, WaiverFilter
from plans.models import Plan

CSV_COLUMNS = [
    ("id", "pk"),
    ("state", "state"),
    ("overdue", "is_overdue"),
    ("customer", "customer__name"),
    ("customer_email", "customer__email"),
    ("provider", "provider__name"),
    ("currency", "currency"),
    ("principal", "principal"),
    ("installments", "installment_count"),
    ("every_months", "every_months"),
    ("first_due_date", "first_due_date"),
    ("issue_date", "issue_date"),
    ("outstanding", "outstanding"),
    ("description", "description"),
]
_TEXT_COLUMNS = {"customer", "customer_email", "provider", "description"}

#: The waiver report shows this many rows; the CSV has them all.
WAIVERS_SHOWN = 500


@role_required(SUPPORT)
def plan_list(request: HttpRequest) -> HttpResponse:
    filterset = PlanFilter(request.GET, queryset=listings.all_plans())
    totals = page = None
    if filterset.is_valid():
        totals = listings.plan_totals(filters=filterset)
        page = keyset_page(
            request,
            listings.plan_list(filters=filterset),
            PLAN_ORDERING,
            per_page=page_size(request),
            total_count=totals.count,
        )
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort_param": "",
        "export_url": list_url(request, path=reverse("plans:export"), drop=("per_page",)),
        "clear_url": reverse("plans:list"),
        "noun": "plans",
        "today": timezone.localdate(),
    }
    return render_list(request, "plans/list.html", "plans/_list_results.html", context)


@role_required(SUPPORT)
def plan_export(request: HttpRequest) -> HttpResponseBase:
    """Exactly the rows the list shows for the same query string, every page, in its order."""
    try:
        plans = listings.plan_list(filters=request.GET)
    except InvalidInput as error:
        return invalid_filters(error)
    return export_csv(plans, CSV_COLUMNS, filename="plans", text_columns=_TEXT_COLUMNS)


@role_required(SUPPORT)
def waiver_report(request: HttpRequest) -> HttpResponse:
    filterset = WaiverFilter(request.GET, queryset=Plan.objects.all())
    rows = None
    if filterset.is_valid():
        rows = listings.waiver_rows(filters=filterset)
    context = {
        "filter": filterset,
        "rows": rows[:WAIVERS_SHOWN] if rows is not None else None,
        "count": len(rows) if rows is not None else 0,
        "shown": WAIVERS_SHOWN,
        "sort_param": "",
        "export_url": list_url(request, path=reverse("plans:waivers_export")),
        "clear_url": reverse("plans:waivers"),
    }
    return render_list(request, "plans/waivers.html", "plans/_waiver_results.html", context)


WAIVER_CSV_HEADER = [
    "customer",
    "provider",
    "plan",
    "installment",
    "installment_sequence",
    "penalty_invoice",
    "currency",
    "penalty_charged",
    "waived",
    "kind",
    "by",
    "at",
    "reason",
]


@role_required(SUPPORT)
def waiver_export(request: HttpRequest) -> HttpResponseBase:
    try:
        rows = listings.waiver_rows(filters=request.GET)
    except InvalidInput as error:
        return invalid_filters(error)
    lines = (
        [
            csv_text(row.customer.name),
            csv_text(row.provider.name),
            row.plan_id,
            row.installment.number,
            row.installment.plan_sequence,
            row.penalty.number if row.penalty is not None else "",
            row.currency,
            row.penalty_charged,
            "" if row.waived is None else row.waived,
            row.kind,
            csv_text(row.by),
            timezone.localtime(row.at).isoformat(),
            csv_text(row.reason),
        ]
        for row in rows
    )
    return stream_csv(f"penalty-waivers-{timezone.localdate().isoformat()}.csv", WAIVER_CSV_HEADER, lines)
