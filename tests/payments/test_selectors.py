"""The payment list's selector: filters, work-queue order, totals from the queue-total table."""

from decimal import Decimal

import pytest

from allocations.services import allocate
from payments.selectors import payment_queue, payment_queue_totals
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
    return {"unallocated": unallocated, "partial": partial, "full": full, "refunded": refunded,
            "canceled": canceled, "dollars": dollars}


def test_each_status_lists_payments_oldest_received_first(payments):
    unallocated = list(payment_queue({"allocation_status": "unallocated"}).values_list("pk", flat=True))
    assert unallocated == [payments["unallocated"].pk, payments["dollars"].pk]
    assert list(payment_queue({"allocation_status": "partially_allocated"})) == [payments["partial"]]
    fully = set(payment_queue({"allocation_status": "fully_allocated"}).values_list("pk", flat=True))
    assert fully == {payments["full"].pk, payments["refunded"].pk, payments["canceled"].pk}


@pytest.mark.parametrize(
    "params",
    [
        {"allocation_status": "unallocated"},
        {"allocation_status": "fully_allocated"},
        {"allocation_status": "unallocated,partially_allocated"},
        {"state": "canceled"},
        {"currency": "USD"},
        {},
    ],
)
def test_totals_from_the_queue_total_table_equal_a_recount(payments, params):
    assert payment_queue_totals(params) == payment_queue_totals(payment_queue(params))


def test_totals_are_per_currency(payments):
    totals = payment_queue_totals({"allocation_status": "unallocated"})
    assert totals.count == 2
    assert totals.by_currency == {
        "EUR": {"amount": D("40.00"), "unallocated": D("40.00")},
        "USD": {"amount": D("70.00"), "unallocated": D("70.00")},
    }
