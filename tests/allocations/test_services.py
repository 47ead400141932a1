"""Allocation services: allocate, allocate_many, deallocate; every bad input leaves the database unchanged."""

from decimal import Decimal

import pytest

from allocations.models import Allocation
from allocations.services import allocate, allocate_many, deallocate
from billing.errors import (
    BillingError,
    ExceedsBalance,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    PartyMismatch,
)
from invoices.services import issue_credit_note, void_invoice
from payments.services import cancel_payment, record_chargeback, settle_payment
from tests.dbstate import unchanged_database
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def invoice(customer, provider):
    return make_invoice(customer=customer, provider=provider, total="100.00")


@pytest.fixture
def payment(customer):
    return make_payment(customer=customer, amount="150.00")


def test_allocate_records_who_and_why(invoice, payment, clerk):
    row = allocate(payment, invoice, "40.00", by=clerk, note="Remittance says ACME-000001")
    assert (row.amount, row.created_by, row.reason, row.reverses) == (
        D("40.00"),
        clerk,
        "Remittance says ACME-000001",
        None,
    )
    invoice.refresh_from_db()
    assert (invoice.payment_status, invoice.paid_total) == ("partially_paid", D("40.00"))
    assert (payment.allocation_status, payment.allocated_total, payment.unallocated) == (
        "partially_allocated",
        D("40.00"),
        D("110.00"),
    )
    assert_invariants()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "must be greater than zero; got 0.00 EUR"),
        ("-10.00", "must be greater than zero; got -10.00 EUR"),
        ("10.005", r"The amount for ACME-000001 10.005 EUR has more decimals than EUR allows \(2\)"),
        (10.0, "must be an exact decimal, not float"),
        ("", "is not a number"),
    ],
)
def test_allocate_bad_amounts_are_refused(invoice, payment, amount, message):
    with unchanged_database(), pytest.raises(InvalidAmount, match=message):
        allocate(payment, invoice, amount, by=None)


def test_allocate_fractional_yen_is_refused(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="1000", currency="JPY")
    payment = make_payment(customer=customer, amount="1000", currency="JPY")
    with unchanged_database(), pytest.raises(InvalidAmount, match=r"10.5 JPY has more decimals than JPY allows \(0\)"):
        allocate(payment, invoice, "10.5", by=None)


def test_allocate_more_than_left_on_payment_is_refused(customer, provider, payment):
    big = make_invoice(customer=customer, provider=provider, total="500.00")
    allocate(payment, big, "100.00", by=None)
    with (
        unchanged_database(),
        pytest.raises(
            InsufficientFunds, match=r"Payment P-\d+ has only 50.00 EUR left to allocate; you asked for 50.01 EUR"
        ),
    ):
        allocate(payment, big, "50.01", by=None)


def test_allocate_more_than_due_on_invoice_is_refused(invoice, payment):
    allocate(payment, invoice, "70.00", by=None)
    with (
        unchanged_database(),
        pytest.raises(
            ExceedsBalance, match="Invoice ACME-000001 has only 30.00 EUR left to pay; you asked to allocate 30.01 EUR"
        ),
    ):
        allocate(payment, invoice, "30.01", by=None)


def test_allocate_to_an_overpaid_invoice_is_refused(customer, invoice, payment):
    allocate(payment, invoice, "100.00", by=None)
    issue_credit_note(invoice, amount="10.00", by=None, reason="Discount")
    other = make_payment(customer=customer, amount="10.00")
    with unchanged_database(), pytest.raises(ExceedsBalance, match="has only 0.00 EUR left to pay"):
        allocate(other, invoice, "1.00", by=None)


def test_allocate_to_another_customers_invoice_is_refused(provider, payment):
    theirs = make_invoice(customer=CustomerFactory(name="Grace Hopper"), provider=provider)
    with (
        unchanged_database(),
        pytest.raises(
            PartyMismatch,
            match=r"Invoice ACME-000001 belongs to Grace Hopper, but payment P-\d+ came from Ada Lovelace",
        ),
    ):
        allocate(payment, theirs, "10.00", by=None)


def test_allocate_across_currencies_is_refused(customer, provider, payment):
    in_usd = make_invoice(customer=customer, provider=provider, currency="USD")
    with (
        unchanged_database(),
        pytest.raises(PartyMismatch, match=r"Invoice ACME-000001 is in USD, but payment P-\d+ is in EUR"),
    ):
        allocate(payment, in_usd, "10.00", by=None)


