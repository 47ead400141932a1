"""Every amount check of allocate and deallocate at its limit, one minor unit over and one under.

Worked examples for the gaps mutation testing found (issue 18): a deallocation checked against
the invoice's paid total instead of the pair's net, an allocation cap that forgets credit notes,
and which row a reversal names.
"""

import datetime
from decimal import Decimal

import pytest

from allocations.models import Allocation
from allocations.services import (
    allocate,
    allocate_many,
    auto_allocate,
    auto_allocate_many,
    deallocate,
    plan_auto_allocation,
)
from billing.errors import ExceedsBalance, InsufficientFunds
from invoices.models import InvoiceStatusChange
from invoices.services import issue_credit_note
from ledger.core import pair_net
from payments.models import Payment
from tests.dbstate import unchanged_database
from tests.factories import TODAY, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def paid_by_two(customer, provider):
    """Invoice 100.00 paid 30.00 by payment A and 70.00 by payment B (fully paid).

    A also put 60.00 on another invoice, so no total of A's goes negative if a check lets
    too much back: only the pair's own net stands between a wrong amount and a negative pair (I3).
    """
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    elsewhere = make_invoice(customer=customer, provider=provider, total="60.00")
    a = make_payment(customer=customer, amount="100.00")
    b = make_payment(customer=customer, amount="70.00")
    allocate(a, invoice, "30.00", by=None)
    allocate(a, elsewhere, "60.00", by=None)
    allocate(b, invoice, "70.00", by=None)
    return invoice, a, b


# Deallocation: the pair's net bounds it, not what the invoice was paid in all


def test_deallocate_one_minor_unit_more_than_the_pairs_net_is_refused(paid_by_two):
    """30.01 is below the invoice's 100.00 paid, but payment A put only 30.00 on it."""
    invoice, a, b = paid_by_two
    with unchanged_database(), pytest.raises(ExceedsBalance, match="has only 30.00 EUR on invoice"):
        deallocate(a, invoice, "30.01", by=None, reason="Wrong invoice")


@pytest.mark.parametrize("amount", ["30.01", "69.99", "70.00", "99.99", "100.00"])
def test_deallocate_between_the_pairs_net_and_the_invoices_paid_total_is_refused(paid_by_two, amount):
    invoice, a, b = paid_by_two
    with unchanged_database(), pytest.raises(ExceedsBalance):
        deallocate(a, invoice, amount, by=None, reason="Wrong invoice")


def test_deallocate_exactly_the_pairs_net_empties_that_pair_only(paid_by_two):
    invoice, a, b = paid_by_two
    row = deallocate(a, invoice, "30.00", by=None, reason="Wrong invoice")
    assert row.amount == D("-30.00")
    assert (pair_net(a.pk, invoice.pk), pair_net(b.pk, invoice.pk)) == (D("0.00"), D("70.00"))
    invoice.refresh_from_db()
    assert (invoice.paid_total, invoice.payment_status, invoice.balance_due) == (
        D("70.00"),
        "partially_paid",
        D("30.00"),
    )
    assert (a.allocated_total, a.unallocated, a.allocation_status) == (D("60.00"), D("40.00"), "partially_allocated")
    assert_invariants()


def test_deallocate_one_minor_unit_less_than_the_pairs_net_leaves_a_cent(paid_by_two):
    invoice, a, b = paid_by_two
    deallocate(a, invoice, "29.99", by=None, reason="Wrong invoice")
    assert pair_net(a.pk, invoice.pk) == D("0.01")
    invoice.refresh_from_db()
    assert (invoice.paid_total, invoice.balance_due) == (D("70.01"), D("29.99"))
    # The last cent is still the pair's to take back, and nothing more.
    with unchanged_database(), pytest.raises(ExceedsBalance):
        deallocate(a, invoice, "0.02", by=None, reason="Wrong invoice")
    deallocate(a, invoice, "0.01", by=None, reason="Wrong invoice")
    assert pair_net(a.pk, invoice.pk) == D("0.00")
    assert_invariants()


def test_deallocate_the_whole_pair_takes_that_pairs_net_not_the_invoices(paid_by_two):
    invoice, a, b = paid_by_two
    row = deallocate(b, invoice, by=None, reason="Wrong invoice")
    assert row.amount == D("-70.00")
    assert (pair_net(a.pk, invoice.pk), pair_net(b.pk, invoice.pk)) == (D("30.00"), D("0.00"))
    assert_invariants()


