"""A support clerk chases a customer's overdue invoices, end to end in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.support.dataset import PASSWORD, build_ledger, days, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row_numbers(page, table_id: str) -> list[str]:
    return page.locator(f"#{table_id} tbody tr td:first-child").all_inner_texts()


def test_support_finds_overdue_invoices_and_logs_a_call(page, live_server, screenshot):
    support, *_ = make_staff()
    ledger = build_ledger()
    overdue = [ledger.invoices["ada_overdue_30"], ledger.invoices["ada_partial_75"]]

    login(page, live_server, support.username, PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("[data-queue=overdue] .value")).to_have_text("4")
    screenshot(page, "dashboard")

    # Invoices: filter as you type (htmx), then tick "Overdue only".
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices", exact=True).click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    page.get_by_label("Customer").fill("lovelace")
    expect(page.locator("#invoice-table tbody tr")).to_have_count(4)  # her open ones: 2 overdue, 1 not due, 1 paid
    page.get_by_label("Overdue only").check()
    expect(page.locator("#invoice-table tbody tr")).to_have_count(2)
    assert sorted(row_numbers(page, "invoice-table")) == sorted(i.number for i in overdue)
    expect(page.locator(".summary")).to_contain_text("2 invoices")
    expect(page.locator(".summary")).to_contain_text("due 250.00 EUR")
    assert "customer=lovelace" in page.url and "overdue=on" in page.url  # the address bar keeps the filters
    screenshot(page, "invoices-filtered")

    # Collections: Ada's account with Acme, then log a promise to pay.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Collections").click()
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    screenshot(page, "collections-queue")
    acme_row = page.locator("#account-table tbody tr", has_text="Acme Cleaning").filter(has_text="Ada Lovelace")
    # The name opens the customer page; the provider opens the account (issue 11).
    acme_row.get_by_role("link", name="Acme Cleaning").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#account-invoices tbody tr")).to_have_count(2)

    # A dispute needs a word of explanation: the note is refused and nothing is lost.
    page.get_by_label("Disputed").check()
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("alert")).to_contain_text("The note was not saved")
    expect(page.locator(".note-form")).to_contain_text("Say what the customer disputes.")
    screenshot(page, "collections-account-error")

    page.get_by_label("Promised to pay").check()
    page.get_by_label("Promised payment date").fill(days(7).isoformat())
    page.get_by_label(re.compile("Promised amount")).fill("100.00")
    page.get_by_label("Note", exact=True).fill("Spoke to Ada; pays the overdue invoice next week.")
    page.get_by_role("button", name="Add note").click()

    expect(page.get_by_role("status")).to_contain_text("Note added: Promised to pay.")
    first_note = page.locator("#note-list li").first
    expect(first_note).to_contain_text("Promised to pay")
    expect(first_note).to_contain_text("100.00 EUR")
    expect(first_note).to_contain_text("pays the overdue invoice next week")
    screenshot(page, "collections-account")

    # The queue shows the latest note.
    page.get_by_role("link", name="Back to the queue").click()
    expect(
        page.locator("#account-table tbody tr", has_text="Acme Cleaning").filter(has_text="Ada Lovelace")
    ).to_contain_text("Promised to pay")

    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("To allocate")).click()
    expect(page.get_by_role("heading", name="Payments to allocate")).to_be_visible()
    expect(page.locator("#payment-table tbody tr")).to_have_count(3)
    screenshot(page, "payments-needs-work")
    page.get_by_role("link", name="All payments", exact=True).first.click()
    expect(page.locator("#payment-table tbody tr")).to_have_count(6)
    screenshot(page, "payments-list")
