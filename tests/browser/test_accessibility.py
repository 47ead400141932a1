"""Accessibility (axe-core), phone width and the Content-Security-Policy, in real Chromium.

Every main page passes axe-core with no violation, before and after its htmx interactions;
no list makes a 390 px phone scroll sideways; the long-text counter never cuts text silently.
The `page` fixture (conftest) fails any of these tests on a CSP violation in the console."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from exports.services import export_batch
from intake.background import run_import
from intake.importing import import_statement
from intake.models import StatementImport
from orders.services import create_order, invoice_order, record_delivery
from reconciliation.reconcile import run_reconciliation
from tests.browser.conftest import save_screenshot
from tests.browser.helpers import login
from tests.factories import make_payment
from tests.support.dataset import PASSWORD, build_ledger, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLES = Path(__file__).resolve().parent.parent / "intake" / "samples"
PHONE = {"width": 390, "height": 844}
AXE = Axe()


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now, one readable line per failing element."""
    found = []
    for violation in AXE.run(page).response["violations"]:
        for node in violation["nodes"]:
            found.append(
                f"{page.url} · {violation['id']} ({violation['impact']}): {violation['help']} · "
                f"target {node['target']} · {node.get('failureSummary', '').splitlines()[-1:]}"
            )
    return found


@pytest.fixture
def books():
    """The staff pages' small ledger plus a statement import and a reconciliation run."""
    support, finance, _, _ = make_staff()
    ledger = build_ledger()
    import_statement((SAMPLES / "mixed.csv").read_bytes(), source_name="mixed.csv", by=finance)
    run = run_reconciliation()
    orders = _orders(ledger, finance)
    batch = export_batch(profile="agency", by=finance)  # the ledger's invoices, delivered to the tests' outbox
    return {
        "finance": finance,
        "support": support,
        "ledger": ledger,
        "run": run,
        "batch": batch,
        **orders,
        **_workshops(ledger, finance),
    }


def _orders(ledger, finance) -> dict:
    """Bob's order, 8 of 10 shipped and invoiced, and a payment of his to allocate (grouped by order).

    Bob's, so the lovelace filter and Ada's split form below see what they always saw."""
    order = create_order(
        customer=ledger.bob,
        provider=ledger.acme,
        currency="EUR",
        lines=[("Chair", 10, "25.00")],
        invoicing="delivered",
        by=finance,
    )
    record_delivery(order, quantities={order.lines.get(): 8}, by=finance)
    invoice = invoice_order(order, by=finance)
    payment = make_payment(customer=ledger.bob, amount="30.00")
    return {"order": order, "order_invoice": invoice, "bob_payment": payment}


def _workshops(ledger, finance) -> dict:
    """A workshop of one seat: Bob has it, Cy waits (the roster and the wait list both show)."""
    import datetime

    from django.utils import timezone

    from registrations.services import create_workshop, register

    workshop = create_workshop(
        provider=ledger.acme,
        title="Sourdough",
        starts_at=timezone.now() + datetime.timedelta(days=20),
        capacity=1,
        price="120.00",
        currency="EUR",
        by=finance,
    )
    (seat,) = register(customer=ledger.bob, workshops=[workshop], by=finance).registrations.all()
    register(customer=ledger.cy, workshops=[workshop], by=finance)
    return {"workshop": workshop, "registration": seat}


