"""Reconciliation pages: the runs and what each found. Read-only; runs start from cron."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from billing.roles import SUPPORT, role_required
from reconciliation import selectors
from reconciliation.models import ReconciliationRun

RUNS_PER_PAGE = 50
DIFFERENCES_PER_PAGE = 200


@role_required(SUPPORT)
def run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.recent_runs(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "reconciliation/run_list.html", {"page": page, "runs": page.object_list})


@role_required(SUPPORT)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ReconciliationRun, pk=pk)
    page = Paginator(selectors.run_differences(run), DIFFERENCES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "reconciliation/run_detail.html", {"run": run, "page": page, "differences": page.object_list}
    )
