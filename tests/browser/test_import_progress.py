"""A clerk uploads a statement and watches it import: the progress page counts live (htmx
polling a fragment every second), then turns into the result page, in real Chromium.

The worker's job is run by the test (intake.background.run_import), as a worker would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from intake.background import run_import
from intake.models import ImportStatus, StatementImport
from tests.browser.helpers import login
from tests.browser.test_accessibility import axe_violations
from tests.factories import CustomerFactory, ProviderFactory, make_invoice
from tests.support.dataset import PASSWORD, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLES = Path(__file__).resolve().parent.parent / "intake" / "samples"


def test_the_progress_page_counts_live_then_shows_the_result(page, live_server):
    support, finance, _, _ = make_staff()
    kilo = CustomerFactory(name="Kilo KK", reference="C-00077")
    make_invoice(customer=kilo, provider=ProviderFactory(code="ACME"), total="5000", currency="JPY")
    login(page, live_server, finance.username, PASSWORD)

    page.goto(live_server.url + "/imports/")
    expect(page.get_by_text("No statement has been imported yet.")).to_be_visible()
    page.get_by_label("Statement file").set_input_files(str(SAMPLES / "mixed.csv"))
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("CSV layout").select_option("settle")
    page.get_by_role("button", name="Import").click()

    statement_import = StatementImport.objects.get()
    page.wait_for_url(f"**/imports/{statement_import.pk}/")
    expect(page.get_by_role("status").filter(has_text="Waiting for a worker to import mixed.csv")).to_be_visible()
    assert axe_violations(page) == []

    # A worker has started: the page follows without a reload.
    StatementImport.objects.filter(pk=statement_import.pk).update(status=ImportStatus.RUNNING, total=7, done=3)
    expect(page.get_by_text("Importing mixed.csv: 3 of 7 entries")).to_be_visible(timeout=5000)
    progress = page.get_by_role("progressbar", name="Importing mixed.csv: 3 of 7 entries")
    expect(progress).to_have_attribute("value", "3")
    expect(progress).to_have_attribute("max", "7")
    assert axe_violations(page) == []

    StatementImport.objects.filter(pk=statement_import.pk).update(status=ImportStatus.QUEUED, total=None, done=0)
    run_import(statement_import.pk)
    expect(page.get_by_role("heading", name="Imported mixed.csv")).to_be_visible(timeout=5000)
    expect(page.get_by_text("1 recorded, 3 unidentified, 1 needs review, 2 rejected.")).to_be_visible()
    expect(page.get_by_role("heading", name="Needing a person (6)")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_count(0)
    assert axe_violations(page) == []
    page.get_by_role("region", name="Imported entries").get_by_role("link", name="Payment P-").first.click()
    expect(page).to_have_url(re.compile(r"/payments/\d+/$"))

    # Support reads the list and the import, without the upload form.
    page.context.clear_cookies()
    login(page, live_server, support.username, PASSWORD)
    page.goto(live_server.url + "/imports/")
    expect(page.get_by_label("Statement file")).to_have_count(0)
    page.get_by_role("link", name=f"#{statement_import.pk}").click()
    expect(page.get_by_role("heading", name="Imported mixed.csv")).to_be_visible()
