"""Every amount check of the payment services at its limit, one minor unit over and one under,
and the idempotency of record_payment with each compared field changed alone (issue 18)."""

import datetime
from decimal import Decimal

import pytest

from allocations.models import Allocation
from allocations.services import allocate, deallocate
from billing.errors import DuplicateReference, InsufficientFunds
from ledger.core import pair_net
from payments.services import record_chargeback, record_payment, refund_payment
from tests.dbstate import unchanged_database
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal
RECEIVED = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture
def partly_allocated(customer, provider):
    """Payment 100.00 with 60.00 on an invoice: 40.00 unallocated, 100.00 available."""
    invoice = make_invoice(customer=customer, provider=provider, total="60.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "60.00", by=None)
    return payment, invoice


# refund_payment: only the unallocated part


@pytest.mark.parametrize(("amount", "refused"), [("39.99", False), ("40.00", False), ("40.01", True)])
def test_refund_around_the_unallocated_amount(partly_allocated, amount, refused):
    payment, invoice = partly_allocated
    if refused:
        with unchanged_database(), pytest.raises(InsufficientFunds):
            refund_payment(payment, amount=amount, by=None, reason="Customer asked")
        return
    refund_payment(payment, amount=amount, by=None, reason="Customer asked")
    payment.refresh_from_db()
    assert (payment.refunded_total, payment.unallocated) == (D(amount), D("40.00") - D(amount))
    assert payment.allocation_status == ("fully_allocated" if amount == "40.00" else "partially_allocated")
    assert pair_net(payment.pk, invoice.pk) == D("60.00")
    assert_invariants()


# record_chargeback: up to what is available, allocated or not; newest allocations give way first


@pytest.mark.parametrize(("amount", "refused"), [("99.99", False), ("100.00", False), ("100.01", True)])
def test_chargeback_around_the_available_amount(partly_allocated, amount, refused):
    payment, invoice = partly_allocated
    if refused:
        with unchanged_database(), pytest.raises(InsufficientFunds):
            record_chargeback(payment, amount=amount, by=None, reason="Card dispute")
        return
    record_chargeback(payment, amount=amount, by=None, reason="Card dispute")
    payment.refresh_from_db()
    left = D("100.00") - D(amount)
    # What stays allocated fits what is left (newest_first), and no more was taken than needed.
    assert (payment.available, payment.allocated_total) == (left, min(D("60.00"), left))
    assert pair_net(payment.pk, invoice.pk) == min(D("60.00"), left)
    assert_invariants()


@pytest.mark.parametrize(("amount", "reversed_"), [("39.99", "0.00"), ("40.00", "0.00"), ("40.01", "0.01")])
def test_chargeback_reverses_allocations_only_beyond_the_unallocated_money(partly_allocated, amount, reversed_):
    payment, invoice = partly_allocated
    record_chargeback(payment, amount=amount, by=None, reason="Card dispute")
    assert pair_net(payment.pk, invoice.pk) == D("60.00") - D(reversed_)
    invoice.refresh_from_db()
    assert invoice.payment_status == ("paid" if reversed_ == "0.00" else "partially_paid")


def test_chargeback_takes_the_newest_allocation_first(customer, provider):
    older = make_invoice(customer=customer, provider=provider, total="50.00")
    newer = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, older, "50.00", by=None)
    allocate(payment, newer, "50.00", by=None)
    record_chargeback(payment, amount="50.01", by=None, reason="Card dispute")
    assert (pair_net(payment.pk, older.pk), pair_net(payment.pk, newer.pk)) == (D("49.99"), D("0.00"))
    assert_invariants()


