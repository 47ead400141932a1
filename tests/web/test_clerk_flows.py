"""What clerks tripped over (issue 8): void invoices that seemed to owe, badges that contradicted
the state, forms that booked twice. Through the real views, on the shared small ledger."""

import importlib
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from invoices.models import Invoice
from reconciliation.drift import find_drift
from reconciliation.models import ObjectKind
from tests.web.helpers import csv_rows

pytestmark = pytest.mark.django_db

D = Decimal
HEAD = re.compile(r'<div class="page-head">(.*?)</div>', re.S)


def head(response) -> str:
    assert response.status_code == 200, response.status_code
    return HEAD.search(response.content.decode()).group(1)


# --- 1. A void invoice owes nothing ------------------------------------------------------------


def test_a_void_invoice_has_no_balance_due_and_no_payment_badge(as_support, ledger):
    void = ledger.invoices["bob_void"]
    assert void.state == "void" and void.balance_due == D("0.00")
    response = as_support.get(void.get_absolute_url())
    top = head(response)
    assert '<span class="badge void"' in top and "Unpaid" not in top and "badge unpaid" not in top
    assert re.search(r'id="balance-due">0\.00 EUR<', response.content.decode())


def test_the_void_list_totals_show_nothing_due(as_support, ledger):
    totals = as_support.get(reverse("invoices:list") + "?state=void").context["totals"]
    assert [(r["currency"], r["count"], r["total"], r["balance_due"]) for r in totals.by_currency] == [
        ("EUR", 1, D("60.00"), D("0.00")),
    ]


def test_the_all_states_csv_does_not_overstate_receivables(as_support, ledger):
    rows = csv_rows(as_support.get(reverse("invoices:export") + "?state=all"))
    by_number = {row["number"]: row for row in rows}
    assert D(by_number[ledger.invoices["bob_void"].number]["balance_due"]) == D("0.00")
    owed = sum(D(row["balance_due"]) for row in rows if row["currency"] == "EUR")
    expected = sum(i.balance_due for i in Invoice.objects.filter(currency="EUR").exclude(state="void"))
    assert owed == expected


def test_reconciliation_agrees_that_a_void_invoice_owes_nothing(ledger):
    assert find_drift(ObjectKind.INVOICE) == {}


def test_the_migration_fixes_old_void_rows_and_the_kept_totals_follow(as_support, ledger):
    """Void rows written under the old rule (balance_due = net - paid) are set to 0 by the migration;
    the queue-total trigger appends the deltas, so the kept list totals follow."""
    void = ledger.invoices["bob_void"]
    migration = importlib.import_module("invoices.migrations.0006_void_owes_nothing")
    fix = next(op for op in migration.Migration.operations if hasattr(op, "sql"))
    with connection.cursor() as cursor:  # back to the state before the migration (rolled back after the test)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events before ALTER TABLE
        cursor.execute("ALTER TABLE invoices_invoice DROP CONSTRAINT invoice_balance_due_consistent")
        cursor.execute(fix.reverse_sql)
    assert Invoice.objects.get(pk=void.pk).balance_due == D("60.00")
    assert as_support.get(reverse("invoices:list") + "?state=void").context["totals"].by_currency[0]["balance_due"] == D("60.00")
    with connection.cursor() as cursor:
        cursor.execute(fix.sql)
    assert Invoice.objects.get(pk=void.pk).balance_due == D("0.00")
    assert as_support.get(reverse("invoices:list") + "?state=void").context["totals"].by_currency[0]["balance_due"] == D("0.00")


# --- 6. Canceled and charged-back payments show their state --------------------------------------


def test_a_canceled_payment_shows_its_state_not_a_green_fully_allocated(as_support, ledger):
    canceled = ledger.payments["cy_canceled"]
    assert (canceled.state, canceled.allocation_status) == ("canceled", "fully_allocated")
    top = head(as_support.get(canceled.get_absolute_url()))
    assert "Canceled" in top and "Fully allocated" not in top
    page = as_support.get(reverse("payments:list") + "?state=canceled").content.decode()
    row = re.search(rf'<tr data-id="{canceled.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "Canceled" in row and "Fully allocated" not in row


def test_a_charged_back_payment_shows_its_state_and_still_says_overallocated(as_support, ledger):
    charged = ledger.payments["bob_over"]
    assert (charged.state, charged.allocation_status) == ("charged_back", "overallocated")
    top = head(as_support.get(charged.get_absolute_url()))
    assert "Charged back" in top and "Overallocated" in top  # work left: a clerk decides who loses the money


def test_a_settled_payment_still_shows_its_allocation_status(as_support, ledger):
    top = head(as_support.get(ledger.payments["ada_full"].get_absolute_url()))
    assert "Fully allocated" in top
