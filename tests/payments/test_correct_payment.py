"""correct_payment (DESIGN.md sections 7 and 10): a payment recorded with the wrong amount or
value date is canceled, names its replacement, and its allocations move to the replacement
where they still fit, oldest allocation first, in one transaction.

Worked examples with every figure asserted, the refusals (each leaving the database exactly
as it was), the journal and reconciliation after a correction, and a correction racing an
allocation in real threads against PostgreSQL (I8).
"""

from __future__ import annotations

import datetime
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from allocations.models import Allocation
from allocations.services import allocate, allocate_many, deallocate
from billing.errors import ExceedsBalance, InvalidAmount, InvalidInput, InvalidState
from documents.services import issue_statement
from invoices.models import Invoice
from invoices.services import issue_credit_note
from ledger.core import pair_net
from ledger.models import Entry
from ledger.selectors import balance_as_of
from payments.models import Payment
from payments.services import (
    cancel_payment,
    correct_payment,
    record_chargeback,
    record_correction,
    record_payment,
    refund_payment,
)
from reconciliation.journal import find_journal_drift
from tests.dbstate import unchanged_database
from tests.factories import ProviderFactory, make_invoice, make_payment
from tests.invariants import assert_invariants
from tests.ledger.test_concurrency import assert_no_deadlock_or_crash, outcomes, run_together

pytestmark = pytest.mark.django_db

D = Decimal
RECEIVED = datetime.datetime(2026, 11, 10, 9, 30, tzinfo=datetime.UTC)
EARLIER = datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.UTC)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def books(customer, provider, clerk):
    """P of 150.00 (ref BANK-1, received 10 Nov): 80.00 to A (allocated first), 70.00 to B."""
    a = make_invoice(customer=customer, provider=provider, total="80.00")
    b = make_invoice(customer=customer, provider=provider, total="70.00")
    payment = make_payment(customer=customer, amount="150.00", reference="BANK-1", received_at=RECEIVED)
    allocate(payment, a, "80.00", by=clerk)
    allocate(payment, b, "70.00", by=clerk)
    return payment, a, b


def nets_of(payment) -> dict[int, Decimal]:
    rows = Allocation.objects.filter(payment=payment).values_list("invoice_id", flat=True).distinct()
    return {invoice_id: pair_net(payment.pk, invoice_id) for invoice_id in rows}


# Worked examples


def test_amount_corrected_up_moves_every_allocation_and_leaves_the_rest_unallocated(books, clerk):
    old, a, b = books
    new = correct_payment(old, amount="200.00", by=clerk, reason="bank statement says 200")

    # The caller's copy is the old payment as written: canceled, naming its replacement.
    assert (old.state, old.corrected_by_id, old.allocated_total, old.unallocated) == ("canceled", new.pk, 0, 0)
    assert old.cancel_reason == f"Corrected by {new}: bank statement says 200"
    assert fresh(new).corrects == fresh(old)
    assert (new.amount, new.currency, new.method, new.customer_id) == (
        D("200.00"),
        "EUR",
        "bank_transfer",
        old.customer_id,
    )
    assert (new.received_at, new.state, new.created_by) == (RECEIVED, "settled", clerk)
    # The old reference stays on the old payment (a re-imported bank line finds it); the
    # replacement's is derived from it, so a search for BANK-1 finds both.
    assert (fresh(old).reference, new.reference) == ("BANK-1", "BANK-1 (correction 1)")
    new = fresh(new)
    assert (new.allocated_total, new.unallocated, new.allocation_status) == (
        D("150.00"),
        D("50.00"),
        "partially_allocated",
    )
    assert nets_of(new) == {a.pk: D("80.00"), b.pk: D("70.00")}
    assert nets_of(old) == {a.pk: D("0.00"), b.pk: D("0.00")}
    assert [fresh(i).payment_status for i in (a, b)] == ["paid", "paid"]
    assert_invariants()