def test_chargeback_takes_the_newest_allocation_first_even_on_the_older_invoice(customer, provider, clerk):
    """Newest is the allocation's age, not the invoice's: the older invoice was paid last."""
    older = make_invoice(customer=customer, provider=provider, total="50.00")
    newer = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, newer, "50.00", by=None)
    allocate(payment, older, "50.00", by=None)
    record_chargeback(payment, amount="50.01", by=clerk, reason="Card dispute")
    assert (pair_net(payment.pk, older.pk), pair_net(payment.pk, newer.pk)) == (D("0.00"), D("49.99"))
    # The reversals are the clerk's, with the chargeback as their reason.
    reversals = Allocation.objects.filter(payment=payment, amount__lt=0).order_by("id")
    assert [(r.invoice_id, r.amount, r.created_by) for r in reversals] == [
        (older.pk, D("-50.00"), clerk),
        (newer.pk, D("-0.01"), clerk),
    ]
    assert all(r.reason.startswith("chargeback #") for r in reversals)
    assert_invariants()


def test_chargeback_order_reads_only_this_payments_allocations(customer, provider):
    """Another payment allocated later to the first invoice does not make that invoice this payment's newest."""
    first = make_invoice(customer=customer, provider=provider, total="80.00")
    second = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, first, "50.00", by=None)
    allocate(payment, second, "50.00", by=None)
    later = make_payment(customer=customer, amount="30.00")
    allocate(later, first, "30.00", by=None)  # the newest allocation on `first`, of another payment
    record_chargeback(payment, amount="50.01", by=None, reason="Card dispute")
    assert (pair_net(payment.pk, first.pk), pair_net(payment.pk, second.pk)) == (D("49.99"), D("0.00"))
    assert pair_net(later.pk, first.pk) == D("30.00")
    assert_invariants()


def test_chargeback_ages_a_pair_by_its_newest_allocation_not_by_a_later_deallocation(customer, provider):
    """Taking 10.00 back off the first invoice is not allocating to it: the second stays the newest."""
    first = make_invoice(customer=customer, provider=provider, total="50.00")
    second = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, first, "50.00", by=None)
    allocate(payment, second, "50.00", by=None)
    deallocate(payment, first, "10.00", by=None, reason="Wrong invoice")
    record_chargeback(payment, amount="60.01", by=None, reason="Card dispute")  # 50.01 more than the 10.00 free
    assert (pair_net(payment.pk, first.pk), pair_net(payment.pk, second.pk)) == (D("39.99"), D("0.00"))
    assert_invariants()


@pytest.mark.parametrize("smallest", ["1.00", "0.01"])
def test_chargeback_reverses_an_allocation_of_one_unit_or_less(customer, provider, smallest):
    small = make_invoice(customer=customer, provider=provider, total="50.00")
    large = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="51.00")
    allocate(payment, small, smallest, by=None)
    allocate(payment, large, "50.00", by=None)
    record_chargeback(payment, amount="51.00", by=None, reason="Card dispute")
    assert (pair_net(payment.pk, small.pk), pair_net(payment.pk, large.pk)) == (D("0.00"), D("0.00"))
    assert_invariants()


# record_payment: same reference, each compared field changed alone by the smallest step


def pay(customer, **changes):
    data = {"amount": "25.00", "currency": "EUR", "method": "bank_transfer", "received_at": RECEIVED, **changes}
    return record_payment(customer=customer, reference="BANK-7", by=None, **data)


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "25.01"},
        {"amount": "24.99"},
        {"currency": "GBP"},
        {"currency": "JPY", "amount": "25"},
        {"method": "card"},
        {"received_at": RECEIVED + datetime.timedelta(seconds=1)},
    ],
)
def test_same_reference_with_one_field_changed_by_the_smallest_step_is_refused(customer, changes):
    first = pay(customer)
    with unchanged_database(), pytest.raises(DuplicateReference):
        pay(customer, **changes)
    assert pay(customer).pk == first.pk


def test_same_reference_from_another_customer_of_the_same_name_is_refused(customer):
    pay(customer)
    twin = CustomerFactory(name=customer.name)
    with unchanged_database(), pytest.raises(DuplicateReference):
        pay(twin)


def test_same_reference_with_the_amount_written_differently_is_the_same_payment(customer):
    first = pay(customer)
    with unchanged_database():
        assert pay(customer, amount="25").pk == first.pk
        assert pay(customer, amount=D("25.000")).pk == first.pk
