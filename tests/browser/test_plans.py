"""A finance clerk in real Chromium: find the overdue plan, waive a penalty (reviewed, then
confirmed) and see it in the waiver report; every plan page passes axe-core."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from documents.services import issue_installment_notice
from invoices.models import CreditNote, Invoice
from plans.services import assess_penalties
from tests.browser.conftest import save_screenshot as screenshot
from tests.browser.helpers_actions import finance_clerk, sign_in
from tests.browser.test_accessibility import PHONE, axe_violations
from tests.factories import CustomerFactory, ProviderFactory
from tests.plans.helpers import day, installments, make_plan, pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
D = Decimal


@pytest.fixture
def late_plan():
    clerk = finance_clerk()
    customer = CustomerFactory(name="Ada Lovelace", email="ada@analytical.test")
    plan = make_plan(customer, ProviderFactory(name="Acme Cleaning", code="ACME"), clerk)
    first, second = installments(plan)[:2]
    pay(plan, first, "100.00", "2025-01-08")
    pay(plan, second, "40.00", "2025-02-05")
    assess_penalties(as_of=day("2025-04-20"), by=clerk)  # installment 2: 1.20 on 03-15 and 04-15
    return clerk, plan


def test_finance_waives_a_penalty_and_sees_it_in_the_waiver_report(live_server, page, late_plan):
    clerk, plan = late_plan
    penalty = Invoice.objects.get(installment=installments(plan)[1], penalty_period=1)

    sign_in(page, live_server, clerk)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    page.get_by_label("Overdue").select_option("yes")
    expect(page.locator("#plan-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"Plan {plan.pk}").click()
    page.wait_for_url(f"{live_server.url}/plans/{plan.pk}/")
    expect(page.locator("#plan-penalties")).to_have_text("4.40 EUR")  # 1.20 + 1.20 + 2.00
    expect(page.locator("#plan-waived")).to_have_text("0.00 EUR")

    page.get_by_role("link", name=f"Waive penalty {penalty.number}").click()
    page.get_by_role("button", name="Review…").click()  # no reason: the service's message, nothing written
    expect(page.get_by_role("alert").or_(page.locator(".errorlist"))).to_contain_text("reason")
    page.get_by_label("Reason").fill("First time late, customer called")
    page.get_by_role("button", name="Review…").click()
    expect(page.locator("#consequence")).to_contain_text(f"1.20 EUR of penalty {penalty.number} will be waived")
    assert not CreditNote.objects.exists()
    screenshot(page, "plan-waive-confirm")
    page.get_by_role("button", name="Waive 1.20 EUR").click()

    page.wait_for_url(f"{live_server.url}/plans/{plan.pk}/#penalties")
    expect(page.locator(".message.success")).to_contain_text(f"1.20 EUR of penalty {penalty.number} waived")
    expect(page.locator("#plan-waived")).to_have_text("1.20 EUR")
    expect(page.locator('#plan-schedule tr[data-sequence="2"] [data-col="waived"]')).to_contain_text("1.20 EUR")
    screenshot(page, "plan-detail")
    (note,) = CreditNote.objects.all()
    assert (note.reason_code, note.amount, note.created_by_id) == ("waiver", D("1.20"), clerk.pk)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plans").click()
    page.get_by_role("link", name="Waiver report").click()
    row = page.locator("#waiver-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Ada Lovelace")
    expect(row).to_contain_text("Charged penalty waived")
    expect(row).to_contain_text(penalty.number)
    expect(row.locator('[data-col="waived"]')).to_have_text("1.20 EUR")
    expect(row).to_contain_text(clerk.username)
    expect(row).to_contain_text("First time late, customer called")
    screenshot(page, "plan-waiver-report")


def test_every_plan_page_passes_axe(live_server, page, late_plan):
    clerk, plan = late_plan
    second = installments(plan)[1]
    penalty = Invoice.objects.get(installment=second, penalty_period=2)
    notice = issue_installment_notice(installments(plan)[2], by=clerk)
    pages = [
        "/plans/",
        "/plans/?overdue=yes&state=active",
        "/plans/?customer=zzzz",
        f"/plans/{plan.pk}/",
        "/plans/new/",
        f"/plans/{plan.pk}/rule/",
        f"/plans/{plan.pk}/penalties/{penalty.pk}/waive/",
        f"/plans/{plan.pk}/installments/{second.pk}/waive-future/",
        "/plans/waivers/",
        f"/documents/{notice.pk}/",
        f"/invoices/{penalty.pk}/",
    ]
    sign_in(page, live_server, clerk)
    violations = []
    for url in pages:
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, url
        violations += axe_violations(page)
    # The confirmation step and a form with its errors next to the fields.
    page.goto(f"{live_server.url}/plans/{plan.pk}/penalties/{penalty.pk}/waive/")
    page.get_by_label("Reason").fill("Goodwill")
    page.get_by_role("button", name="Review…").click()
    expect(page.locator("#consequence")).to_be_visible()
    violations += axe_violations(page)
    page.goto(f"{live_server.url}/plans/{plan.pk}/rule/")
    page.get_by_role("button", name="Change the rule").click()
    expect(page.locator(".field.has-error").first).to_be_visible()
    screenshot(page, "plan-rule-errors")
    violations += axe_violations(page)
    page.goto(f"{live_server.url}/plans/new/")
    screenshot(page, "plan-new")
    page.goto(f"{live_server.url}/documents/{notice.pk}/")
    screenshot(page, "plan-notice")
    assert violations == [], "\n".join(violations)


def test_no_plan_page_scrolls_sideways_on_a_phone(live_server, page, late_plan):
    clerk, plan = late_plan
    sign_in(page, live_server, clerk)
    page.set_viewport_size(PHONE)
    too_wide = {}
    for url in ("/plans/", f"/plans/{plan.pk}/", "/plans/waivers/", "/plans/new/"):
        page.goto(live_server.url + url)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[url] = width
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    expect(page.get_by_role("region", name="Schedule")).to_have_attribute("tabindex", "0")
