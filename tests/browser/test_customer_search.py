"""Support finds a customer from the navigation's search box and reads the customer page, in Chromium."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login
from tests.browser.test_accessibility import axe_violations
from tests.support.dataset import PASSWORD, build_ledger, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_searches_picks_a_customer_and_reads_the_history(page, live_server, screenshot):
    support, *_ = make_staff()
    ledger = build_ledger()
    ada = ledger.ada

    login(page, live_server, support.username, PASSWORD)
    box = page.get_by_role("search", name="Search everything").get_by_label("Search")
    box.fill("lovelace")  # htmx asks as you type
    dropdown = page.locator("#search-dropdown")
    expect(dropdown.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "search-dropdown")

    # Keyboard: Down reaches the first match, Enter opens it.
    box.press("ArrowDown")
    expect(dropdown.get_by_role("link", name="Ada Lovelace")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/customers/{ada.pk}/")
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    # Her four invoices and her payments are in the history, each line with a balance.
    history = page.locator("#history-table tbody tr")
    expect(history.filter(has_text="Invoice issued")).to_have_count(4)
    expect(page.locator("#customer-accounts tbody tr")).to_have_count(2)  # Acme and Bolt, EUR
    screenshot(page, "customer-page")

    # Filter the history to invoices: only invoice lines remain.
    page.get_by_label("Invoice issued").check()
    page.get_by_role("button", name="Filter").click()
    expect(history).to_have_count(4)
    expect(history.filter(has_text="Payment received")).to_have_count(0)

    # Escape closes the dropdown; the full results page works as a plain form.
    box.fill("ada")
    expect(dropdown.get_by_role("link").first).to_be_visible()
    box.press("Escape")
    expect(dropdown.get_by_role("link")).to_have_count(0)
    box.fill("ada")  # Chromium empties a search field on Escape
    box.press("Enter")
    page.wait_for_url(lambda url: url.endswith("/search/?q=ada"))
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    expect(page.locator("#search-results").get_by_role("link", name="Ada Lovelace")).to_be_visible()