def main_pages(books) -> dict[str, str]:
    inv, pay = books["ledger"].invoices, books["ledger"].payments
    account = inv["ada_overdue_30"].account_id
    order = books["order"]
    return {
        "dashboard": "/",
        "invoices": "/invoices/",
        "invoices-overdue": "/invoices/?payment_status=unpaid&payment_status=partially_paid&overdue=1",
        "invoice-detail": f"/invoices/{inv['ada_partial_75'].pk}/",
        "invoice-void-detail": f"/invoices/{inv['bob_void'].pk}/",
        "invoice-draft": f"/invoices/{inv['cy_draft'].pk}/",
        "invoice-new": "/invoices/new/",
        "invoice-void": f"/invoices/{inv['ada_overdue_30'].pk}/void/",
        "invoice-credit": f"/invoices/{inv['ada_current'].pk}/credit/",
        "payments": "/payments/",
        "payments-to-allocate": "/payments/?queue=needs_work",
        "payment-new": "/payments/new/",
        "payment-detail": f"/payments/{pay['ada_partial'].pk}/",
        "payment-canceled": f"/payments/{pay['cy_canceled'].pk}/",
        "allocate": f"/payments/{pay['ada_partial'].pk}/allocate/",
        "deallocate": f"/payments/{pay['ada_partial'].pk}/deallocate/",
        "refund": f"/payments/{pay['ada_partial'].pk}/refund/",
        "chargeback": f"/payments/{pay['ada_partial'].pk}/chargeback/",
        "cancel": f"/payments/{pay['ada_partial'].pk}/cancel/",
        "correct": f"/payments/{pay['ada_partial'].pk}/correct/",
        "collections": "/collections/",
        "collections-account": f"/collections/{account}/",
        "customer": f"/customers/{books['ledger'].ada.pk}/",
        "customer-filtered": f"/customers/{books['ledger'].ada.pk}/?currency=EUR&kind=invoice",
        "search": "/search/?q=ada",
        "search-nothing": "/search/?q=zzzz",
        "imports-upload": "/imports/",
        "imports-entries": "/imports/entries/",
        "reconciliation-runs": "/reconciliation/",
        "reconciliation-run": f"/reconciliation/runs/{books['run'].pk}/",
        "orders": "/orders/",
        "orders-filtered": "/orders/?billing_status=partially_invoiced&payment_status=unpaid",
        "orders-empty": "/orders/?customer=zzzz",
        "order-detail": f"/orders/{order.pk}/",
        "order-new": "/orders/new/",
        "order-deliver": f"/orders/{order.pk}/deliver/",
        "order-invoice": f"/orders/{order.pk}/invoice/",
        "order-add-line": f"/orders/{order.pk}/add-line/",
        "order-cancel": f"/orders/{order.pk}/cancel/",
        "order-credit": f"/orders/{order.pk}/invoices/{books['order_invoice'].pk}/credit/",
        "order-invoice-page": f"/invoices/{books['order_invoice'].pk}/",
        "allocate-by-order": f"/payments/{books['bob_payment'].pk}/allocate/",
        "workshops": "/workshops/",
        "workshops-past": "/workshops/?when=past",
        "workshop": f"/workshops/{books['workshop'].pk}/",
        "workshop-new": "/workshops/new/",
        "workshop-register": f"/workshops/register/?workshop={books['workshop'].pk}",
        "registration": f"/workshops/registrations/{books['registration'].pk}/",
        "registration-cancel": f"/workshops/registrations/{books['registration'].pk}/cancel/",
        "registration-order": f"/orders/{books['registration'].order_id}/",
        "exports": "/exports/",
        "exports-empty": "/exports/?state=failed",
        "export-detail": f"/exports/{books['batch'].pk}/",
        "export-resend": f"/exports/{books['batch'].pk}/resend/",
    }


LIST_PAGES = [
    "invoices",
    "payments",
    "payments-to-allocate",
    "collections",
    "imports-entries",
    "reconciliation-runs",
    "dashboard",
    "collections-account",
    "invoice-detail",
    "payment-detail",
    "orders",
    "order-detail",
    "workshops",
    "workshop",
    "exports",
    "export-detail",
]