def test_allocate_to_void_or_draft_invoice_is_refused(customer, provider, payment):
    voided = void_invoice(make_invoice(customer=customer, provider=provider), by=None, reason="Duplicate")
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match="Invoice ACME-000001 is void; only open invoices can be paid"),
    ):
        allocate(payment, voided, "10.00", by=None)
    draft = make_invoice(customer=customer, provider=provider, issue=False)
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match=r"Invoice Draft #\d+ is draft; only open invoices can be paid"),
    ):
        allocate(payment, draft, "10.00", by=None)


def test_allocate_from_canceled_payment_is_refused(customer, invoice):
    canceled = cancel_payment(make_payment(customer=customer), by=None, reason="Duplicate entry")
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match=r"Payment P-\d+ is canceled; only a settled payment can be allocated"),
    ):
        allocate(canceled, invoice, "10.00", by=None)


def test_allocate_from_charged_back_payment_is_refused(customer, invoice):
    charged_back = make_payment(customer=customer, amount="100.00")
    record_chargeback(charged_back, amount="10.00", by=None, reason="Dispute")
    assert charged_back.unallocated == D("90.00")
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match="is charged back; only a settled payment can be allocated"),
    ):
        allocate(charged_back, invoice, "10.00", by=None)


def test_allocate_from_pending_payment_is_refused_until_settled(customer, invoice):
    pending = make_payment(customer=customer, pending=True)
    with unchanged_database(), pytest.raises(InvalidState, match="is pending; only a settled payment can be allocated"):
        allocate(pending, invoice, "10.00", by=None)
    settle_payment(pending, by=None)
    allocate(pending, invoice, "10.00", by=None)
    assert_invariants()


# allocate_many


def test_allocate_many_needs_splits(payment):
    with (
        unchanged_database(),
        pytest.raises(InvalidInput, match="Choose at least one invoice and an amount to allocate"),
    ):
        allocate_many(payment, [], by=None)


def test_allocate_many_refuses_an_invoice_twice(invoice, payment):
    with unchanged_database(), pytest.raises(InvalidInput, match="Invoice ACME-000001 appears twice in the split"):
        allocate_many(payment, [(invoice, "10.00"), (invoice, "20.00")], by=None)


def test_allocate_many_is_all_or_nothing(customer, provider, payment, invoice):
    other_customers = make_invoice(customer=CustomerFactory(), provider=provider)
    voided = void_invoice(make_invoice(customer=customer, provider=provider), by=None, reason="Duplicate")
    for bad, error in [
        ((other_customers, "10.00"), PartyMismatch),
        ((voided, "10.00"), InvalidState),
        ((make_invoice(customer=customer, provider=provider, total="5.00"), "6.00"), ExceedsBalance),
    ]:
        with unchanged_database(), pytest.raises(error):
            allocate_many(payment, [(invoice, "50.00"), bad], by=None)
    assert not Allocation.objects.exists()


def test_allocate_many_checks_the_sum_against_the_payment(customer, provider, payment):
    a = make_invoice(customer=customer, provider=provider, total="100.00")
    b = make_invoice(customer=customer, provider=provider, total="100.00")
    with (
        unchanged_database(),
        pytest.raises(InsufficientFunds, match="has only 150.00 EUR left to allocate; you asked for 150.01 EUR"),
    ):
        allocate_many(payment, [(a, "100.00"), (b, "50.01")], by=None)


# deallocate


def test_deallocate_part_then_the_rest(invoice, payment, clerk):
    first = allocate(payment, invoice, "60.00", by=None)
    allocate(payment, invoice, "40.00", by=None)
    row = deallocate(payment, invoice, "30.00", by=clerk, reason="Wrong invoice")
    assert (row.amount, row.reverses_id, row.created_by, row.reason) == (
        D("-30.00"),
        first.pk + 1,
        clerk,
        "Wrong invoice",
    )
    assert (invoice.payment_status, invoice.paid_total) == ("partially_paid", D("70.00"))
    rest = deallocate(payment, invoice, by=clerk, reason="All of it")
    assert rest.amount == D("-70.00")
    assert (invoice.payment_status, payment.allocation_status, payment.unallocated) == (
        "unpaid",
        "unallocated",
        D("150.00"),
    )
    assert_invariants()


