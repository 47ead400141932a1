"""The payment list's selectors: payment_list filters through PaymentFilter, payment_totals
reads the queue-total table when the filters allow.

These cases came from the deleted second list layer (payment_queue). The page lists newest
received first unless sorted; the work queue's oldest received first is `sort=received`.
"""

from decimal import Decimal

import pytest

from allocations.services import allocate
from billing.listing import currency_totals
from payments.selectors import payment_list, payment_totals
from payments.services import cancel_payment, refund_payment
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def payments(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="300.00")
    unallocated = make_payment(customer=customer, amount="40.00")
    partial = make_payment(customer=customer, amount="100.00")
    full = make_payment(customer=customer, amount="60.00")
    refunded = make_payment(customer=customer, amount="25.00")
    canceled = make_payment(customer=customer, amount="10.00")
    dollars = make_payment(customer=customer, amount="70.00", currency="USD")
    allocate(partial, invoice, D("30.00"), by=clerk)
    allocate(full, invoice, D("60.00"), by=clerk)
    refund_payment(refunded, amount=D("25.00"), by=clerk, reason="returned")
    cancel_payment(canceled, by=clerk, reason="recorded twice")
    return {
        "unallocated": unallocated,
        "partial": partial,
        "full": full,
        "refunded": refunded,
        "canceled": canceled,
        "dollars": dollars,
    }


def oldest_first(status):
    return payment_list(filters={"allocation_status": status, "sort": "received"})


def test_each_status_lists_payments_oldest_received_first(payments):
    unallocated = list(oldest_first("unallocated").values_list("pk", flat=True))
    assert unallocated == [payments["unallocated"].pk, payments["dollars"].pk]
    assert list(oldest_first("partially_allocated")) == [payments["partial"]]
    fully = set(oldest_first("fully_allocated").values_list("pk", flat=True))
    assert fully == {payments["full"].pk, payments["refunded"].pk, payments["canceled"].pk}


@pytest.mark.parametrize(
    "params",
    [
        {"allocation_status": "unallocated"},
        {"allocation_status": "fully_allocated"},
        {"allocation_status": ["unallocated", "partially_allocated"]},
        {"state": "canceled"},
        {"currency": "USD"},
        {"queue": "needs_work"},
        {},
    ],
)
def test_totals_from_the_queue_total_table_equal_a_recount(payments, params):
    recount = currency_totals(payment_list(filters=params), amount="amount", unallocated="unallocated")
    assert payment_totals(filters=params) == recount


def test_totals_are_per_currency(payments):
    totals = payment_totals(filters={"allocation_status": "unallocated"})
    assert totals.count == 2
    assert totals.by_currency == [
        {"currency": "EUR", "count": 1, "amount": D("40.00"), "unallocated": D("40.00")},
        {"currency": "USD", "count": 1, "amount": D("70.00"), "unallocated": D("70.00")},
    ]
