"""Payment services: record (idempotent by reference), settle, refund, charge back, cancel.

Every bad input raises the right BillingError with a message a clerk can act on and
leaves the database unchanged.
"""

import datetime
from decimal import Decimal

import pytest

from allocations.services import allocate, allocate_many
from billing.errors import DuplicateReference, InsufficientFunds, InvalidAmount, InvalidInput, InvalidState
from payments.models import Payment
from payments.services import (
    cancel_payment,
    record_chargeback,
    record_payment,
    record_payments,
    refund_payment,
    settle_payment,
)
from tests.dbstate import unchanged_database
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal
RECEIVED = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)


def pay(customer, amount="100.00", currency="EUR", method="bank_transfer", **kwargs):
    return record_payment(customer=customer, amount=amount, currency=currency, method=method, by=None, **kwargs)


# record_payment


def test_record_payment_is_settled_and_unallocated(customer, clerk):
    payment = record_payment(
        customer=customer,
        amount="250.00",
        currency="EUR",
        method="card",
        reference="PSP-1",
        received_at=RECEIVED,
        by=clerk,
    )
    assert (payment.state, payment.allocation_status, payment.unallocated) == ("settled", "unallocated", D("250.00"))
    assert (payment.received_at, payment.created_by) == (RECEIVED, clerk)
    history = list(payment.status_changes.values_list("field", "old", "new"))
    assert history == [("state", "", "settled"), ("allocation_status", "", "unallocated")]
    assert_invariants()


# record_payments: the bank import's chunk of new settled payments


def test_record_payments_writes_settled_unallocated_payments_in_order(customer, clerk):
    other = CustomerFactory()
    written = record_payments(
        [(customer, "10.00", "EUR", " NB-1 ", RECEIVED), (other, "5", "JPY", "NB-2", RECEIVED)],
        method="bank_transfer",
        by=clerk,
    )
    rows = [Payment.objects.get(pk=p.pk) for p in written]
    assert [
        (p.customer, p.amount, p.currency, p.reference, p.state, p.allocation_status, p.created_by) for p in rows
    ] == [
        (customer, D("10.00"), "EUR", "NB-1", "settled", "unallocated", clerk),
        (other, D("5.00"), "JPY", "NB-2", "settled", "unallocated", clerk),
    ]
    assert_invariants()


@pytest.mark.parametrize("reference", ["", None, "   "])
def test_record_payments_needs_its_own_reference_for_each_payment(customer, reference):
    chunk = [(customer, "10.00", "EUR", "NB-1", RECEIVED), (customer, "20.00", "EUR", reference, RECEIVED)]
    with unchanged_database(), pytest.raises(InvalidInput, match="needs its own reference"):
        record_payments(chunk, method="bank_transfer", by=None)


def test_record_pending_payment_then_settle(customer, clerk):
    payment = pay(customer, pending=True)
    assert payment.state == "pending"
    settle_payment(payment, by=clerk)
    assert payment.state == "settled"
    assert payment.status_changes.filter(field="state", old="pending", new="settled").count() == 1
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match=r"Payment P-\d+ is settled; only a pending one settles"),
    ):
        settle_payment(payment, by=clerk)


def test_settle_a_canceled_payment_is_refused(customer):
    payment = cancel_payment(pay(customer, pending=True), by=None, reason="Never arrived")
    with unchanged_database(), pytest.raises(InvalidState, match="is canceled; only a pending one settles"):
        settle_payment(payment, by=None)


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "EUR", "must be greater than zero; got 0.00 EUR"),
        ("0.00", "EUR", "must be greater than zero"),
        ("-10.00", "EUR", "must be greater than zero; got -10.00 EUR"),
        ("10.005", "EUR", r"The amount 10.005 EUR has more decimals than EUR allows \(2\)"),
        ("10.5", "JPY", r"The amount 10.5 JPY has more decimals than JPY allows \(0\)"),
        (10.5, "EUR", "must be an exact decimal, not float"),
        ("ten", "EUR", "is not a number"),
        ("1000000000000", "EUR", "larger than the largest amount Settle can book"),
        ("10.00", "XYZ", "Currency 'XYZ' is not supported"),
    ],
)
def test_record_payment_refuses_bad_amounts(customer, amount, currency, message):
    with unchanged_database(), pytest.raises(InvalidAmount, match=message):
        pay(customer, amount=amount, currency=currency)


def test_record_payment_refuses_unknown_method(customer):
    with (
        unchanged_database(),
        pytest.raises(InvalidInput, match="Unknown payment method 'bitcoin'; use one of bank_transfer"),
    ):
        pay(customer, method="bitcoin")


