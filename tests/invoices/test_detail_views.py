"""The invoice detail page: what every role sees, the figures, the ledger rows and the timeline."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client

from allocations.services import allocate, deallocate
from billing.timeline import collection_note_events
from invoices.services import issue_credit_note, void_invoice
from tests.factories import make_invoice, make_payment
from tests.support.actions import (  # noqa: F401  (fixtures)
    admin,
    client_for,
    finance,
    finance_user,
    make_user,
    superuser,
    support,
    support_user,
    text,
)

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def story(customer, provider, finance_user):
    """Invoice 100: P-a pays 60, 10 of it taken back, P-b pays 30, credit note 5."""
    invoice = make_invoice(
        customer=customer,
        provider=provider,
        total="100.00",
        issue_date=datetime.date(2026, 1, 1),
        due_date=datetime.date(2026, 1, 31),
    )
    first = make_payment(customer=customer, amount="60.00")
    second = make_payment(customer=customer, amount="30.00")
    allocate(first, invoice, "60.00", by=finance_user)
    deallocate(first, invoice, "10.00", by=finance_user, reason="typed 60 instead of 50")
    allocate(second, invoice, "30.00", by=finance_user)
    issue_credit_note(invoice, amount="5.00", by=finance_user, reason="late delivery")
    invoice.refresh_from_db()
    return invoice, first, second


def test_finance_sees_everything_and_the_actions(finance, story):
    invoice, first, second = story
    page = text(finance.get(f"/invoices/{invoice.pk}/"))

    assert f"Invoice {invoice.number}" in page
    assert '<span class="badge open"' in page and '<span class="badge partially_paid"' in page
    assert "badge overdue" in page  # due 2026-01-31, partially paid
    assert "Ada Lovelace" in page and invoice.customer.email in page and invoice.customer.phone in page
    assert "Acme Cleaning" in page
    # totals: 100 total, 5 credited, 95 net, 80 paid, 15 due
    for figure in ("100.00 EUR", "5.00 EUR", "95.00 EUR", "80.00 EUR", "15.00 EUR"):
        assert figure in page
    assert re.search(r'id="balance-due">15\.00 EUR<', page)
    # actions
    assert f'href="/invoices/{invoice.pk}/void/"' in page
    assert f'href="/invoices/{invoice.pk}/credit/"' in page


def test_allocation_rows_link_payments_and_reversals_name_their_row(finance, story):
    invoice, first, second = story
    page = text(finance.get(f"/invoices/{invoice.pk}/"))
    rows = invoice.allocations.order_by("id")
    original, reversal, other = rows
    assert reversal.reverses_id == original.pk
    assert f'href="/payments/{first.pk}/"' in page and f'href="/payments/{second.pk}/"' in page
    assert f'<tr id="allocation-{reversal.pk}" class="reversal">' in page
    assert f'Reversal of <a href="#allocation-{original.pk}">#{original.pk}</a>' in page
    assert "-10.00 EUR" in page and "typed 60 instead of 50" in page
    assert "late delivery" in page  # the credit note


def test_timeline_has_every_event_with_who_newest_first(finance, story):
    invoice, first, second = story
    page = text(finance.get(f"/invoices/{invoice.pk}/"))
    timeline = page[page.index('<ol class="timeline events">') :]
    titles = [t.strip() for t in re.findall(r'<div class="what">\s*(?:<a [^>]*>)?([^<]+)', timeline)]
    # newest first: the credit note came last, the creation first
    assert titles[0].startswith("Credit note #")
    assert titles[-1] == "Created as a draft"
    for expected in (
        "State: Draft → Open",
        "Payment status: Unpaid → Partially paid",
        "Allocation #",
        "Reversal of allocation #",
        f"money back to payment {first}",
    ):
        assert expected in timeline
    assert "fiona.finance" in timeline


def test_support_sees_the_page_without_action_buttons(support, story):
    invoice, *_ = story
    response = support.get(f"/invoices/{invoice.pk}/")
    page = text(response)
    assert response.status_code == 200
    assert invoice.number in page and "15.00 EUR" in page
    assert f"/invoices/{invoice.pk}/void/" not in page
    assert f"/invoices/{invoice.pk}/credit/" not in page
    assert "form_token" not in page


def test_superuser_sees_actions(admin, story):
    invoice, *_ = story
    assert f"/invoices/{invoice.pk}/void/" in text(admin.get(f"/invoices/{invoice.pk}/"))


def test_anonymous_goes_to_login(story):
    invoice, *_ = story
    response = Client().get(f"/invoices/{invoice.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_a_user_without_role_gets_403_naming_the_role(story):
    invoice, *_ = story
    response = client_for(make_user("nobody")).get(f"/invoices/{invoice.pk}/")
    assert response.status_code == 403 and "Support role" in text(response)


def test_unknown_invoice_is_404(finance):
    assert finance.get("/invoices/999999/").status_code == 404


def test_draft_shows_issue_button_and_no_payment_status(finance, customer, provider):
    draft = make_invoice(customer=customer, provider=provider, issue=False)
    page = text(finance.get(f"/invoices/{draft.pk}/"))
    assert f'action="/invoices/{draft.pk}/issue/"' in page and "Issue invoice" in page
    assert "badge unpaid" not in page and "badge overdue" not in page
    assert f"Draft #{draft.pk}" in page


def test_not_overdue_when_paid_or_not_yet_due(finance, customer, provider, finance_user):
    future = make_invoice(
        customer=customer,
        provider=provider,
        due_date=datetime.date.today() + datetime.timedelta(days=5),
        issue_date=datetime.date.today(),
    )
    paid = make_invoice(
        customer=customer,
        provider=provider,
        total="10.00",
        issue_date=datetime.date(2026, 1, 1),
        due_date=datetime.date(2026, 1, 2),
    )
    allocate(make_payment(customer=customer, amount="10.00"), paid, "10.00", by=finance_user)
    assert "badge overdue" not in text(finance.get(f"/invoices/{future.pk}/"))
    assert "badge overdue" not in text(finance.get(f"/invoices/{paid.pk}/"))


def test_void_invoice_shows_void_and_hides_actions(finance, story, finance_user):
    invoice, first, _ = story
    void_invoice(invoice, by=finance_user, reason="sent to the wrong customer")
    page = text(finance.get(f"/invoices/{invoice.pk}/"))
    assert '<span class="badge void"' in page and "sent to the wrong customer" in page
    assert "State: Open → Void" in page
    assert f"/invoices/{invoice.pk}/void/" not in page and f"/invoices/{invoice.pk}/credit/" not in page


def test_collection_notes_are_optional():
    """An account without notes (dunning.CollectionNote) adds nothing to the timeline."""
    assert collection_note_events(account_id=1) == []
