"""manage.py auto_allocate: the rule of DESIGN.md §6 over every payment with money waiting."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from allocations.models import Allocation
from intake.importing import import_statement
from tests.factories import TODAY, CustomerFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


def run(*args) -> str:
    out = StringIO()
    call_command("auto_allocate", *args, stdout=out)
    return out.getvalue()


def invoice(customer, provider, total, days_old, currency="EUR"):
    """An open invoice issued `days_old` days ago (older ones are due earlier)."""
    issued = TODAY - datetime.timedelta(days=days_old)
    return make_invoice(customer=customer, provider=provider, total=total, currency=currency, issue_date=issued)


def paid(payment):
    return sorted((a.invoice.number, a.amount) for a in Allocation.objects.filter(payment=payment))


def test_exact_match_of_two_invoices(customer, provider):
    a = invoice(customer, provider, "30.00", 40)
    b = invoice(customer, provider, "50.00", 30)
    invoice(customer, provider, "70.00", 20)
    payment = make_payment(customer=customer, amount="80.00")

    out = run()

    assert paid(payment) == [(a.number, D("30.00")), (b.number, D("50.00"))]
    assert f"    {a.number} 30.00 EUR (exact match of 2 invoices)" in out
    assert out.splitlines()[-1] == "Allocated 1 payment(s) over 2 invoice(s)."
    assert_invariants()


def test_exact_match_ties_go_to_the_oldest(customer, provider):
    oldest = invoice(customer, provider, "20.00", 50)
    second = invoice(customer, provider, "30.00", 40)
    invoice(customer, provider, "30.00", 30)
    invoice(customer, provider, "20.00", 20)
    single_a = invoice(customer, provider, "45.00", 15)
    invoice(customer, provider, "45.00", 10)
    pair = make_payment(customer=customer, amount="50.00")
    single = make_payment(customer=customer, amount="45.00")

    run()

    assert paid(pair) == sorted([(oldest.number, D("20.00")), (second.number, D("30.00"))])
    assert paid(single) == [(single_a.number, D("45.00"))]


def test_oldest_first_spill_over(customer, provider):
    old = invoice(customer, provider, "60.00", 40)
    middle = invoice(customer, provider, "70.00", 30)
    young = invoice(customer, provider, "80.00", 20)
    payment = make_payment(customer=customer, amount="100.00")

    out = run()

    assert paid(payment) == [(old.number, D("60.00")), (middle.number, D("40.00"))]
    assert f"    {old.number} 60.00 EUR (oldest first)" in out
    young.refresh_from_db()
    assert young.payment_status == "unpaid"
    assert_invariants()


def test_other_currencies_and_customers_are_never_touched(customer, provider):
    other = CustomerFactory()
    foreign = invoice(other, provider, "100.00", 30)
    dollars = invoice(customer, provider, "100.00", 30, currency="USD")
    payment = make_payment(customer=customer, amount="100.00")

    out = run()

    assert paid(payment) == []
    assert "no open invoice to allocate to" in out
    for untouched in (foreign, dollars):
        untouched.refresh_from_db()
        assert untouched.payment_status == "unpaid"


def test_second_run_is_a_no_op(customer, provider):
    invoice(customer, provider, "60.00", 30)
    make_payment(customer=customer, amount="100.00")  # 40.00 stays unallocated: no invoice left
    run()
    rows = Allocation.objects.count()

    out = run()

    assert Allocation.objects.count() == rows == 1
    assert out.splitlines()[-1] == "Allocated 0 payment(s) over 0 invoice(s)."


def test_dry_run_writes_nothing_and_plans_payments_one_after_another(customer, provider):
    only = invoice(customer, provider, "100.00", 30)
    first = make_payment(customer=customer, amount="70.00")
    make_payment(customer=customer, amount="50.00")

    out = run("--dry-run")

    assert not Allocation.objects.exists()
    lines = out.splitlines()
    assert lines[0] == f"{first} {customer}: 70.00 EUR unallocated; would allocate:"
    assert lines[1] == f"    {only.number} 70.00 EUR (oldest first)"
    # The second payment is planned on what the first leaves (30.00), not on the 100.00 still in the database.
    assert lines[3] == f"    {only.number} 30.00 EUR (oldest first)"
    assert lines[-1] == "Dry run, nothing was written: would allocate 2 payment(s) over 2 invoice(s)."
    run()
    assert Allocation.objects.filter(invoice=only).count() == 2


def test_customer_filter(customer, provider):
    other = CustomerFactory()
    invoice(customer, provider, "10.00", 30)
    invoice(other, provider, "10.00", 30)
    mine = make_payment(customer=customer, amount="10.00")
    theirs = make_payment(customer=other, amount="10.00")

    run("--customer", str(customer.pk))

    assert len(paid(mine)) == 1 and paid(theirs) == []
    with pytest.raises(CommandError, match="No customer with id 0"):
        run("--customer", "0")


def test_invoices_named_by_the_bank_come_first(provider):
    """Money imported before its invoice existed goes to the invoice the remittance named."""
    customer = CustomerFactory(reference="C-00042")
    import_statement(
        b"booking_date,amount,currency,bank_reference,counterparty,remittance\n"
        b"2026-11-01,50.00,EUR,BANK-1,Payer,C-00042 pays ACME-000002\n",
        source_name="early.csv",
        by=None,
    )
    older = invoice(customer, provider, "50.00", 60)
    named = invoice(customer, provider, "50.00", 30)
    assert (older.number, named.number) == ("ACME-000001", "ACME-000002")

    out = run()

    named.refresh_from_db()
    older.refresh_from_db()
    assert (named.payment_status, older.payment_status) == ("paid", "unpaid")
    assert "    ACME-000002 50.00 EUR (named in remittance)" in out


def test_chunks_plan_each_payment_after_the_ones_before_it(customer, provider, monkeypatch):
    # Two to a chunk: five payments of one customer compete for the same oldest invoices across
    # three chunks, and a second customer's payment sits between them; every figure is what
    # allocating one payment after another (oldest money first) gives.
    from allocations.management.commands import auto_allocate as command

    monkeypatch.setattr(command, "CHUNK", 2)
    other = CustomerFactory()
    first, second, third = (invoice(customer, provider, "50.00", days) for days in (40, 30, 20))
    theirs = invoice(other, provider, "35.00", 10)
    day = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    payments = [
        make_payment(customer=customer, amount="30.00", received_at=day),
        make_payment(customer=other, amount="20.00", received_at=day + datetime.timedelta(hours=1)),
        make_payment(customer=customer, amount="30.00", received_at=day + datetime.timedelta(hours=2)),
        make_payment(customer=customer, amount="50.00", received_at=day + datetime.timedelta(hours=3)),
        make_payment(customer=customer, amount="20.00", received_at=day + datetime.timedelta(hours=4)),
        make_payment(customer=customer, amount="40.00", received_at=day + datetime.timedelta(hours=5)),
    ]

    out = run()

    assert [paid(p) for p in payments] == [
        [(first.number, D("30.00"))],
        [(theirs.number, D("20.00"))],
        sorted([(first.number, D("20.00")), (second.number, D("10.00"))]),
        [(third.number, D("50.00"))],  # an exact match of the 50.00 third invoice
        [(second.number, D("20.00"))],
        [(second.number, D("20.00"))],  # 20.00 of it waits: nothing else is open
    ]
    assert out.splitlines()[-1] == "Allocated 6 payment(s) over 7 invoice(s)."
    assert_invariants()


def test_a_payment_that_moved_after_it_was_read_refuses_its_chunk(customer, provider):
    # The command then takes that chunk's payments one by one (allocate_chunk), on fresh reads.
    from allocations.services import allocate, auto_allocate_many
    from ledger.bulk import ChunkMoved
    from payments.models import Payment

    invoice(customer, provider, "50.00", 40)  # older, but the 30.00 left matches b exactly
    b = invoice(customer, provider, "50.00", 30)
    payment = make_payment(customer=customer, amount="50.00")
    read = Payment.objects.get(pk=payment.pk)
    allocate(payment, b, D("20.00"), by=None)  # a clerk, between the nightly run's read and its write

    with pytest.raises(ChunkMoved):
        auto_allocate_many([read], preferred=[[]], by=None, recorded_earlier=True)

    assert paid(payment) == [(b.number, D("20.00"))]  # nothing of the refused chunk was written
    run()
    assert paid(payment) == [(b.number, D("20.00")), (b.number, D("30.00"))]  # the 30.00 left matches b exactly
    assert_invariants()


@pytest.mark.parametrize("what", ["paid in part", "voided", "credited"])
def test_an_invoice_that_moved_after_it_was_read_refuses_the_lock(customer, provider, what):
    """ledger.bulk.lock_invoices compares each invoice, locked, with what the chunk read of it."""
    from django.db import transaction

    from allocations.services import allocate
    from invoices.services import issue_credit_note, void_invoice
    from ledger.bulk import ChunkMoved, lock_invoices, open_invoices

    moved = invoice(customer, provider, "50.00", 30)
    still = invoice(customer, provider, "40.00", 20)
    read = open_invoices(customer_ids=[customer.pk])
    assert {row.pk for row in read} == {moved.pk, still.pk}
    if what == "paid in part":
        allocate(make_payment(customer=customer, amount="20.00"), moved, D("20.00"), by=None)
    elif what == "voided":
        void_invoice(moved, by=None, reason="issued in error")
    else:
        issue_credit_note(moved, amount="0.01", by=None, reason="rounding", reason_code="correction")

    with transaction.atomic():
        with pytest.raises(ChunkMoved, match=f"Invoice {moved.pk} changed"):
            lock_invoices(read)
        assert set(lock_invoices([row for row in read if row.pk == still.pk])) == {still.pk}


def test_a_chunk_that_pays_an_order_records_its_history_with_the_cause_and_the_clerk(customer, provider, clerk):
    from allocations.services import auto_allocate_many
    from orders.models import OrderStatusChange
    from orders.services import create_order, invoice_order

    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 1, "30")], by=clerk)
    billed = invoice_order(order, by=clerk)
    payment = make_payment(customer=customer, amount="30.00")

    ((rows, _plan),) = auto_allocate_many([payment], preferred=[[billed.number]], by=clerk, recorded_earlier=True)

    assert [(row.invoice_id, row.amount) for row in rows] == [(billed.pk, D("30.00"))]
    from invoices.models import InvoiceStatusChange

    # The order's history names the cause the invoice's names: this payment's allocation.
    cause = InvoiceStatusChange.objects.get(invoice=billed, field="payment_status", new="paid").reason
    assert cause.startswith(f"allocation of payment {payment}")
    moved = OrderStatusChange.objects.filter(order=order, field="payment_status")
    assert list(moved.values_list("new", "reason", "created_by")) == [("paid", cause, clerk.pk)]


@pytest.mark.parametrize("which", ["invoice", "payment"])
def test_a_chunk_that_would_overpay_an_invoice_or_overallocate_a_payment_is_refused(customer, provider, which):
    """ledger.bulk.apply_allocations' own check (I4): the planners never ask for this, so it is asked directly."""
    from django.db import transaction

    from billing.errors import InvalidState
    from invoices.models import Invoice
    from ledger.bulk import Step, apply_allocations
    from payments.models import Payment

    billed = invoice(customer, provider, "30.00", 10)
    if which == "invoice":  # 40.00 of a 50.00 payment on a 30.00 invoice
        payment, amount = make_payment(customer=customer, amount="50.00"), D("40.00")
    else:  # 30.00 on the invoice from a payment of 20.00
        payment, amount = make_payment(customer=customer, amount="20.00"), D("30.00")
    with pytest.raises(InvalidState, match="overpay an invoice or overallocate a payment"):
        with transaction.atomic():
            locked_invoice = Invoice.objects.select_for_update().get(pk=billed.pk)
            locked_payment = Payment.objects.select_for_update().get(pk=payment.pk)
            apply_allocations([Step(locked_payment, [(locked_invoice, amount)], "", "test")], by=None)
    assert not billed.allocations.exists()