def test_same_reference_same_data_returns_the_existing_payment(customer):
    first = pay(customer, amount="25.00", reference="BANK-7", received_at=RECEIVED)
    with unchanged_database():
        again = pay(customer, amount="25", reference=" BANK-7 ", received_at=RECEIVED)
        # Without received_at the rest of the data still identifies the same payment.
        third = pay(customer, amount=D("25.00"), reference="BANK-7")
    assert again.pk == third.pk == first.pk


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "26.00"},
        {"currency": "USD"},
        {"method": "card"},
        {"received_at": RECEIVED + datetime.timedelta(days=1)},
        {"customer": "other"},
    ],
)
def test_same_reference_different_data_is_refused(customer, changes):
    pay(customer, amount="25.00", reference="BANK-7", received_at=RECEIVED)
    data = {"amount": "25.00", "currency": "EUR", "method": "bank_transfer", "received_at": RECEIVED, **changes}
    who = CustomerFactory() if data.pop("customer", None) == "other" else customer
    with (
        unchanged_database(),
        pytest.raises(
            DuplicateReference,
            match=r"Reference 'BANK-7' already belongs to payment P-\d+ "
            r"\(25.00 EUR from Ada Lovelace, bank transfer\); "
            "a different payment needs its own reference",
        ),
    ):
        pay(who, reference="BANK-7", **data)


def test_blank_references_do_not_collide(customer):
    first = pay(customer, reference="")
    second = pay(customer, reference="   ")
    assert first.pk != second.pk
    assert first.reference is None and second.reference is None


# refund_payment


def test_refund_more_than_unallocated_is_refused(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="70.00")
    payment = pay(customer, amount="100.00")
    allocate(payment, invoice, "70.00", by=None)
    with (
        unchanged_database(),
        pytest.raises(
            InsufficientFunds,
            match=r"Payment P-\d+ has only 30.00 EUR unallocated; you asked to refund 30.01 EUR. Deallocate it from "
            "invoices first",
        ),
    ):
        refund_payment(payment, amount="30.01", by=None, reason="Customer asked")
    refund_payment(payment, amount="30.00", by=None, reason="Customer asked")
    assert (payment.refunded_total, payment.unallocated, payment.allocation_status) == (
        D("30.00"),
        D("0.00"),
        "fully_allocated",
    )
    assert_invariants()


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "EUR", "must be greater than zero"),
        ("-1.00", "EUR", "must be greater than zero"),
        ("1.001", "EUR", "more decimals than EUR allows"),
        ("10.5", "JPY", "more decimals than JPY allows"),
        (1.0, "EUR", "must be an exact decimal"),
    ],
)
def test_refund_bad_amounts_are_refused(customer, amount, currency, message):
    payment = pay(customer, amount="100", currency=currency)
    with unchanged_database(), pytest.raises(InvalidAmount, match=message):
        refund_payment(payment, amount=amount, by=None, reason="Customer asked")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_refund_needs_a_reason(customer, reason):
    payment = pay(customer)
    with unchanged_database(), pytest.raises(InvalidInput, match=r"Give a reason to refund payment P-\d+"):
        refund_payment(payment, amount="10.00", by=None, reason=reason)


def test_refund_of_pending_or_canceled_payment_is_refused(customer):
    pending = pay(customer, pending=True)
    with unchanged_database(), pytest.raises(InvalidState, match="is pending; only a settled payment can be refunded"):
        refund_payment(pending, amount="10.00", by=None, reason="Customer asked")
    canceled = cancel_payment(pay(customer), by=None, reason="Duplicate entry")
    with unchanged_database(), pytest.raises(InvalidState, match="is canceled; only a settled payment can be refunded"):
        refund_payment(canceled, amount="10.00", by=None, reason="Customer asked")


def test_refund_what_is_left_after_a_chargeback(customer):
    payment = pay(customer, amount="100.00")
    record_chargeback(payment, amount="60.00", by=None, reason="Dispute")
    with unchanged_database(), pytest.raises(InsufficientFunds, match="has only 40.00 EUR unallocated"):
        refund_payment(payment, amount="40.01", by=None, reason="Rest")
    refund_payment(payment, amount="40.00", by=None, reason="Rest")
    assert (payment.state, payment.unallocated, payment.allocation_status) == (
        "charged_back",
        D("0.00"),
        "fully_allocated",
    )
    assert_invariants()


# record_chargeback


def test_chargeback_more_than_available_is_refused(customer):
    payment = pay(customer, amount="100.00")
    refund_payment(payment, amount="30.00", by=None, reason="Partial refund")
    with (
        unchanged_database(),
        pytest.raises(
            InsufficientFunds,
            match=r"Payment P-\d+ has only 70.00 EUR that can be charged back \(amount less refunds and earlier "
            r"chargebacks\); you asked for 70.01 EUR",
        ),
    ):
        record_chargeback(payment, amount="70.01", by=None, reason="Dispute")


