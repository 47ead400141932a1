"""The dashboard: each work queue's count and money per currency, linked to its queue; the last reconciliation."""

import datetime
import sys
import types
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.support.helpers import row_ids

pytestmark = pytest.mark.django_db

D = Decimal


def queues(response) -> dict:
    context = response.context
    found = {q.key: q for q in [*context["invoice_queues"], *context["payment_queues"], context["collections"]]}
    return {key: (q.count, q.sums) for key, q in found.items()}


def test_counts_and_sums_per_queue(as_support, ledger):
    got = queues(as_support.get(reverse("dashboard")))
    assert got == {
        "overdue": (4, [("EUR", D("250.00")), ("JPY", D("10000.00")), ("USD", D("120.00"))]),
        "unpaid": (5, [("EUR", D("440.00")), ("JPY", D("10000.00")), ("USD", D("120.00"))]),
        "partially_paid": (1, [("EUR", D("150.00"))]),
        "overpaid": (1, [("EUR", D("20.00"))]),  # by how much it is over
        "unallocated": (1, [("USD", D("40.00"))]),
        "partially_allocated": (1, [("EUR", D("30.00"))]),
        "overallocated": (1, [("EUR", D("15.00"))]),
        "owing": (5, [("EUR", D("590.00")), ("JPY", D("10000.00")), ("USD", D("120.00"))]),
    }


def test_each_figure_links_to_a_queue_showing_the_same_rows(as_support, ledger):
    response = as_support.get(reverse("dashboard"))
    context = response.context
    for queue in [*context["invoice_queues"], *context["payment_queues"], context["collections"]]:
        assert f'href="{queue.url}"' in response.content.decode().replace("&amp;", "&")
        assert len(row_ids(as_support.get(queue.url))) == queue.count, queue.key


def test_money_is_formatted_by_currency(as_support, ledger):
    body = as_support.get(reverse("dashboard")).content.decode()
    assert "10,000 JPY" in body and "250.00 EUR" in body


def test_without_reconciliation_app_says_no_run(as_support, ledger):
    body = as_support.get(reverse("dashboard")).content.decode()
    assert "No reconciliation has run yet." in body


def test_shows_the_last_reconciliation_run(as_support, ledger, monkeypatch):
    run = types.SimpleNamespace(
        started_at=timezone.now() - datetime.timedelta(hours=3),
        finished_at=timezone.now() - datetime.timedelta(hours=2, minutes=58),
        outcome="drift",
        drift_found=2,
        drift_fixed=2,
        objects_checked=123456,
    )
    package = types.ModuleType("reconciliation")
    selectors = types.ModuleType("reconciliation.selectors")
    selectors.latest_run = lambda: run
    monkeypatch.setitem(sys.modules, "reconciliation", package)
    monkeypatch.setitem(sys.modules, "reconciliation.selectors", selectors)
    from django.apps import apps

    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name == "reconciliation" or real(name))
    body = as_support.get(reverse("dashboard")).content.decode()
    assert 'class="badge drift"' in body and "123,456" in body and "No reconciliation" not in body
