"""Reconciliation reads shared by the dashboard, the runs pages and the tests."""

from __future__ import annotations

from django.db.models import QuerySet

from reconciliation.models import ReconciliationDifference, ReconciliationRun


def latest_run() -> ReconciliationRun | None:
    """The most recent run (possibly still running), for the dashboard; None before the first."""
    return ReconciliationRun.objects.order_by("-started_at", "-id").first()


def recent_runs() -> QuerySet[ReconciliationRun]:
    return ReconciliationRun.objects.order_by("-started_at", "-id")


def run_differences(run: ReconciliationRun) -> QuerySet[ReconciliationDifference]:
    return run.differences.order_by("object_kind", "object_id", "id")
