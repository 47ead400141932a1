"""issue_credit_notes: many credit notes by amount in one set-based write, the same as one by one."""

from decimal import Decimal

import pytest

from allocations.services import allocate
from billing.errors import ExceedsBalance, InvalidState
from invoices.models import CreditNote, CreditReason, Invoice, InvoiceStatusChange
from invoices.services import issue_credit_note, issue_credit_notes, void_invoice
from ledger.models import Entry
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


def books(provider):
    """Two customers: an unpaid, a partly paid and a paid invoice, and one of another customer."""
    customer, other = CustomerFactory(), CustomerFactory()
    unpaid = make_invoice(customer=customer, provider=provider, total="100.00")
    partly = make_invoice(customer=customer, provider=provider, total="80.00")
    paid = make_invoice(customer=customer, provider=provider, total="50.00")
    theirs = make_invoice(customer=other, provider=provider, total="40.00")
    payment = make_payment(customer=customer, amount="80.00")
    allocate(payment, partly, D("30.00"), by=None)
    allocate(payment, paid, D("50.00"), by=None)
    return [unpaid, partly, paid, theirs]


def what_was_written(invoices):
    """Everything a credit note leaves behind, without ids and times."""
    figures = [
        Invoice.objects.filter(pk=i.pk).values_list("credited_total", "balance_due", "payment_status").get()
        for i in invoices
    ]
    notes = list(
        CreditNote.objects.filter(invoice__in=invoices).order_by("id").values_list("invoice__total", "amount", "reason")
    )
    history = list(
        InvoiceStatusChange.objects.filter(invoice__in=invoices, field="payment_status")
        .order_by("id")
        .values_list("invoice__total", "old", "new")
    )
    journal = list(
        Entry.objects.filter(kind="credit_note", credit_note__invoice__in=invoices)
        .order_by("id")
        .values_list("customer_id", "account_id", "currency", "amount")
    )
    return figures, notes, history, [(row[2], row[3]) for row in journal], len({row[0] for row in journal})


CREDITS = [
    (0, "10.00", "a price concession"),
    (1, "50.00", "the rest of it"),
    (2, "5.00", "goodwill"),
    (3, "40.00", "all of it"),
    (0, "0.01", "a cent more"),
]


def test_many_at_once_write_what_one_by_one_writes(provider):
    one_by_one, at_once = books(provider), books(provider)
    for index, amount, reason in CREDITS:
        issue_credit_note(
            one_by_one[index], amount=amount, by=None, reason=reason, reason_code=CreditReason.RECALCULATION
        )

    notes = issue_credit_notes(
        [(at_once[index], amount, reason) for index, amount, reason in CREDITS],
        reason_code=CreditReason.RECALCULATION,
        by=None,
    )

    assert [(n.invoice_id, n.amount) for n in notes] == [(at_once[i].pk, D(a)) for i, a, _ in CREDITS]
    assert what_was_written(at_once) == what_was_written(one_by_one)
    figures = what_was_written(at_once)[0]
    assert figures == [
        (D("10.01"), D("89.99"), "unpaid"),
        (D("50.00"), D("0.00"), "paid"),  # 80 - 50 credited, 30 paid
        (D("5.00"), D("-5.00"), "overpaid"),
        (D("40.00"), D("0.00"), "paid"),  # nothing left to ask for
    ]
    assert at_once[1].balance_due == D("0.00")  # the caller's copies follow
    assert_invariants()


def test_one_refused_refuses_them_all(provider):
    invoices = books(provider)
    void_invoice(invoices[3], by=None, reason="issued by mistake")
    before = CreditNote.objects.count()

    with pytest.raises(ExceedsBalance, match="at most 40.00 EUR; you asked for 40.01 EUR"):  # what the first left
        issue_credit_notes(
            [(invoices[0], "60.00", "first"), (invoices[0], "40.01", "second")], reason_code="correction", by=None
        )
    with pytest.raises(InvalidState, match="only an open invoice can be credited"):
        issue_credit_notes(
            [(invoices[0], "1.00", "fine"), (invoices[3], "1.00", "void")], reason_code="correction", by=None
        )

    assert CreditNote.objects.count() == before
    assert Invoice.objects.get(pk=invoices[0].pk).credited_total == 0
    assert_invariants()


def test_the_histories_name_the_clerk_and_the_notes_that_moved_an_order(provider, clerk):
    from orders.models import Order, OrderStatusChange
    from orders.services import create_order, invoice_order

    customer = CustomerFactory()
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 2, "30")], by=clerk)
    invoice = invoice_order(order, by=clerk)
    other = make_invoice(customer=customer, provider=provider, total="20.00")

    notes = issue_credit_notes(
        [(invoice, "60.00", "returned"), (other, "20.00", "goodwill")], reason_code=CreditReason.RETURN, by=clerk
    )

    changes = InvoiceStatusChange.objects.filter(field="payment_status", invoice__in=[invoice, other])
    assert set(changes.values_list("invoice_id", "new", "reason", "created_by")) == {
        (invoice.pk, "paid", f"credit note #{notes[0].pk}: returned", clerk.pk),
        (other.pk, "paid", f"credit note #{notes[1].pk}: goodwill", clerk.pk),
    }
    moved = OrderStatusChange.objects.filter(order=order, reason__startswith="credit note")
    cause = f"credit note #{notes[0].pk}: returned and 1 more"
    assert set(moved.values_list("field", "new", "reason", "created_by")) == {
        ("payment_status", "paid", cause, clerk.pk),
        ("state", "closed", cause, clerk.pk),  # all of it invoiced and nothing left to pay
    }
    assert Order.objects.filter(pk=order.pk).values_list("payment_status", "state").get() == ("paid", "closed")
    assert_invariants()


def test_one_note_alone_names_itself_in_the_orders_history(provider, clerk):
    from orders.models import OrderStatusChange
    from orders.services import create_order, invoice_order

    order = create_order(
        customer=CustomerFactory(), provider=provider, currency="EUR", lines=[("Lamp", 1, "30")], by=clerk
    )
    (note,) = issue_credit_notes(
        [(invoice_order(order, by=clerk), "30.00", "returned")], reason_code=CreditReason.RETURN, by=clerk
    )
    reasons = set(
        OrderStatusChange.objects.filter(order=order, reason__startswith="credit note").values_list("reason", flat=True)
    )
    assert reasons == {f"credit note #{note.pk}: returned"}