def test_every_main_page_passes_axe(page, live_server, books):
    violations = []
    page.goto(live_server.url + "/login/")
    violations += axe_violations(page)
    login(page, live_server, books["finance"].username, PASSWORD)
    for name, url in main_pages(books).items():
        response = page.goto(live_server.url + url)
        assert response.status == 200, (name, url, response.status)
        violations += axe_violations(page)

    # htmx results are announced and stay accessible after a swap.
    page.goto(live_server.url + "/invoices/")
    expect(page.locator("#results")).to_have_attribute("aria-live", "polite")
    page.get_by_label("Customer").fill("lovelace")
    expect(page.locator("#invoice-table tbody tr")).to_have_count(4)
    page.get_by_label("Overdue only").check()  # a checkbox triggers the htmx request without eval (CSP)
    expect(page.locator("#invoice-table tbody tr")).to_have_count(2)
    violations += axe_violations(page)
    page.goto(live_server.url + "/imports/")
    page.get_by_label("Statement file").set_input_files(str(SAMPLES / "overlap.csv"))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("progressbar")).to_be_visible()  # the import's progress page
    violations += axe_violations(page)
    run_import(StatementImport.objects.latest("id").pk)  # as the worker would
    expect(page.locator("table.data").first).to_be_visible()  # htmx reloads it as the result page
    violations += axe_violations(page)
    page.goto(live_server.url + main_pages(books)["allocate"])
    page.locator("input.amount").first.fill("1.00")
    expect(page.locator("#remaining strong")).to_have_text("29.00 EUR")
    violations += axe_violations(page)
    assert not violations, "axe-core violations:\n" + "\n".join(violations)


def test_no_list_scrolls_sideways_on_a_phone(page, live_server, books):
    login(page, live_server, books["finance"].username, PASSWORD)
    page.set_viewport_size(PHONE)
    pages = main_pages(books)
    too_wide = {}
    for name in LIST_PAGES:
        page.goto(live_server.url + pages[name])
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = width
        if name in ("invoices", "collections"):
            save_screenshot(page, f"phone-{name}")
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"
    # The table scrolls inside its own box, which a keyboard can reach and a screen reader names.
    page.goto(live_server.url + pages["invoices"])
    wrapper = page.get_by_role("region", name="Invoices")
    expect(wrapper).to_have_attribute("tabindex", "0")
    assert wrapper.evaluate("el => el.scrollWidth > el.clientWidth")


def test_long_note_is_counted_not_cut(page, live_server, books):
    login(page, live_server, books["support"].username, PASSWORD)
    account = books["ledger"].invoices["ada_overdue_30"].account_id
    page.goto(f"{live_server.url}/collections/{account}/")
    note = page.get_by_label("Note", exact=True)
    counter = page.locator(".char-count")
    expect(counter).to_have_text("0 of 2,000 characters")
    note.fill("x" * 1990)
    expect(counter).to_have_text("1,990 of 2,000 characters")
    expect(page.locator(".note-form [aria-live=polite]")).to_have_text("10 characters left.")
    note.fill("x" * 2050)  # as a paste would: nothing is cut
    expect(counter).to_have_text("2,050 of 2,000 characters: 50 too many")
    assert len(note.input_value()) == 2050
    expect(note).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Reached").check()
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("alert")).to_contain_text("The note was not saved")
    expect(page.locator(".note-form")).to_contain_text("this one has 2050")
    expect(page.get_by_label("Note", exact=True)).to_have_value("x" * 2050)  # what was typed is kept


def test_the_admin_works_under_the_policy(page, live_server, books):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="root")
    admin.set_password(PASSWORD)
    admin.save(update_fields=["password"])
    page.goto(live_server.url + "/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(live_server.url + "/admin/invoices/invoice/")
    expect(page.locator("#result_list")).to_be_visible()  # the page fixture fails the test on any CSP report


def test_the_policy_is_enforced_and_violations_are_caught(page, live_server, books, csp_violations):
    response = page.goto(live_server.url + "/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # An injected inline script does not run, and the page fixture would fail the test on its report.
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.injected = true'; document.body.append(s); }""")
    expect(page.locator("body")).to_be_visible()
    page.wait_for_function("() => true")
    assert page.evaluate("window.injected === undefined")
    page.wait_for_timeout(200)
    assert any("script-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # seen and expected: not a failure of this test
