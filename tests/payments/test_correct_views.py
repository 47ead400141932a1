"""The payment page's Correct action: a form (amount, value date, reason), a review of what will
move, the correction, and both payments' pages and timelines naming each other afterwards."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from allocations.services import allocate_many
from payments.models import Payment
from payments.services import cancel_payment, correct_payment, record_payment, refund_payment
from tests.factories import make_invoice, make_payment
from tests.support.actions import (  # noqa: F401  (fixtures)
    finance,
    finance_user,
    form_token,
    ledger_counts,
    support,
    support_user,
    text,
)

pytestmark = pytest.mark.django_db
D = Decimal
RECEIVED = datetime.datetime(2026, 11, 10, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture
def books(customer, provider, finance_user):
    """P of 150.00 (ref BANK-7, received 10 Nov): 80.00 to A, then 70.00 to B."""
    a = make_invoice(customer=customer, provider=provider, total="80.00")
    b = make_invoice(customer=customer, provider=provider, total="70.00")
    payment = make_payment(customer=customer, amount="150.00", reference="BANK-7", received_at=RECEIVED)
    allocate_many(payment, [(a, "80.00"), (b, "70.00")], by=finance_user)
    return payment, a, b


def url(payment) -> str:
    return f"/payments/{payment.pk}/correct/"


def test_finance_reviews_then_corrects_and_both_pages_name_each_other(finance, books):
    old, a, b = books
    detail = text(finance.get(f"/payments/{old.pk}/"))
    assert f'href="/payments/{old.pk}/correct/">Correct…</a>' in detail

    page = text(finance.get(url(old)))
    assert 'value="150.00"' in page and 'value="2026-11-10"' in page  # starts as the payment is
    assert '<label for="id_amount">' in page and '<label for="id_received_on">' in page
    assert '<label for="id_reason">' in page
    token = form_token(page)

    before = ledger_counts()
    review = text(
        finance.post(url(old), {"form_token": token, "amount": "100.00", "received_on": "2026-11-10", "reason": "typo"})
    )
    assert ledger_counts() == before  # the review writes nothing
    assert (
        f"Payment {old} will be canceled and replaced by a new payment of 100.00 EUR received on 2026-11-10 "
        f"(reference BANK-7 (correction 1))."
    ) in review
    assert "50.00 EUR does not fit and is due on the invoices again" in review
    moves = review[review.index('id="moves"') : review.index("</table>", review.index('id="moves"'))]
    assert f">{b.number}<" in moves and "Partially paid" in moves
    assert 'name="confirmed" value="1"' in review

    response = finance.post(
        url(old),
        {"form_token": token, "amount": "100.00", "received_on": "2026-11-10", "reason": "typo", "confirmed": "1"},
        follow=True,
    )
    old.refresh_from_db()
    new = old.corrected_by
    assert (old.state, new.amount, new.reference) == ("canceled", D("100.00"), "BANK-7 (correction 1)")
    assert response.redirect_chain[-1][0] == f"/payments/{new.pk}/"
    page = text(response)
    assert (
        f'Payment <a href="/payments/{old.pk}/">{old}</a> is corrected: <a href="/payments/{new.pk}/">{new}</a> '
        f"replaces it, 100.00 EUR received on 2026-11-10. 100.00 EUR of its allocations moved to {new}. "
        f'50.00 EUR that was on invoice <a href="/invoices/{b.pk}/">{b}</a> did not fit on {new} '
        f"(the invoice is now partially paid)."
    ) in page
    # The replacement's page: "corrects", in the facts and the timeline.
    assert f'<a href="/payments/{old.pk}/" id="corrects-link" class="in-text">{old}</a>' in page
    timeline = page[page.index('<ol class="timeline events">') :]
    assert f"Corrects {old}" in timeline and f"correction of payment {old} by {new}: typo" in timeline

    # The old payment's page: "corrected by", the notice, the timeline; no more actions on it.
    page = text(finance.get(f"/payments/{old.pk}/"))
    assert f'<a href="/payments/{new.pk}/" id="corrected-by-link" class="in-text">{new}</a>' in page
    assert 'id="corrected-by"' in page
    timeline = page[page.index('<ol class="timeline events">') :]
    assert f"Corrected by {new}" in timeline and "State: Settled → Canceled" in timeline
    assert f"/payments/{old.pk}/correct/" not in page and f"/payments/{old.pk}/cancel/" not in page

    # The same confirmation again writes nothing.
    before = ledger_counts()
    again = finance.post(
        url(old),
        {"form_token": token, "amount": "100.00", "received_on": "2026-11-10", "reason": "typo", "confirmed": "1"},
        follow=True,
    )
    assert "already submitted" in text(again) and ledger_counts() == before


def field_errors(page: str, name: str) -> str:
    """The text of the field block of `name` (label, input, its errors)."""
    start = page.index(f'<label for="id_{name}"')
    return page[start : page.index('<div class="field', start) if '<div class="field' in page[start:] else None]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "100.00", "reason": ""}, "reason", "Give a reason to correct payment"),
        ({"amount": "10,5", "reason": "x"}, "amount", "is not a number"),
        ({"amount": "0", "reason": "x"}, "amount", "must be greater than zero"),
        (
            {"amount": "100.00", "received_on": "2999-01-01", "reason": "x"},
            "received_on",
            "cannot arrive in the future",
        ),
        ({"amount": "100.00", "received_on": "", "reason": "x"}, "received_on", "This field is required"),
    ],
)
def test_errors_show_next_to_their_field_and_nothing_is_written(finance, books, data, field, message):
    old, *_ = books
    token = form_token(finance.get(url(old)))
    before = ledger_counts()
    for confirmed in ("", "1"):  # refused at review and (if someone skips it) at confirm
        page = text(
            finance.post(url(old), {"form_token": token, "received_on": "2026-11-10", **data, "confirmed": confirmed})
        )
        assert message in field_errors(page, field), page
    assert ledger_counts() == before


def test_nothing_to_correct_is_said_at_the_top(finance, books):
    old, *_ = books
    token = form_token(finance.get(url(old)))
    page = text(
        finance.post(url(old), {"form_token": token, "amount": "150", "received_on": "2026-11-10", "reason": "x"})
    )
    assert '<div class="form-errors" role="alert">' in page
    assert f"Payment {old} is already 150.00 EUR received on 2026-11-10; give another amount or value date" in page


def test_a_value_date_correction_moves_everything(finance, books):
    old, a, b = books
    token = form_token(finance.get(url(old)))
    data = {"form_token": token, "amount": "150.00", "received_on": "2026-11-01", "reason": "bank date"}
    review = text(finance.post(url(old), data))
    assert "received on 2026-11-01" in review and "does not fit and is due" not in review
    finance.post(url(old), {**data, "confirmed": "1"})
    old.refresh_from_db()
    assert old.corrected_by.received_at.date() == datetime.date(2026, 11, 1)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.payment_status, b.payment_status) == ("paid", "paid")


def test_the_action_is_offered_only_where_it_can_work(finance, customer, finance_user):
    pending = record_payment(customer=customer, amount="5.00", currency="EUR", method="cash", pending=True, by=None)
    refunded = make_payment(customer=customer, amount="20.00")
    refund_payment(refunded, amount="5.00", by=finance_user, reason="asked")
    canceled = cancel_payment(make_payment(customer=customer, amount="9.00"), by=finance_user, reason="twice")
    corrected = make_payment(customer=customer, amount="30.00")
    correct_payment(corrected, amount="31.00", by=finance_user, reason="x")
    offered = {
        p.pk: f"/payments/{p.pk}/correct/" in text(finance.get(f"/payments/{p.pk}/"))
        for p in (pending, refunded, canceled, corrected)
    }
    assert offered == {pending.pk: True, refunded.pk: False, canceled.pk: False, corrected.pk: False}
    # Going there anyway: the service's reason, before anything is confirmed.
    token = form_token(finance.get(url(refunded)))
    page = text(
        finance.post(
            url(refunded),
            {"form_token": token, "amount": "25.00", "received_on": f"{refunded.received_at:%Y-%m-%d}", "reason": "x"},
        )
    )
    assert "has 5.00 EUR refunded; a correction cannot move refunds" in page


def test_support_sees_the_link_nowhere_and_may_not_correct(support, books):
    old, *_ = books
    assert f"/payments/{old.pk}/correct/" not in text(support.get(f"/payments/{old.pk}/"))
    before = ledger_counts()
    assert support.get(url(old)).status_code == 403
    response = support.post(
        url(old), {"amount": "100.00", "received_on": "2026-11-10", "reason": "x", "confirmed": "1"}
    )
    assert response.status_code == 403 and "This needs the Finance role" in text(response)
    assert ledger_counts() == before
    assert Payment.objects.get(pk=old.pk).state == "settled"
