"""A finance clerk corrects a payment in real Chromium, with the keyboard only; every step passes axe."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from allocations.services import allocate_many
from payments.models import Payment
from tests.browser.conftest import save_screenshot as screenshot
from tests.browser.helpers_actions import finance_clerk, sign_in
from tests.browser.test_accessibility import axe_violations
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal
RECEIVED = datetime.datetime(2026, 11, 10, 9, 30, tzinfo=datetime.UTC)


def tab_to(page, target, limit: int = 6) -> None:
    """Press Tab until `target` has the focus (a date input takes a Tab per part in Chromium)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never got the focus by Tab")


def test_correct_a_payment_with_the_keyboard(live_server, page):
    clerk = finance_clerk()
    customer = CustomerFactory(name="Ada Lovelace")
    provider = ProviderFactory(name="Acme Cleaning", code="ACME")
    a = make_invoice(customer=customer, provider=provider, total="80.00")
    b = make_invoice(customer=customer, provider=provider, total="70.00")
    old = make_payment(customer=customer, amount="150.00", reference="BANK-9", received_at=RECEIVED)
    allocate_many(old, [(a, "80.00"), (b, "70.00")], by=clerk)
    violations = []

    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/payments/{old.pk}/")
    link = page.get_by_role("link", name="Correct…")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/payments/{old.pk}/correct/")
    violations += axe_violations(page)

    amount = page.get_by_label("Amount")
    expect(amount).to_have_value("150.00")
    amount.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("100.00")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Value date (received on)")).to_be_focused()
    tab_to(page, page.get_by_label("Reason"))  # through the date's day, month and year
    tab_to(page, page.get_by_role("button", name="Review correction"))  # no reason given yet
    page.keyboard.press("Enter")
    expect(page.locator(".field.has-error")).to_contain_text("Give a reason to correct payment")
    violations += axe_violations(page)

    page.get_by_label("Reason").focus()
    page.keyboard.type("Typed 150 for 100")
    tab_to(page, page.get_by_role("button", name="Review correction"))
    page.keyboard.press("Enter")
    expect(page.locator("#consequence")).to_contain_text(
        f"Payment {old} will be canceled and replaced by a new payment of 100.00 EUR received on 2026-11-10"
    )
    expect(page.locator("#moves")).to_contain_text("Partially paid")
    screenshot(page, "correct-review")
    violations += axe_violations(page)
    assert Payment.objects.count() == 1  # nothing written before the confirmation

    page.get_by_role("button", name=f"Confirm: correct {old}").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.rstrip("/").endswith(str(Payment.objects.latest("id").pk)))
    new = Payment.objects.latest("id")
    message = page.locator(".message.success")
    expect(message).to_contain_text(f"Payment {old} is corrected: {new} replaces it")
    expect(message).to_contain_text(f"50.00 EUR that was on invoice {b} did not fit")
    expect(page.locator("#corrects-link")).to_have_text(str(old))
    violations += axe_violations(page)

    message.get_by_role("link", name=str(old)).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/payments/{old.pk}/")
    expect(page.locator("#corrected-by-link")).to_have_text(str(new))
    expect(page.locator(".timeline")).to_contain_text(f"Corrected by {new}")
    screenshot(page, "corrected-payment")
    violations += axe_violations(page)
    assert not violations, "axe-core violations:\n" + "\n".join(violations)
    assert new.amount == D("100.00")
