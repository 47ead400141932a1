"""A finance clerk in real Chromium: register a cart of two workshops for a customer, one of them
full, then see the order, the wait list and the registration's timeline."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from invoices.models import Invoice
from orders.models import Order
from registrations.models import Registration
from registrations.services import register
from tests.browser.conftest import save_screenshot as screenshot
from tests.browser.helpers_actions import finance_clerk, sign_in
from tests.factories import CustomerFactory, ProviderFactory
from tests.registrations.helpers import make_workshop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_register_a_cart_for_a_customer_through_the_page(live_server, page):
    clerk = finance_clerk()
    provider = ProviderFactory(name="Bake School", code="BAKE")
    bread = make_workshop(provider, title="Sourdough", seats=1, price="120.00")
    make_workshop(provider, title="Knife skills", seats=8, price="80.00")
    register(customer=CustomerFactory(name="Grace Hopper"), workshops=[bread], by=None)  # the last seat
    ada = CustomerFactory(name="Ada Lovelace", email="ada@analytical.test")

    sign_in(page, live_server, clerk)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workshops").click()
    rows = page.locator("#workshops tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(f"#workshops tr[data-id='{bread.pk}'] [data-col=seats]")).to_contain_text("1 / 1")
    page.get_by_role("link", name="Register a cart…").click()

    page.get_by_label("Find a customer").fill("Ada")
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Customer", exact=False).and_(page.locator("select")).select_option(str(ada.pk))
    page.get_by_label("Sourdough").check()
    page.get_by_label("Knife skills").check()
    screenshot(page, "registrations-cart")
    page.get_by_role("button", name="Register").click()

    order = Order.objects.get(customer=ada)
    page.wait_for_url(f"{live_server.url}/orders/{order.pk}/#registrations")
    expect(page.locator(".message.success")).to_contain_text("1 seat confirmed and invoiced (80.00 EUR)")
    expect(page.locator(".message.success")).to_contain_text("Sourdough is full: wait-listed at position 1")
    invoice = Invoice.objects.get(order=order)
    assert invoice.total == D("80.00")
    expect(page.locator("#order-invoices")).to_contain_text(invoice.number)
    expect(page.locator("#order-registrations")).to_contain_text("Wait-listed (position 1)")

    waiting = Registration.objects.get(customer=ada, workshop=bread)
    page.locator("#order-registrations").get_by_role("link", name="Sourdough").click()
    page.wait_for_url(f"{live_server.url}/workshops/{bread.pk}/")
    expect(page.locator("#waitlist tbody tr")).to_have_count(1)
    expect(page.locator("#waitlist")).to_contain_text("Ada Lovelace")
    expect(page.locator("#waitlist-length")).to_have_text("1")
    page.locator("#waitlist").get_by_role("link", name=str(waiting), exact=True).click()
    expect(page.locator("#registration-status")).to_contain_text("Wait-listed · position 1")
    expect(page.locator(".timeline")).to_contain_text("full: wait-listed at position 1, nothing charged")
    screenshot(page, "registration-timeline")
