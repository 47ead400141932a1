"""A finance clerk in real Chromium: ship 8 of 10, invoice the 8, watch the order's statuses move."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from invoices.models import Invoice
from orders.models import Order
from orders.services import create_order
from tests.browser.conftest import save_screenshot as screenshot
from tests.browser.helpers_actions import finance_clerk, sign_in
from tests.factories import CustomerFactory, ProviderFactory, make_payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal


def test_invoice_a_partial_shipment_and_see_the_statuses(live_server, page):
    clerk = finance_clerk()
    customer = CustomerFactory(name="Ada Lovelace", email="ada@analytical.test")
    order = create_order(
        customer=customer,
        provider=ProviderFactory(name="Acme Cleaning", code="ACME"),
        currency="EUR",
        lines=[("Chair", 10, "25.00")],
        invoicing="delivered",
        by=clerk,
    )

    sign_in(page, live_server, clerk)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    page.get_by_label("Billing status").select_option("not_invoiced")
    expect(page.locator("#order-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=order.number).click()

    page.wait_for_url(f"{live_server.url}/orders/{order.pk}/")
    expect(page.locator("#billing-status")).to_have_text("Not invoiced")
    expect(page.locator("#payment-status")).to_have_text("Unpaid")
    expect(page.get_by_role("link", name="Invoice…")).to_have_count(0)  # nothing delivered, nothing to invoice

    page.get_by_role("link", name="Record delivery…").click()
    page.get_by_label("Quantity to deliver of line 1").fill("8")
    page.get_by_role("button", name="Record delivery").click()
    page.wait_for_url(f"{live_server.url}/orders/{order.pk}/")
    expect(page.locator(".message.success")).to_contain_text(f"Delivery on order {order.number} recorded.")
    line = page.locator("#order-lines tbody tr").first
    expect(line.locator("[data-col=delivered]")).to_have_text("8")
    expect(line.locator("[data-col=invoiceable]")).to_have_text("8")

    page.get_by_role("link", name="Invoice…").click()
    quantity = page.get_by_label("Quantity to invoice of line 1")
    expect(quantity).to_have_value("8")
    quantity.fill("9")  # more than was shipped: the service's message, nothing written
    page.get_by_role("button", name="Invoice these quantities").click()
    expect(page.get_by_role("alert")).to_contain_text("has 8 left to invoice; you asked for 9.")
    assert not Invoice.objects.filter(order=order).exists()
    page.get_by_label("Quantity to invoice of line 1").fill("8")
    screenshot(page, "order-invoice-form")
    page.get_by_role("button", name="Invoice these quantities").click()

    page.wait_for_url(f"{live_server.url}/orders/{order.pk}/")
    invoice = Invoice.objects.get(order=order)
    expect(page.locator(".message.success")).to_contain_text(f"Invoice {invoice.number} of 200.00 EUR issued")
    expect(page.locator("#billing-status")).to_have_text("Partially invoiced")
    expect(page.locator("#payment-status")).to_have_text("Unpaid")
    expect(page.locator("#invoiced-total")).to_have_text("200.00 EUR")
    expect(line.locator("[data-col=invoiced]")).to_have_text("8")
    expect(line.locator("[data-col=invoiceable]")).to_have_text("0")
    expect(page.locator("#order-invoices")).to_contain_text(invoice.number)
    expect(page.locator(".timeline")).to_contain_text("Billing status: Not invoiced → Partially invoiced")
    screenshot(page, "order-detail")

    # The rest ships and is invoiced with the deposit the customer paid: invoiced and paid, closed.
    make_payment(customer=customer, amount="50.00")
    page.get_by_role("link", name="Record delivery…").click()
    page.get_by_label("Quantity to deliver of line 1").fill("2")
    page.get_by_role("button", name="Record delivery").click()
    page.get_by_role("link", name="Invoice…").click()
    page.get_by_label("Apply the customer's unallocated payments").check()
    page.get_by_role("button", name="Invoice everything invoiceable").click()
    page.wait_for_url(f"{live_server.url}/orders/{order.pk}/")
    expect(page.locator("#billing-status")).to_have_text("Invoiced")
    expect(page.locator("#payment-status")).to_have_text("Partially paid")
    expect(page.locator("#balance-due")).to_have_text("200.00 EUR")
    expect(page.locator("#order-payments tbody tr")).to_have_count(1)
    order.refresh_from_db()
    assert (order.billing_status, order.payment_status, order.paid_total) == ("invoiced", "partially_paid", D("50"))

    # The invoice page leads back to the order.
    page.get_by_role("link", name=invoice.number).first.click()
    expect(page.locator("#invoice-order")).to_have_text(order.number)
    assert Order.objects.count() == 1