def test_a_chunk_that_pays_off_a_plan_records_its_history_with_the_cause_and_the_clerk(customer, provider, clerk):
    from allocations.services import auto_allocate_many
    from invoices.models import InvoiceStatusChange
    from plans.models import Plan, PlanStatusChange
    from tests.plans.helpers import installments, make_plan

    plan = make_plan(customer, provider, clerk, principal="100.00", installments=1, penalty=None)
    (only,) = installments(plan)
    payment = make_payment(customer=customer, amount="100.00")

    auto_allocate_many([payment], preferred=[[only.number]], by=clerk, recorded_earlier=True)

    assert Plan.objects.get(pk=plan.pk).state == "paid_off"
    cause = InvoiceStatusChange.objects.get(invoice=only, field="payment_status", new="paid").reason
    moved = PlanStatusChange.objects.filter(plan=plan, new="paid_off")
    assert list(moved.values_list("reason", "created_by")) == [(cause, clerk.pk)]


def test_workers_take_each_customers_payments_in_order():
    from allocations.management.commands.auto_allocate import parts_by_customer

    waiting = [(1, 10), (2, 11), (3, 10), (4, 12), (5, 11), (6, 13)]
    assert parts_by_customer(waiting, 2) == [[1, 3, 4], [2, 5, 6]]
    assert parts_by_customer(waiting, 1) == [[1, 2, 3, 4, 5, 6]]
    assert parts_by_customer(waiting[:1], 3) == [[1]]  # no empty worker


