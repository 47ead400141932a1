"""The runs pages, through the Django test client."""

import re

import pytest
from django.urls import reverse

from reconciliation.models import ReconciliationDifference, ReconciliationRun
from reconciliation.reconcile import run_reconciliation
from reconciliation.selectors import latest_run
from tests.factories import make_invoice
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted_run(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [invoice.pk])
    return run_reconciliation(fix=True), invoice


def test_runs_list_and_detail_show_the_differences(client, drifted_run):
    run, invoice = drifted_run
    client.force_login(user_with_role("support"))

    page = client.get(reverse("reconciliation:runs"))
    assert page.status_code == 200
    assert f'href="{run.get_absolute_url()}"' in page.content.decode()
    assert "Drift fixed" in page.content.decode()

    detail = client.get(reverse("reconciliation:run", args=[run.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert f"Reconciliation run {run.pk}" in html
    assert invoice.number in html and "payment_status" in html and "unpaid" in html
    assert detail.context["differences"][0] == ReconciliationDifference.objects.get(field="payment_status")


def test_latest_run_selector(drifted_run):
    run, _ = drifted_run
    assert latest_run() == run
    newer = run_reconciliation()
    assert latest_run() == newer


def test_empty_list_and_unknown_run(client, db):
    client.force_login(user_with_role("finance"))
    assert "No reconciliation has run yet" in client.get(reverse("reconciliation:runs")).content.decode()
    assert client.get(reverse("reconciliation:run", args=[999])).status_code == 404


def test_login_and_a_role_are_required(client, db):
    ReconciliationRun.objects.create(outcome="clean", finished_at="2026-11-22T00:00:00Z")
    response = client.get(reverse("reconciliation:runs"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(user_with_role(None))
    assert client.get(reverse("reconciliation:runs")).status_code == 403


def test_dashboard_shows_the_latest_run(client, drifted_run):
    run, _ = drifted_run
    client.force_login(user_with_role("support"))
    html = client.get(reverse("dashboard")).content.decode()
    assert "Last reconciliation" in html and "Drift fixed" in html
    assert response_has_badge(html, run)


def response_has_badge(html: str, run) -> bool:
    return re.search(rf'<span class="badge [a-z_]+">{re.escape(run.get_outcome_display())}</span>', html) is not None
