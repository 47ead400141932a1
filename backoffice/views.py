"""The dashboard: every work queue with its count and money, the last reconciliation, shortcuts."""

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from backoffice.dashboard import collections_queue, invoice_queues, latest_reconciliation_run, payment_queues
from billing.roles import SUPPORT, role_required


@role_required(SUPPORT)
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    context = {
        "today": today,
        "invoice_queues": invoice_queues(today),
        "payment_queues": payment_queues(),
        "collections": collections_queue(),
        "reconciliation_installed": apps.is_installed("reconciliation"),
        "run": latest_reconciliation_run(),
    }
    return render(request, "dashboard.html", context)