def _allocation_snapshot():
    from invoices.models import Invoice
    from payments.models import Payment

    return (
        sorted(Allocation.objects.values_list("payment__reference", "invoice__number", "amount", "reason")),
        sorted(Invoice.objects.values_list("number", "payment_status", "balance_due")),
        sorted(Payment.objects.values_list("reference", "allocation_status", "unallocated")),
    )


@pytest.mark.django_db(transaction=True)
def test_workers_end_exactly_as_one_process(provider, settings):
    """Two processes, each its own customers' payments, allocate what one process would: the same
    rows, statuses and report lines (customers interleaved), the same summary."""
    from django.db import transaction

    customers = [CustomerFactory() for _ in range(5)]
    for n, who in enumerate(customers):
        for days, total in ((60, "30.00"), (40, "45.50"), (20, "80.00")):
            invoice(who, provider, total, days + n)
        make_payment(customer=who, amount="75.50")  # the exact match of two
        make_payment(customer=who, amount="50.00")  # then the oldest first: spills over
        make_payment(customer=who, amount="200.00")  # more than is left: stays partly unallocated
    with transaction.atomic():
        one = run("--workers", "1")
        expected = _allocation_snapshot()
        transaction.set_rollback(True)
    assert Allocation.objects.count() == 0

    settings.SETTLE_AUTO_ALLOCATE_WORKERS_FROM = 0
    two = run("--workers", "2")

    assert _allocation_snapshot() == expected
    assert len(expected[0]) >= 10
    assert two.splitlines()[-1] == one.splitlines()[-1] == "Allocated 15 payment(s) over 20 invoice(s)."
    assert sorted(two.splitlines()) == sorted(one.splitlines())
    assert_invariants()


def test_workers_must_be_one_or_more():
    with pytest.raises(CommandError, match="--workers must be 1 or more"):
        run("--workers", "0")