def test_deallocate_a_pair_with_nothing_left_is_refused_while_the_invoice_is_still_paid(paid_by_two):
    invoice, a, b = paid_by_two
    deallocate(a, invoice, by=None, reason="Wrong invoice")
    with unchanged_database(), pytest.raises(ExceedsBalance, match="has nothing allocated to invoice"):
        deallocate(a, invoice, "0.01", by=None, reason="Again")


# Which row a reversal names: the pair's newest positive row


def test_a_reversal_names_the_pairs_newest_positive_row(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    other_invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    other_payment = make_payment(customer=customer, amount="100.00")
    first = allocate(payment, invoice, "10.00", by=None)
    second = allocate(payment, invoice, "20.00", by=None)
    # Newer rows of the same payment on another invoice, and of another payment on this invoice.
    allocate(payment, other_invoice, "5.00", by=None)
    allocate(other_payment, invoice, "5.00", by=None)
    reversal = deallocate(payment, invoice, "1.00", by=None, reason="Too much")
    assert reversal.reverses_id == second.pk
    # The newest row of the pair is now the (negative) reversal: the next names a positive one.
    again = deallocate(payment, invoice, "1.00", by=None, reason="Too much")
    assert again.reverses_id == second.pk != first.pk
    assert (reversal.payment_id, reversal.invoice_id) == (payment.pk, invoice.pk)
    assert Allocation.objects.filter(reverses=second).count() == 2


# Allocation: the invoice's balance due (total - credited - paid) and the payment's money left


@pytest.mark.parametrize(
    ("amount", "refused"),
    [("49.99", False), ("50.00", False), ("50.01", True)],
)
def test_allocate_around_a_balance_that_credit_notes_and_a_payment_lowered(customer, provider, amount, refused):
    """Invoice 100.00, credited 30.00, paid 20.00: 50.00 is left to pay (not 80.00, not 70.00)."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    issue_credit_note(invoice, amount="30.00", by=None, reason="Discount")
    first = make_payment(customer=customer, amount="20.00")
    allocate(first, invoice, "20.00", by=None)
    payment = make_payment(customer=customer, amount="200.00")
    if refused:
        with unchanged_database(), pytest.raises(ExceedsBalance, match="has only 50.00 EUR left to pay"):
            allocate(payment, invoice, amount, by=None)
        return
    allocate(payment, invoice, amount, by=None)
    invoice.refresh_from_db()
    assert invoice.balance_due == D("50.00") - D(amount)
    assert invoice.payment_status == ("paid" if amount == "50.00" else "partially_paid")
    assert_invariants()


@pytest.mark.parametrize(("amount", "refused"), [("69.99", False), ("70.00", False), ("70.01", True)])
def test_allocate_after_a_credit_note_before_any_payment(customer, provider, amount, refused):
    """A credit note first: the cap is what is left of the net, 70.00, though nothing was paid."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    issue_credit_note(invoice, amount="30.00", by=None, reason="Discount")
    payment = make_payment(customer=customer, amount="100.00")
    if refused:
        with unchanged_database(), pytest.raises(ExceedsBalance):
            allocate_many(payment, [(invoice, amount)], by=None)
    else:
        allocate_many(payment, [(invoice, amount)], by=None)
        assert pair_net(payment.pk, invoice.pk) == D(amount)


def test_allocate_to_a_fully_credited_invoice_is_refused(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    issue_credit_note(invoice, amount="100.00", by=None, reason="Cancelled")
    payment = make_payment(customer=customer, amount="100.00")
    with unchanged_database(), pytest.raises(ExceedsBalance):
        allocate(payment, invoice, "0.01", by=None)


@pytest.mark.parametrize(("amount", "refused"), [("39.99", False), ("40.00", False), ("40.01", True)])
def test_allocate_around_what_the_payment_has_left(customer, provider, amount, refused):
    """Payment 100.00 with 60.00 already on another invoice: 40.00 is left to allocate."""
    invoice = make_invoice(customer=customer, provider=provider, total="500.00")
    elsewhere = make_invoice(customer=customer, provider=provider, total="60.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, elsewhere, "60.00", by=None)
    if refused:
        with unchanged_database(), pytest.raises(InsufficientFunds, match="has only 40.00 EUR left"):
            allocate(payment, invoice, amount, by=None)
        return
    allocate(payment, invoice, amount, by=None)
    payment.refresh_from_db()
    assert payment.unallocated == D("40.00") - D(amount)
    assert payment.allocation_status == ("fully_allocated" if amount == "40.00" else "partially_allocated")


@pytest.mark.parametrize(("second", "refused"), [("19.99", False), ("20.00", False), ("20.01", True)])
def test_a_split_is_checked_as_a_sum_at_the_payments_limit(customer, provider, second, refused):
    one = make_invoice(customer=customer, provider=provider, total="100.00")
    two = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="50.00")
    if refused:
        with unchanged_database(), pytest.raises(InsufficientFunds):
            allocate_many(payment, [(one, "30.00"), (two, second)], by=None)
    else:
        allocate_many(payment, [(one, "30.00"), (two, second)], by=None)
        payment.refresh_from_db()
        assert payment.unallocated == D("20.00") - D(second)


def test_a_second_payment_on_a_partly_paid_invoice_is_capped_at_what_is_left(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    first = make_payment(customer=customer, amount="35.00")
    second = make_payment(customer=customer, amount="100.00")
    allocate(first, invoice, "35.00", by=None)
    with unchanged_database(), pytest.raises(ExceedsBalance, match="has only 65.00 EUR left to pay"):
        allocate(second, invoice, "65.01", by=None)
    allocate(second, invoice, "65.00", by=None)
    invoice.refresh_from_db()
    assert (invoice.paid_total, invoice.payment_status) == (D("100.00"), "paid")
    assert_invariants()


def test_yen_limits_are_one_whole_yen(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="1000", currency="JPY")
    issue_credit_note(invoice, amount="300", by=None, reason="Discount")
    payment = make_payment(customer=customer, amount="2000", currency="JPY")
    with unchanged_database(), pytest.raises(ExceedsBalance):
        allocate(payment, invoice, "701", by=None)
    allocate(payment, invoice, "700", by=None)
    with unchanged_database(), pytest.raises(ExceedsBalance):
        deallocate(payment, invoice, "701", by=None, reason="Wrong invoice")
    deallocate(payment, invoice, "699", by=None, reason="Wrong invoice")
    assert pair_net(payment.pk, invoice.pk) == D("1")


# auto_allocate_many (the bank import's and the nightly run's set-based path) at its limits


def test_auto_allocate_many_pays_an_invoice_of_a_cent_and_passes_over_a_payment_with_nothing_left(customer, provider):
    cent = make_invoice(customer=customer, provider=provider, total="0.01")
    spent = make_payment(customer=customer, amount="5.00")
    allocate(spent, make_invoice(customer=customer, provider=provider, total="5.00"), "5.00", by=None)
    payment = make_payment(customer=customer, amount="0.01")
    (nothing, none_planned), (rows, plan) = auto_allocate_many([spent, payment], preferred=[[], []], by=None)
    assert (nothing, none_planned) == ([], [])
    assert [(row.invoice_id, row.amount) for row in rows] == [(cent.pk, D("0.01"))]
    assert [(split.amount, split.reason) for split in plan] == [(D("0.01"), "exact match of 1 invoice")]
    cent.refresh_from_db()
    assert cent.payment_status == "paid"
    assert_invariants()


def test_auto_allocate_many_a_payment_naming_nothing_gets_the_rule_over_every_open_invoice(customer, provider):
    """In a chunk, another payment's named invoice must not stand in for the customer's whole list:
    the payment that names nothing pays the older invoice it matches exactly."""
    older = make_invoice(customer=customer, provider=provider, total="40.00")
    named = make_invoice(customer=customer, provider=provider, total="100.00")
    silent = make_payment(customer=customer, amount="40.00")
    naming = make_payment(customer=customer, amount="100.00")
    (rows, _), (named_rows, _) = auto_allocate_many([silent, naming], preferred=[[], [named.number]], by=None)
    assert [(row.invoice_id, row.amount) for row in rows] == [(older.pk, D("40.00"))]
    assert [(row.invoice_id, row.amount) for row in named_rows] == [(named.pk, D("100.00"))]
    assert_invariants()


def test_allocate_without_a_note_records_no_reason(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="10.00")
    row = allocate(make_payment(customer=customer, amount="10.00"), invoice, "10.00", by=None)
    assert row.reason == "" and Allocation.objects.get(pk=row.pk).reason == ""


@pytest.mark.parametrize("money", ["0.50", "1.00"])
def test_auto_allocate_spends_a_payment_of_one_unit_or_less(customer, provider, money):
    invoice = make_invoice(customer=customer, provider=provider, total="30.00")
    payment = make_payment(customer=customer, amount=money)
    rows = auto_allocate(payment, by=None)
    assert [(row.invoice_id, row.amount) for row in rows] == [(invoice.pk, D(money))]


def test_a_dry_run_plans_around_what_earlier_payments_take_to_the_cent(customer, provider):
    """plan_auto_allocation with already_planned (the dry runs of the import and the nightly run):
    an invoice the earlier payments fill is passed over; one they leave 0.50 on still takes it."""
    full = make_invoice(
        customer=customer, provider=provider, total="20.00", due_date=TODAY - datetime.timedelta(days=9)
    )
    half = make_invoice(
        customer=customer, provider=provider, total="30.00", due_date=TODAY - datetime.timedelta(days=8)
    )
    rest = make_invoice(
        customer=customer, provider=provider, total="40.00", due_date=TODAY - datetime.timedelta(days=7)
    )
    payment = make_payment(customer=customer, amount="10.00")
    plan = plan_auto_allocation(payment, already_planned={full.pk: D("20.00"), half.pk: D("29.50")})
    assert [(split.invoice.pk, split.amount) for split in plan] == [(half.pk, D("0.50")), (rest.pk, D("9.50"))]
    assert Allocation.objects.count() == 0


def test_auto_allocate_reads_the_payment_afresh_when_the_callers_copy_is_stale(customer, provider):
    """A copy read before a deallocation elsewhere (it thinks nothing is left) and one read before an
    allocation elsewhere (it thinks more is left): auto_allocate spends what the ledger says."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    other = make_invoice(customer=customer, provider=provider, total="60.00")
    payment = make_payment(customer=customer, amount="60.00")
    allocate(payment, other, "60.00", by=None)
    thinks_nothing_left = Payment.objects.get(pk=payment.pk)
    deallocate(payment, other, "60.00", by=None, reason="Wrong invoice")
    rows = auto_allocate(thinks_nothing_left, by=None)
    assert sum(row.amount for row in rows) == D("60.00")

    second = make_payment(customer=customer, amount="40.00")
    thinks_forty_left = Payment.objects.get(pk=second.pk)
    allocate(second, invoice, "30.00", by=None)  # 10.00 is left, the copy still says 40.00
    rows = auto_allocate(thinks_forty_left, by=None)
    assert [row.amount for row in rows] == [D("10.00")]
    assert_invariants()


@pytest.mark.parametrize(
    ("note", "cause"), [("Remittance", "allocation of payment {}: Remittance"), ("", "allocation of payment {}")]
)
def test_the_status_history_says_which_payment_moved_the_status_and_why(customer, provider, note, cause):
    invoice = make_invoice(customer=customer, provider=provider, total="10.00")
    payment = make_payment(customer=customer, amount="10.00")
    allocate(payment, invoice, "10.00", by=None, note=note)
    change = InvoiceStatusChange.objects.filter(invoice=invoice, field="payment_status").latest("id")
    assert (change.new, change.reason) == ("paid", cause.format(payment))


def test_auto_allocate_plans_again_when_another_clerk_pays_a_planned_invoice_first(customer, provider, monkeypatch):
    """Between the unlocked plan and the locked write another clerk pays the invoice the plan
    chose: that attempt is refused and the next one plans on what is left (the retry loop)."""
    from allocations import services

    first = make_invoice(customer=customer, provider=provider, total="50.00")
    second = make_invoice(customer=customer, provider=provider, total="50.00")
    payment = make_payment(customer=customer, amount="50.00")
    other_clerks = make_payment(customer=customer, amount="50.00")
    real_plan = services.plan_auto_allocation
    plans = []

    def plan_then_someone_pays(payment, **kwargs):
        plan = real_plan(payment, **kwargs)
        if not plans:  # the first attempt's plan is overtaken before it is written
            allocate(other_clerks, plan[0].invoice, "50.00", by=None)
        plans.append([split.invoice.pk for split in plan])
        return plan

    monkeypatch.setattr(services, "plan_auto_allocation", plan_then_someone_pays)
    rows = services.auto_allocate(payment, by=None)

    assert plans == [[first.pk], [second.pk]]
    assert [(row.invoice_id, row.amount) for row in rows] == [(second.pk, D("50.00"))]
    assert_invariants()