def test_second_chargeback_is_limited_to_what_is_left(customer):
    payment = pay(customer, amount="100.00")
    record_chargeback(payment, amount="40.00", by=None, reason="First dispute")
    with unchanged_database(), pytest.raises(InsufficientFunds, match="has only 60.00 EUR that can be charged back"):
        record_chargeback(payment, amount="60.01", by=None, reason="Second dispute")
    record_chargeback(payment, amount="60.00", by=None, reason="Second dispute")
    assert (payment.charged_back_total, payment.allocation_status) == (D("100.00"), "fully_allocated")
    assert_invariants()


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("0", "EUR", "must be greater than zero"),
        ("-5", "EUR", "must be greater than zero"),
        ("5.555", "EUR", "more decimals than EUR allows"),
        ("10.5", "JPY", "more decimals than JPY allows"),
    ],
)
def test_chargeback_bad_amounts_are_refused(customer, amount, currency, message):
    payment = pay(customer, amount="100", currency=currency)
    with unchanged_database(), pytest.raises(InvalidAmount, match=message):
        record_chargeback(payment, amount=amount, by=None, reason="Dispute")


@pytest.mark.parametrize("reason", ["", " ", None])
def test_chargeback_needs_a_reason(customer, reason):
    payment = pay(customer)
    with unchanged_database(), pytest.raises(InvalidInput, match=r"Give a reason to record a chargeback on payment P-"):
        record_chargeback(payment, amount="10.00", by=None, reason=reason)


def test_chargeback_of_pending_or_canceled_payment_is_refused(customer):
    pending = pay(customer, pending=True)
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match="is pending; only a settled payment can be charged back"),
    ):
        record_chargeback(pending, amount="10.00", by=None, reason="Dispute")
    canceled = cancel_payment(pay(customer), by=None, reason="Duplicate entry")
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match="is canceled; only a settled payment can be charged back"),
    ):
        record_chargeback(canceled, amount="10.00", by=None, reason="Dispute")


def test_chargeback_of_unallocated_money_reverses_nothing(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = pay(customer, amount="100.00")
    allocate(payment, invoice, "50.00", by=None)
    record_chargeback(payment, amount="50.00", by=None, reason="Dispute")
    invoice.refresh_from_db()
    assert invoice.payment_status == "paid"
    assert (payment.allocation_status, payment.unallocated) == ("fully_allocated", D("0.00"))
    assert_invariants()


# cancel_payment


def test_cancel_twice_is_refused(customer):
    payment = cancel_payment(pay(customer), by=None, reason="Entered twice")
    with unchanged_database(), pytest.raises(InvalidState, match=r"Payment P-\d+ is canceled; it cannot be canceled"):
        cancel_payment(payment, by=None, reason="Again")
    assert payment.cancel_reason == "Entered twice"


def test_cancel_a_charged_back_payment_is_refused(customer):
    payment = pay(customer)
    record_chargeback(payment, amount="10.00", by=None, reason="Dispute")
    with unchanged_database(), pytest.raises(InvalidState, match="is charged back; it cannot be canceled"):
        cancel_payment(payment, by=None, reason="Oops")


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_cancel_needs_a_reason(customer, reason):
    payment = pay(customer)
    with unchanged_database(), pytest.raises(InvalidInput, match=r"Give a reason to cancel payment P-\d+"):
        cancel_payment(payment, by=None, reason=reason)


def test_cancel_pending_payment(customer):
    payment = cancel_payment(pay(customer, pending=True), by=None, reason="Never arrived")
    assert (payment.state, payment.allocation_status, payment.unallocated) == ("canceled", "fully_allocated", D("0.00"))
    assert payment.canceled_at is not None
    assert_invariants()


def test_cancel_after_partial_refund(customer, provider, other_provider):
    a = make_invoice(customer=customer, provider=provider, total="40.00")
    b = make_invoice(customer=customer, provider=other_provider, total="40.00")
    payment = pay(customer, amount="100.00")
    allocate_many(payment, [(a, "40.00"), (b, "20.00")], by=None)
    refund_payment(payment, amount="10.00", by=None, reason="Overpaid")
    cancel_payment(payment, by=None, reason="Wrong customer")
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.payment_status, b.payment_status) == ("unpaid", "unpaid")
    assert (payment.allocated_total, payment.unallocated, payment.allocation_status) == (
        D("0.00"),
        D("0.00"),
        "fully_allocated",
    )
    assert_invariants()


def test_payments_in_yen_keep_whole_units(customer):
    payment = pay(customer, amount="12000", currency="JPY")
    refund_payment(payment, amount="500", by=None, reason="Discount")
    payment.refresh_from_db()
    assert (payment.amount, payment.unallocated) == (D("12000.00"), D("11500.00"))
    assert Payment.objects.filter(currency="JPY").count() == 1


def test_make_payment_factory_goes_through_the_service(customer):
    payment = make_payment(customer=customer, amount="5.00")
    assert payment.status_changes.count() == 2