def test_amount_corrected_down_moves_oldest_first_and_what_does_not_fit_is_due_again(books, clerk):
    old, a, b = books
    correction = record_correction(old, amount="100.00", by=clerk, reason="typo: 150 for 100")
    new = correction.replacement
    assert [(i.pk, amount) for i, amount in correction.moved] == [(a.pk, D("80.00")), (b.pk, D("20.00"))]
    assert [(i.pk, amount) for i, amount in correction.released] == [(b.pk, D("50.00"))]
    assert correction.summary() == (
        f"Payment {old} is canceled and replaced by {new}: 100.00 EUR received on 2026-11-10. "
        f"100.00 EUR of its allocations moved to {new}. 50.00 EUR that was on invoice {b} did not fit on {new} "
        f"(the invoice is now partially paid)."
    )
    new = fresh(new)
    assert (new.allocated_total, new.unallocated, new.allocation_status) == (D("100.00"), 0, "fully_allocated")
    a, b = fresh(a), fresh(b)
    assert (a.payment_status, a.balance_due) == ("paid", 0)
    assert (b.payment_status, b.paid_total, b.balance_due) == ("partially_paid", D("20.00"), D("50.00"))
    assert b.account.balance_due == D("50.00") and b.account.open_invoice_count == 1
    # Status history names the correction.
    cause = f"correction of payment {old} by {new}: typo: 150 for 100"
    assert list(b.status_changes.values_list("old", "new", "reason"))[-1] == ("paid", "partially_paid", cause)
    assert old.status_changes.get(field="state", new="canceled").reason == cause
    assert list(new.status_changes.values_list("field", "new")) == [
        ("state", "settled"),
        ("allocation_status", "unallocated"),
        ("allocation_status", "fully_allocated"),
    ]
    assert_invariants()


def test_allocations_move_oldest_first_even_when_the_newest_is_on_an_older_invoice(customer, provider, clerk):
    older = make_invoice(customer=customer, provider=provider, total="50.00")
    newer = make_invoice(customer=customer, provider=provider, total="50.00")
    old = make_payment(customer=customer, amount="100.00")
    allocate(old, newer, "50.00", by=clerk)  # allocated first
    allocate(old, older, "50.00", by=clerk)
    correction = record_correction(old, amount="60.00", by=clerk, reason="amount")
    assert [(i.pk, x) for i, x in correction.moved] == [(newer.pk, D("50.00")), (older.pk, D("10.00"))]
    assert fresh(older).payment_status == "partially_paid" and fresh(newer).payment_status == "paid"
    assert_invariants()


def test_reversals_are_appended_rows_naming_what_they_reverse(books, clerk):
    old, a, b = books
    before = list(Allocation.objects.order_by("id").values_list("id", "amount"))
    new = correct_payment(old, amount="100.00", by=clerk, reason="typo")
    rows = list(Allocation.objects.order_by("id").values_list("id", "amount"))
    assert rows[: len(before)] == before  # nothing rewritten (I7 is also the database's)
    reversals = Allocation.objects.filter(payment=old, amount__lt=0).order_by("id")
    assert [(r.invoice_id, r.amount, r.reverses.payment_id) for r in reversals] == [
        (a.pk, D("-80.00"), old.pk),
        (b.pk, D("-70.00"), old.pk),
    ]
    assert all(r.reason == f"correction of payment {old} by {new}: typo" for r in reversals)


def test_value_date_corrected_moves_everything_and_paid_stays_paid(books, clerk):
    old, a, b = books
    histories = {i.pk: i.status_changes.count() for i in (a, b)}
    new = correct_payment(old, received_at=EARLIER, by=clerk, reason="value date was 1 Nov")
    assert (new.amount, new.received_at) == (D("150.00"), EARLIER)
    assert nets_of(new) == {a.pk: D("80.00"), b.pk: D("70.00")}
    assert fresh(new).allocation_status == "fully_allocated"
    for invoice in (a, b):
        invoice = fresh(invoice)
        assert (invoice.payment_status, invoice.balance_due) == ("paid", 0)
        assert invoice.status_changes.count() == histories[invoice.pk]  # paid all along: no status moved
    assert_invariants()


def test_same_day_keeps_the_time_and_amount_alone_is_the_change(books, clerk):
    old, *_ = books
    midnight = datetime.datetime(2026, 11, 10, tzinfo=datetime.UTC)
    new = correct_payment(old, amount="151.00", received_at=midnight, by=clerk, reason="one euro more")
    assert new.received_at == RECEIVED  # the value date is a day; the clerk's form gives midnight


def test_a_pending_payment_is_replaced_by_a_pending_one(customer, clerk):
    old = record_payment(customer=customer, amount="40.00", currency="EUR", method="cash", pending=True, by=clerk)
    new = correct_payment(old, amount="45.00", by=clerk, reason="counted again")
    assert (fresh(old).state, new.state, new.reference) == ("canceled", "pending", None)
    assert not Entry.objects.filter(payment__in=[old, new]).exists()  # neither counted yet
    assert_invariants()