def test_deallocate_more_than_the_pairs_net_is_refused(customer, provider, payment, invoice):
    other = make_invoice(customer=customer, provider=provider, total="50.00")
    allocate_many(payment, [(invoice, "60.00"), (other, "50.00")], by=None)
    deallocate(payment, invoice, "20.00", by=None, reason="Correction")
    # The payment has 90.00 allocated in all, but only 40.00 on this pair.
    with (
        unchanged_database(),
        pytest.raises(
            ExceedsBalance,
            match=r"Payment P-\d+ has only 40.00 EUR on invoice ACME-000001; you asked to deallocate 40.01 EUR",
        ),
    ):
        deallocate(payment, invoice, "40.01", by=None, reason="Correction")


def test_deallocate_with_nothing_allocated_is_refused(invoice, payment):
    with (
        unchanged_database(),
        pytest.raises(ExceedsBalance, match=r"Payment P-\d+ has nothing allocated to invoice ACME-000001"),
    ):
        deallocate(payment, invoice, by=None, reason="Correction")
    allocate(payment, invoice, "10.00", by=None)
    deallocate(payment, invoice, by=None, reason="Correction")
    with unchanged_database(), pytest.raises(ExceedsBalance, match="has nothing allocated"):
        deallocate(payment, invoice, "1.00", by=None, reason="Correction")


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "must be greater than zero"), ("-1.00", "must be greater than zero"), ("1.001", "more decimals than EUR")],
)
def test_deallocate_bad_amounts_are_refused(invoice, payment, amount, message):
    allocate(payment, invoice, "10.00", by=None)
    with unchanged_database(), pytest.raises(InvalidAmount, match=message):
        deallocate(payment, invoice, amount, by=None, reason="Correction")


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_deallocate_needs_a_reason(invoice, payment, reason):
    allocate(payment, invoice, "10.00", by=None)
    with unchanged_database(), pytest.raises(InvalidInput, match="Give a reason to deallocate payment"):
        deallocate(payment, invoice, by=None, reason=reason)


def test_deallocate_an_overallocated_payment_after_manual_chargeback(customer, invoice, settings):
    settings.SETTLE_CHARGEBACK_REVERSAL = "manual"
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "100.00", by=None)
    record_chargeback(payment, amount="100.00", by=None, reason="Card dispute")
    assert (payment.allocation_status, payment.unallocated) == ("overallocated", D("-100.00"))
    deallocate(payment, invoice, by=None, reason="Invoice reopens")
    invoice.refresh_from_db()
    assert (payment.allocation_status, invoice.payment_status) == ("fully_allocated", "unpaid")
    assert_invariants()


def test_error_classes_are_billing_errors():
    for error in (ExceedsBalance, InsufficientFunds, InvalidAmount, InvalidInput, InvalidState, PartyMismatch):
        assert issubclass(error, BillingError)


def test_allocating_an_orders_invoice_from_a_copy_refreshes_the_order_without_looking_it_up(customer, provider):
    """allocate_many takes an invoice's order from the caller's copy (it never changes): the
    order is locked and refreshed all the same, and a copy naming no order where the ledger
    has one is refused, nothing written."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from orders.services import create_order, invoice_order, record_delivery
    from tests.factories import make_payment

    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Chair", 2, "25.00")], by=None)
    record_delivery(order, quantities={order.lines.get(): 2}, by=None)
    invoice = invoice_order(order, by=None)
    payment = make_payment(customer=customer, amount="50.00")

    stale = type(invoice).objects.get(pk=invoice.pk)
    stale.__dict__["order_id"] = None  # a copy that is not the ledger's
    with unchanged_database(), pytest.raises(InvalidInput, match="not the one in the ledger"):
        allocate_many(payment, [(stale, "10.00")], by=None)

    with CaptureQueriesContext(connection) as queries:
        allocate_many(payment, [(invoice, "50.00")], by=None)
    order_locks = [
        q["sql"] for q in queries.captured_queries if 'FROM "orders_order"' in q["sql"] and "FOR UPDATE" in q["sql"]
    ]
    assert order_locks and all("invoices_invoice" not in sql for sql in order_locks)  # by id, not looked up
    assert Order.objects.get(pk=order.pk).payment_status == "paid"
    assert_invariants()


def test_allocating_invoices_without_orders_locks_no_order(invoice, payment):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        allocate_many(payment, [(invoice, "40.00")], by=None)
    assert not [q for q in queries.captured_queries if "orders_order" in q["sql"]]
