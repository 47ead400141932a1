"""Support issues a statement from an account, reads it as sent, sends it and downloads its PDF, in Chromium.

The stored body is framed under its own narrow policy (inline style only): the browser is the
one place that proves its styles apply and nothing trips the staff page's strict CSP.
"""

import pytest
from django.core import mail
from playwright.sync_api import expect

from documents.models import Delivery, Document
from tests.browser.helpers import login
from tests.support.dataset import PASSWORD, build_ledger, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_issues_reads_sends_and_downloads_a_statement(page, live_server, screenshot):
    support, *_ = make_staff()
    build_ledger()

    login(page, live_server, support.username, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Collections").click()
    acme_row = page.locator("#account-table tbody tr", has_text="Acme Cleaning").filter(has_text="Ada Lovelace")
    acme_row.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("button", name="Statement").click()

    document = Document.objects.get()
    expect(page.get_by_role("heading", name=f"Statement of account {document.number}")).to_be_visible()
    body = page.frame_locator("iframe.document-frame")
    expect(body.get_by_role("heading", name=f"Statement of account {document.number}")).to_be_visible()
    expect(body.locator("table.lines")).to_contain_text("Closing balance")
    # Its own <style> applied inside the frame: table cells are padded, headings sized.
    assert body.locator("th").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(242, 242, 242)"
    screenshot(page, "document-statement")

    expect(page.get_by_label("Send to")).to_have_value("ada@analytical.test")
    page.get_by_role("button", name=f"Send {document.number} to this address").click()
    expect(page.locator("#delivery-table tbody tr")).to_have_count(1)
    expect(page.locator("#delivery-table")).to_contain_text("Sent")
    assert Delivery.objects.get().result == "ok" and mail.outbox[0].body == document.html

    with page.expect_download() as download:
        page.get_by_role("button", name="Download PDF").click()
    assert download.value.suggested_filename == f"{document.number}.pdf"
    page.goto(f"{live_server.url}/documents/")
    expect(page.locator("#document-table tbody tr")).to_have_count(1)
    expect(page.locator("#document-table")).to_contain_text("Delivered")
    # And the customer's page shows it among the documents sent, delivered.
    page.locator("#document-table").get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Documents sent")).to_be_visible()
    sent = page.locator("#customer-documents tbody tr", has_text=document.number)
    expect(sent).to_contain_text("Sent")
    expect(sent).to_contain_text("ada@analytical.test")
