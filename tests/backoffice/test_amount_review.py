"""The refund and chargeback review shows the amount as it will be booked, normalised
(issue 8, money input): what the clerk typed is read by billing.money, never guessed."""

from __future__ import annotations

import pytest

from tests.factories import make_payment
from tests.support.actions import finance, finance_user, form_token, ledger_counts, text  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("verb", ["refund", "chargeback"])
def test_the_review_shows_grouped_thousands_normalised(finance, customer, verb):
    payment = make_payment(customer=customer, amount="2000.00")
    url = f"/payments/{payment.pk}/{verb}/"
    review = text(finance.post(url, {"form_token": form_token(finance.get(url)), "amount": "1,000.5", "reason": "r"}))
    assert "1,000.50 EUR" in review
    assert 'name="amount" value="1000.50"' in review  # what the confirming POST books


@pytest.mark.parametrize("typed", ["1e3", "١٢", "１２３", "1_000", "+5"])
def test_the_review_refuses_what_is_not_an_amount(finance, customer, typed):
    payment = make_payment(customer=customer, amount="2000.00")
    url = f"/payments/{payment.pk}/refund/"
    before = ledger_counts()
    page = text(finance.post(url, {"form_token": form_token(finance.get(url)), "amount": typed, "reason": "r"}))
    assert "is not a number" in page
    assert 'name="confirmed" value="1"' not in page
    assert ledger_counts() == before
