"""Worked examples in the business's words, one per event (DESIGN.md §3, §7)."""

from decimal import Decimal

import pytest

from allocations.models import Allocation
from allocations.services import allocate, allocate_many, deallocate
from billing.errors import DuplicateReference, InsufficientFunds
from invoices.services import issue_credit_note, void_invoice
from payments.services import cancel_payment, record_chargeback, record_payment, refund_payment
from tests.factories import make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


def test_invoice_paid_in_two_installments(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    first = make_payment(customer=customer, amount="60.00")
    second = make_payment(customer=customer, amount="40.00")

    allocate(first, invoice, D("60.00"), by=clerk)
    invoice.refresh_from_db()
    assert (invoice.payment_status, invoice.paid_total, invoice.balance_due) == ("partially_paid", D("60"), D("40"))
    assert invoice.account.balance_due == D("40.00")

    allocate(second, invoice, D("40.00"), by=clerk)
    invoice.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (invoice.payment_status, invoice.balance_due) == ("paid", D("0"))
    assert first.allocation_status == second.allocation_status == "fully_allocated"
    invoice.account.refresh_from_db()
    assert (invoice.account.balance_due, invoice.account.open_invoice_count) == (D("0"), 0)
    history = list(invoice.status_changes.filter(field="payment_status").values_list("old", "new"))
    assert history == [("unpaid", "partially_paid"), ("partially_paid", "paid")]
    assert_invariants()


def test_one_payment_over_three_invoices_of_two_providers(customer, provider, other_provider, clerk):
    a = make_invoice(customer=customer, provider=provider, total="50.00")
    b = make_invoice(customer=customer, provider=provider, total="30.00")
    c = make_invoice(customer=customer, provider=other_provider, total="70.00")
    payment = make_payment(customer=customer, amount="120.00")

    rows = allocate_many(payment, [(a, "50.00"), (b, "30.00"), (c, "40.00")], by=clerk)

    assert [row.amount for row in rows] == [D("50.00"), D("30.00"), D("40.00")]
    for invoice in (a, b, c):
        invoice.refresh_from_db()
    assert [a.payment_status, b.payment_status, c.payment_status] == ["paid", "paid", "partially_paid"]
    assert (payment.allocation_status, payment.unallocated) == ("fully_allocated", D("0.00"))
    assert c.account.balance_due == D("30.00") and a.account.balance_due == D("0.00")
    assert_invariants()


def test_split_is_all_or_nothing(customer, provider, clerk):
    a = make_invoice(customer=customer, provider=provider, total="50.00")
    b = make_invoice(customer=customer, provider=provider, total="30.00")
    payment = make_payment(customer=customer, amount="60.00")
    with pytest.raises(InsufficientFunds, match="has only 60.00 EUR left to allocate; you asked for 80.00 EUR"):
        allocate_many(payment, [(a, "50.00"), (b, "30.00")], by=clerk)
    assert not Allocation.objects.exists()
    payment.refresh_from_db()
    assert payment.allocation_status == "unallocated"


def test_void_invoice_paid_by_two_payments_frees_both(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    p1 = make_payment(customer=customer, amount="70.00")
    p2 = make_payment(customer=customer, amount="30.00")
    allocate(p1, invoice, "70.00", by=clerk)
    allocate(p2, invoice, "30.00", by=clerk)

    void_invoice(invoice, by=clerk, reason="Issued to the wrong customer")

    assert invoice.state == "void"
    p1.refresh_from_db()
    p2.refresh_from_db()
    assert (p1.allocation_status, p1.unallocated) == ("unallocated", D("70.00"))
    assert (p2.allocation_status, p2.unallocated) == ("unallocated", D("30.00"))
    reversals = Allocation.objects.filter(amount__lt=0).order_by("payment_id")
    assert [(r.amount, r.reverses.payment_id) for r in reversals] == [(D("-70.00"), p1.pk), (D("-30.00"), p2.pk)]
    assert invoice.account.balance_due == D("0.00")
    assert invoice.status_changes.filter(field="state", new="void").count() == 1
    assert_invariants()


def test_credit_note_after_full_payment_then_deallocate_and_refund(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "100.00", by=clerk)

    issue_credit_note(invoice, amount="20.00", by=clerk, reason="Two hours not worked")
    invoice.refresh_from_db()
    assert (invoice.payment_status, invoice.balance_due) == ("overpaid", D("-20.00"))

    deallocate(payment, invoice, "20.00", by=clerk, reason="Credit note: money back to the customer")
    assert invoice.payment_status == "paid"
    assert (payment.allocation_status, payment.unallocated) == ("partially_allocated", D("20.00"))

    refund_payment(payment, amount="20.00", by=clerk, reason="Refund of credit note")
    assert (payment.allocation_status, payment.unallocated, payment.refunded_total) == (
        "fully_allocated",
        D("0.00"),
        D("20.00"),
    )
    assert_invariants()


def test_partial_refund_of_unallocated_payment(customer, clerk):
    payment = make_payment(customer=customer, amount="80.00")
    refund_payment(payment, amount="30.00", by=clerk, reason="Paid twice by mistake")
    assert (payment.allocation_status, payment.unallocated, payment.refunded_total) == (
        "unallocated",
        D("50.00"),
        D("30.00"),
    )
    with pytest.raises(InsufficientFunds, match="only 50.00 EUR unallocated"):
        refund_payment(payment, amount="60.00", by=clerk, reason="too much")
    assert_invariants()


def test_chargeback_default_rule_reverses_newest_allocations(customer, provider, clerk):
    older = make_invoice(customer=customer, provider=provider, total="60.00")
    newer = make_invoice(customer=customer, provider=provider, total="40.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, older, "60.00", by=clerk)
    allocate(payment, newer, "40.00", by=clerk)

    record_chargeback(payment, amount="50.00", by=clerk, reason="Card dispute")

    older.refresh_from_db()
    newer.refresh_from_db()
    assert payment.state == "charged_back"
    assert (payment.allocation_status, payment.allocated_total, payment.unallocated) == (
        "fully_allocated",
        D("50.00"),
        D("0.00"),
    )
    assert (newer.payment_status, newer.balance_due) == ("unpaid", D("40.00"))
    assert (older.payment_status, older.balance_due) == ("partially_paid", D("10.00"))
    assert older.account.balance_due == D("50.00")
    assert_invariants()


def test_installments_then_full_chargeback_of_one(customer, provider, clerk):
    """Invoice 100, paid 60, paid 40, chargeback 40 -> partially paid."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    p60 = make_payment(customer=customer, amount="60.00")
    p40 = make_payment(customer=customer, amount="40.00")
    allocate(p60, invoice, "60.00", by=clerk)
    allocate(p40, invoice, "40.00", by=clerk)
    record_chargeback(p40, amount="40.00", by=clerk, reason="Bank reversal")
    invoice.refresh_from_db()
    assert (invoice.payment_status, invoice.balance_due) == ("partially_paid", D("40.00"))
    assert (p40.state, p40.allocation_status) == ("charged_back", "fully_allocated")
    assert_invariants()


def test_chargeback_manual_rule_leaves_payment_overallocated(customer, provider, clerk, settings):
    settings.SETTLE_CHARGEBACK_REVERSAL = "manual"
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "100.00", by=clerk)

    record_chargeback(payment, amount="30.00", by=clerk, reason="Dispute")

    invoice.refresh_from_db()
    assert invoice.payment_status == "paid"
    assert (payment.allocation_status, payment.unallocated) == ("overallocated", D("-30.00"))
    deallocate(payment, invoice, "30.00", by=clerk, reason="Clerk decided: invoice reopens")
    invoice.refresh_from_db()
    assert payment.allocation_status == "fully_allocated"
    assert invoice.payment_status == "partially_paid"
    assert_invariants()


def test_cancel_payment_reverses_all_allocations(customer, provider, other_provider, clerk):
    a = make_invoice(customer=customer, provider=provider, total="50.00")
    b = make_invoice(customer=customer, provider=other_provider, total="50.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate_many(payment, [(a, "50.00"), (b, "25.00")], by=clerk)

    cancel_payment(payment, by=clerk, reason="Recorded against the wrong customer")

    a.refresh_from_db()
    b.refresh_from_db()
    assert payment.state == "canceled"
    assert (payment.allocation_status, payment.allocated_total, payment.unallocated) == (
        "fully_allocated",
        D("0.00"),
        D("0.00"),
    )
    assert a.payment_status == b.payment_status == "unpaid"
    assert_invariants()


def test_record_payment_is_idempotent_by_reference(customer, clerk):
    first = record_payment(
        customer=customer, amount=D("25.00"), currency="EUR", method="bank_transfer", reference="BANK-1", by=clerk
    )
    again = record_payment(
        customer=customer, amount=D("25.00"), currency="EUR", method="bank_transfer", reference="BANK-1", by=clerk
    )
    assert again.pk == first.pk
    with pytest.raises(DuplicateReference, match="Reference 'BANK-1' already belongs to payment"):
        record_payment(
            customer=customer, amount=D("26.00"), currency="EUR", method="bank_transfer", reference="BANK-1", by=clerk
        )
