"""A finance clerk in real Chromium: split a payment, refund, void a paid invoice."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from allocations.models import Allocation
from allocations.services import allocate
from tests.browser.conftest import save_screenshot as screenshot
from tests.browser.helpers_actions import finance_clerk, sign_in
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal
ISSUED = datetime.date(2026, 10, 1)


def pair_row(page, invoice):
    return page.locator("#pairs tbody tr", has=page.get_by_role("link", name=invoice.number, exact=True))


def test_split_one_payment_over_three_invoices(live_server, page):
    clerk = finance_clerk()
    customer = CustomerFactory(name="Ada Lovelace")
    acme, bolt = ProviderFactory(name="Acme Cleaning", code="ACME"), ProviderFactory(name="Bolt Repairs", code="BOLT")
    a = make_invoice(
        customer=customer, provider=acme, total="50.00", issue_date=ISSUED, due_date=datetime.date(2026, 11, 1)
    )
    b = make_invoice(
        customer=customer, provider=acme, total="30.00", issue_date=ISSUED, due_date=datetime.date(2026, 11, 5)
    )
    c = make_invoice(
        customer=customer, provider=bolt, total="70.00", issue_date=ISSUED, due_date=datetime.date(2026, 11, 9)
    )
    payment = make_payment(customer=customer, amount="120.00", reference="NL-2026-0042")

    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/payments/{payment.pk}/")
    expect(page.locator(".page-head .badge.unallocated")).to_have_text("Unallocated")
    page.get_by_role("link", name="Allocate…").click()

    # The rule found an exact match (50 + 70); the clerk knows better: 50, 30 and 40.
    amount = {inv: page.get_by_label(f"Amount for {inv.number}") for inv in (a, b, c)}
    expect(amount[a]).to_have_value("50.00")
    expect(amount[b]).to_have_value("")
    expect(amount[c]).to_have_value("70.00")
    expect(page.locator(".rule-reason").first).to_have_text("exact match of 2 invoices")
    expect(page.locator("#remaining strong")).to_have_text("0.00 EUR")

    amount[b].fill("30.00")  # the live counter (htmx) sees the payment over-split
    expect(page.locator("#remaining strong")).to_have_text("-30.00 EUR")
    expect(page.locator("#remaining")).to_contain_text("More than the payment has")
    amount[c].fill("40.00")
    expect(page.locator("#remaining strong")).to_have_text("0.00 EUR")
    screenshot(page, "allocate-form")

    page.get_by_role("button", name="Allocate", exact=True).dblclick()  # a double click posts once
    page.wait_for_url(f"{live_server.url}/payments/{payment.pk}/")
    expect(page.locator(".message.success")).to_contain_text("Allocated 120.00 EUR of payment")
    expect(page.locator(".page-head .badge.fully_allocated")).to_have_text("Fully allocated")
    expect(page.locator("#unallocated")).to_have_text("0.00 EUR")
    expect(pair_row(page, a).locator(".badge")).to_have_text("Paid")
    expect(pair_row(page, b).locator(".badge")).to_have_text("Paid")
    expect(pair_row(page, c).locator(".badge")).to_have_text("Partially paid")
    expect(page.locator(".timeline")).to_contain_text("Allocation status: Unallocated → Fully allocated")
    assert Allocation.objects.filter(payment=payment).count() == 3
    screenshot(page, "payment-detail")

    pair_row(page, c).get_by_role("link", name=c.number).click()
    page.wait_for_url(f"{live_server.url}/invoices/{c.pk}/")
    expect(page.locator(".page-head .badge.partially_paid")).to_have_text("Partially paid")
    expect(page.locator(".page-head .badge.overdue")).to_be_visible()
    expect(page.locator("#balance-due")).to_have_text("30.00 EUR")
    expect(page.locator(".timeline")).to_contain_text("Payment status: Unpaid → Partially paid")
    expect(page.locator("#allocations")).to_contain_text(str(payment))
    screenshot(page, "invoice-detail")


def test_refund_an_unallocated_payment(live_server, page):
    clerk = finance_clerk()
    payment = make_payment(customer=CustomerFactory(name="Grace Hopper"), amount="80.00", method="card")

    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/payments/{payment.pk}/")
    page.get_by_role("link", name="Refund…").click()
    expect(page.locator("#refundable")).to_have_text("80.00 EUR")
    page.get_by_label("Amount").fill("30.00")
    page.get_by_label("Reason").fill("Paid twice for the same order")
    screenshot(page, "refund-form")
    page.get_by_role("button", name="Review refund").click()

    expect(page.locator("#consequence")).to_contain_text("Refund 30.00 EUR to Grace Hopper.")
    expect(page.locator("#consequence")).to_contain_text("will have 50.00 EUR unallocated and stay unallocated")
    screenshot(page, "refund-review")
    assert payment.refunds.count() == 0  # nothing written before the confirmation
    page.get_by_role("button", name="Confirm: refund 30.00 EUR").click()

    page.wait_for_url(f"{live_server.url}/payments/{payment.pk}/")
    expect(page.locator(".message.success")).to_contain_text("Refunded 30.00 EUR")
    expect(page.locator("#unallocated")).to_have_text("50.00 EUR")
    expect(page.locator("#refunds")).to_contain_text("Paid twice for the same order")
    payment.refresh_from_db()
    assert (payment.refunded_total, payment.allocation_status) == (D("30.00"), "unallocated")


def test_void_a_paid_invoice_frees_its_payments(live_server, page):
    clerk = finance_clerk()
    customer = CustomerFactory(name="Ada Lovelace")
    invoice = make_invoice(
        customer=customer, provider=ProviderFactory(name="Acme Cleaning", code="ACME"), total="100.00"
    )
    first = make_payment(customer=customer, amount="60.00")
    second = make_payment(customer=customer, amount="40.00")
    allocate(first, invoice, "60.00", by=clerk)
    allocate(second, invoice, "40.00", by=clerk)

    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
    expect(page.locator(".page-head .badge.paid")).to_have_text("Paid")
    page.get_by_role("link", name="Void…").click()

    expect(page.locator("#consequence")).to_have_text(
        f"2 allocations totalling 100.00 EUR will be reversed; payments {first} and {second} become unallocated."
    )
    screenshot(page, "void-confirmation")
    page.get_by_role("button", name=f"Void invoice {invoice.number}").click()
    expect(page.locator(".field.has-error")).to_contain_text("Give a reason to void invoice")  # nothing written yet
    page.get_by_label("Reason").fill("Billed to the wrong customer")
    page.get_by_role("button", name=f"Void invoice {invoice.number}").click()

    page.wait_for_url(f"{live_server.url}/invoices/{invoice.pk}/")
    expect(page.locator(".page-head .badge.void")).to_have_text("Void")
    expect(page.locator("#allocations .reversal")).to_have_count(2)
    expect(page.locator(".timeline")).to_contain_text("State: Open → Void")
    for payment in (first, second):
        page.goto(f"{live_server.url}/payments/{payment.pk}/")
        expect(page.locator(".page-head .badge.unallocated")).to_have_text("Unallocated")
        expect(page.locator("#unallocated")).to_have_text(f"{payment.amount} EUR")