def test_the_replacement_can_be_corrected_again(books, clerk):
    first, *_ = books
    second = correct_payment(first, amount="140.00", by=clerk, reason="one")
    third = correct_payment(second, amount="130.00", by=clerk, reason="two")
    assert third.reference == "BANK-1 (correction 2)"
    assert (fresh(first).corrected_by, fresh(second).corrected_by) == (fresh(second), fresh(third))
    assert fresh(third).corrects == fresh(second)
    assert_invariants()


def test_a_payment_without_reference_gives_a_replacement_without_one(customer, clerk):
    old = make_payment(customer=customer, amount="10.00")
    assert correct_payment(old, amount="12.00", by=clerk, reason="x").reference is None


def test_an_invoice_credited_since_takes_only_what_it_still_asks(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    old = make_payment(customer=customer, amount="100.00")
    allocate(old, invoice, "100.00", by=clerk)
    issue_credit_note(invoice, amount="30.00", by=clerk, reason="discount")
    assert fresh(invoice).payment_status == "overpaid"
    correction = record_correction(old, received_at=EARLIER, by=clerk, reason="date")
    assert [(i.pk, x) for i, x in correction.moved] == [(invoice.pk, D("70.00"))]
    assert [(i.pk, x) for i, x in correction.released] == [(invoice.pk, D("30.00"))]
    assert fresh(invoice).payment_status == "paid"
    assert fresh(correction.replacement).unallocated == D("30.00")
    assert_invariants()


def test_a_replacement_is_an_ordinary_payment_afterwards(books, clerk, customer, provider):
    old, a, b = books
    new = correct_payment(old, amount="100.00", by=clerk, reason="typo")
    deallocate(new, a, "30.00", by=clerk, reason="wrong invoice")
    allocate(new, b, "30.00", by=clerk)
    with pytest.raises(InvalidState, match="is canceled; only a settled payment can be allocated"):
        allocate(old, b, "1.00", by=clerk)
    refund_payment(
        correct_payment(new, amount="120.00", by=clerk, reason="again"), amount="20.00", by=clerk, reason="r"
    )
    assert_invariants()


# The journal and reconciliation


def test_journal_takes_the_old_payment_back_on_its_own_value_date(books, clerk, customer):
    old, *_ = books
    new = correct_payment(old, amount="100.00", received_at=EARLIER, by=clerk, reason="both wrong")
    entries = list(
        Entry.objects.filter(payment__in=[old, new])
        .order_by("id")
        .values_list("kind", "amount", "effective_date", "payment_id")
    )
    assert entries == [
        ("payment", D("-150.00"), RECEIVED.date(), old.pk),
        ("payment", D("-100.00"), EARLIER.date(), new.pk),
        ("payment_canceled", D("150.00"), RECEIVED.date(), old.pk),
    ]

    def held(day: datetime.date) -> Decimal:
        """The customer's balance as of `day`, less its invoices (issued 12 Nov): the payment side."""
        invoices = D("150.00") if day >= datetime.date(2026, 11, 12) else 0
        return balance_as_of(customer=customer, currency="EUR", as_of=day) - invoices

    # As of any date the customer's balance counts the replacement alone, never both.
    assert held(datetime.date(2026, 10, 31)) == 0
    assert held(EARLIER.date()) == D("-100.00")
    assert held(RECEIVED.date()) == D("-100.00")
    assert held(timezone.localdate()) == D("-100.00")
    assert find_journal_drift() == []
    assert_invariants()


def test_reconciliation_finds_no_drift_after_corrections(books, clerk, customer):
    old, a, b = books
    new = correct_payment(old, amount="90.00", by=clerk, reason="typo")
    correct_payment(new, received_at=EARLIER, by=clerk, reason="and the date")
    assert find_journal_drift() == []
    from reconciliation.reconcile import detect

    counts, candidates = detect()
    assert candidates == [], counts


def test_a_statement_after_a_back_dated_correction_counts_the_replacement_alone(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=datetime.date(2026, 11, 3))
    old = make_payment(customer=customer, amount="100.00", received_at=RECEIVED)
    allocate(old, invoice, "100.00", by=clerk)
    new = correct_payment(old, received_at=EARLIER, by=clerk, reason="the bank booked it on 1 Nov")
    document = issue_statement(customer, as_of=datetime.date(2026, 11, 30), by=clerk)
    (section,) = document.figures["sections"]
    assert [(line["date"], line["amount"], line["balance"], line["description"]) for line in section["lines"]] == [
        ("2026-11-01", "-100.00", "-100.00", f"Payment {new} received"),
        ("2026-11-03", "100.00", "0.00", f"Invoice {invoice.number}, due 2026-12-03"),
        ("2026-11-10", "-100.00", "-100.00", f"Payment {old} received"),
        ("2026-11-10", "100.00", "0.00", f"Payment {old} corrected by {new}"),
    ]
    assert section["closing"] == "0.00"


# Refusals: a clear message, and nothing written


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"amount": "150.00"}, InvalidInput, r"is already 150.00 EUR received on 2026-11-10; give another amount"),
        ({"amount": "150", "received_at": RECEIVED.replace(hour=0)}, InvalidInput, "is already 150.00 EUR"),
        ({}, InvalidInput, "give another amount or value date"),
        ({"amount": "0"}, InvalidAmount, "must be greater than zero; got 0.00 EUR"),
        ({"amount": "-5.00"}, InvalidAmount, "must be greater than zero"),
        ({"amount": 10.5}, InvalidAmount, "must be an exact decimal, not float"),
        ({"amount": "1e3"}, InvalidAmount, "is not a number"),
        ({"amount": "10.001"}, InvalidAmount, "has more decimals than EUR allows"),
        ({"amount": "1.000,50"}, InvalidAmount, "is not a number"),
        ({"received_at": datetime.date(2026, 11, 1)}, InvalidInput, "must be a date and time with its time zone"),
        ({"received_at": datetime.datetime(2026, 11, 1)}, InvalidInput, "with its time zone"),
        (
            {"received_at": timezone.now() + datetime.timedelta(days=2)},
            InvalidInput,
            "The money cannot arrive in the future",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(books, clerk, kwargs, error, message):
    old, *_ = books
    with unchanged_database(), pytest.raises(error, match=message):
        correct_payment(old, by=clerk, reason="because", **kwargs)


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(books, clerk, reason):
    old, *_ = books
    with unchanged_database(), pytest.raises(InvalidInput, match=r"Give a reason to correct payment P-\d+"):
        correct_payment(old, amount="100.00", by=clerk, reason=reason)


def test_a_payment_is_corrected_once(books, clerk):
    old, *_ = books
    new = correct_payment(old, amount="100.00", by=clerk, reason="typo")
    stale = Payment.objects.get(pk=old.pk)
    with unchanged_database(), pytest.raises(InvalidState, match=f"already corrected by {new}; correct that one"):
        correct_payment(stale, amount="90.00", by=clerk, reason="again")


def test_a_canceled_payment_is_not_corrected(books, clerk):
    old, *_ = books
    cancel_payment(old, by=clerk, reason="twice")
    with unchanged_database(), pytest.raises(InvalidState, match="is canceled; only a settled or pending payment"):
        correct_payment(old, amount="100.00", by=clerk, reason="x")


def test_a_refunded_payment_is_not_corrected(customer, clerk):
    old = make_payment(customer=customer, amount="100.00")
    refund_payment(old, amount="10.00", by=clerk, reason="extra")
    with unchanged_database(), pytest.raises(InvalidState, match="has 10.00 EUR refunded; a correction cannot move"):
        correct_payment(old, amount="90.00", by=clerk, reason="x")


def test_a_charged_back_payment_is_not_corrected(customer, clerk):
    old = make_payment(customer=customer, amount="100.00")
    record_chargeback(old, amount="10.00", by=clerk, reason="dispute")
    with unchanged_database(), pytest.raises(InvalidState, match="is charged back; its chargebacks belong to it"):
        correct_payment(old, amount="90.00", by=clerk, reason="x")


def test_by_is_required(books):
    old, *_ = books
    with pytest.raises(TypeError):
        correct_payment(old, amount="100.00", reason="x")  # type: ignore[call-arg]


# I8: a correction racing an allocation, in real threads


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("late", ["nobody", "correction", "allocations"])
def test_correction_racing_allocations_of_the_same_payment_and_invoice(customer, late):
    """Thread 1 corrects P (150 -> 100); thread 2 puts P's last 30 on C; thread 3 puts Q on B,
    which the correction may leave partly unpaid. Whatever the order: no deadlock, no
    overallocation or overpayment, every cache equal to the ledger. `late` starts one side a
    moment (0.3 s) after the other, so each order is seen (released together, the
    allocations win: they have less to read before their locks)."""
    a = make_invoice(customer=customer, provider=ProviderFactory(), total="80.00")
    b = make_invoice(customer=customer, provider=ProviderFactory(), total="70.00")
    c = make_invoice(customer=customer, provider=ProviderFactory(), total="30.00")
    p = make_payment(customer=customer, amount="180.00")
    q = make_payment(customer=customer, amount="50.00")
    allocate_many(p, [(a, "80.00"), (b, "70.00")], by=None)

    def after(side: str, job):
        def run():
            if side == late:
                time.sleep(0.3)
            return job()

        return run

    jobs = [
        after(
            "correction", lambda: correct_payment(Payment.objects.get(pk=p.pk), amount="100", by=None, reason="typo")
        ),
        after(
            "allocations", lambda: allocate(Payment.objects.get(pk=p.pk), Invoice.objects.get(pk=c.pk), "30", by=None)
        ),
        after(
            "allocations", lambda: allocate(Payment.objects.get(pk=q.pk), Invoice.objects.get(pk=b.pk), "20", by=None)
        ),
    ]
    results = run_together(jobs)

    assert_no_deadlock_or_crash(results)
    assert outcomes(results)[0] == "ok", results  # the correction always goes through
    old = fresh(p)
    assert old.state == "canceled" and old.allocated_total == 0
    new = old.corrected_by
    assert new.allocated_total <= new.amount == D("100.00")
    for invoice in Invoice.objects.filter(pk__in=[a.pk, b.pk, c.pk]):
        assert invoice.paid_total <= invoice.total, invoice
    # The allocation of P to C either came first (and moved with P) or was refused: P is canceled.
    if outcomes(results)[1] == "refused":
        assert isinstance(results[1][1], InvalidState)
    # Q on B fits only once the correction has taken part of P's money off B.
    if outcomes(results)[2] == "refused":
        assert isinstance(results[2][1], ExceedsBalance)
    if late == "allocations":  # the correction first: P is canceled, B half free
        assert outcomes(results) == ["ok", "refused", "ok"]
    elif late == "correction":  # the allocations first: P's 30 on C moves with P, B was full
        assert outcomes(results) == ["ok", "ok", "refused"]
        assert (fresh(c).payment_status, fresh(b).paid_total) == ("unpaid", D("20.00"))
    assert_invariants()
    assert find_journal_drift() == []


@pytest.mark.django_db(transaction=True)
def test_two_clerks_correct_the_same_payment_at_once(customer):
    """One correction wins; the other waits for the payment's lock, then is told who replaced it."""
    a = make_invoice(customer=customer, provider=ProviderFactory(), total="80.00")
    p = make_payment(customer=customer, amount="100.00")
    allocate(p, a, "80.00", by=None)

    def job(amount: str):
        return lambda: correct_payment(Payment.objects.get(pk=p.pk), amount=amount, by=None, reason="clerk " + amount)

    results = run_together([job("90.00"), job("70.00")])

    assert_no_deadlock_or_crash(results)
    assert sorted(outcomes(results)) == ["ok", "refused"], results
    refused = results[outcomes(results).index("refused")][1]
    assert isinstance(refused, InvalidState) and "was already corrected by" in str(refused)
    assert Payment.objects.filter(corrected_by__isnull=False).count() == 1
    assert_invariants()
    assert find_journal_drift() == []


@pytest.mark.django_db(transaction=True)
def test_a_correction_and_a_refund_of_the_same_payment_at_once(customer):
    """Whichever takes the payment's lock first goes through; the other is refused with its reason."""
    a = make_invoice(customer=customer, provider=ProviderFactory(), total="80.00")
    p = make_payment(customer=customer, amount="100.00")
    allocate(p, a, "80.00", by=None)

    results = run_together(
        [
            lambda: correct_payment(Payment.objects.get(pk=p.pk), amount="90.00", by=None, reason="typo"),
            lambda: refund_payment(Payment.objects.get(pk=p.pk), amount="5.00", by=None, reason="asked"),
        ]
    )

    assert_no_deadlock_or_crash(results)
    assert sorted(outcomes(results)) == ["ok", "refused"], results
    refused = str(results[outcomes(results).index("refused")][1])
    assert "refunded; a correction cannot move" in refused or "is canceled; only a settled payment" in refused
    assert_invariants()
    assert find_journal_drift() == []
