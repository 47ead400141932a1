"""Worked examples of workshop registrations (DESIGN.md section 12, issue 14), in the business's words."""

from decimal import Decimal

import pytest

from allocations.services import allocate
from invoices.models import CreditNote, Invoice
from ledger.models import Entry
from registrations.models import Registration
from registrations.services import cancel_registration, register
from tests.factories import CustomerFactory, make_payment
from tests.invariants import assert_invariants
from tests.registrations.helpers import fresh, make_workshop

pytestmark = pytest.mark.django_db

D = Decimal


def test_a_cart_a_full_workshop_a_cancellation_and_the_wait_list_moving_up(customer, provider, clerk):
    """Sourdough (2 seats, 120.00) and Knife skills (8 seats, 80.00), full credit up to 7 days before.

    Ada buys both in one cart: one order, one invoice of 200.00, which she pays. Bob and Cy take
    the last Sourdough seat and the wait list. Ada cancels Sourdough three weeks ahead: a credit
    note of 120.00 (her invoice is now overpaid by 120.00, a refund for the work queue), and Cy,
    first in line, gets the seat and an invoice of 120.00 of his own. Dee joins the wait list.
    """
    sourdough = make_workshop(provider, title="Sourdough", seats=2, price="120.00", days=21)
    knives = make_workshop(provider, title="Knife skills", seats=8, price="80.00", days=21)

    cart = register(customer=customer, workshops=[sourdough, knives], by=clerk)
    cart_invoice = Invoice.objects.get(order=cart)
    assert cart_invoice.total == D("200.00") and cart.billing_status == "invoiced"
    allocate(make_payment(customer=customer, amount="200.00"), cart_invoice, "200.00", by=clerk)

    bob, cy, dee = (CustomerFactory(name=name) for name in ("Bob", "Cy", "Dee"))
    register(customer=bob, workshops=[sourdough], by=clerk)
    cy_order = register(customer=cy, workshops=[sourdough], by=clerk)
    (cy_seat,) = cy_order.registrations.all()
    assert (cy_seat.status, cy_seat.waitlist_position) == ("waitlisted", 1)
    assert not Invoice.objects.filter(order=cy_order).exists()  # waiting costs nothing

    ada_sourdough = cart.registrations.get(workshop=sourdough)
    cancel_registration(ada_sourdough, by=clerk, reason="Moved to the spring course")

    note = CreditNote.objects.get()
    assert (note.invoice_id, note.amount, note.reason_code) == (cart_invoice.pk, D("120.00"), "cancellation")
    cart_invoice = fresh(cart_invoice)
    assert (cart_invoice.credited_total, cart_invoice.payment_status) == (D("120.00"), "overpaid")
    assert fresh(cart.registrations.get(workshop=knives)).status == "confirmed"  # the rest of the cart stands

    cy_seat = fresh(cy_seat)
    assert (cy_seat.status, cy_seat.waitlist_position) == ("confirmed", None)
    cy_invoice = Invoice.objects.get(order=cy_order)
    assert (cy_invoice.total, cy_invoice.payment_status) == (D("120.00"), "unpaid")

    (dee_seat,) = register(customer=dee, workshops=[sourdough], by=clerk).registrations.all()
    assert (dee_seat.status, dee_seat.waitlist_position) == ("waitlisted", 1)

    sourdough = fresh(sourdough)
    assert (sourdough.seats_taken, sourdough.waitlist_length) == (2, 1)
    # The journal has every effect: two invoices and the credit, nothing for the wait list.
    kinds = sorted(Entry.objects.filter(customer__in=[customer, cy, dee]).values_list("kind", "amount"))
    assert ("credit_note", D("-120.00")) in kinds and ("invoice", D("120.00")) in kinds
    assert ("invoice", D("200.00")) in kinds
    assert not Entry.objects.filter(customer=dee).exists()
    # Who did what, when: each registration's history, never rewritten.
    history = list(ada_sourdough.changes.values_list("old", "new", "created_by__username", "reason"))
    assert history == [
        ("", "confirmed", clerk.username, f"cart {cart}"),
        ("confirmed", "canceled", clerk.username, "Moved to the spring course"),
    ]
    assert Registration.objects.filter(workshop=sourdough, status="confirmed").count() == 2
    assert_invariants()


def test_a_late_cancellation_charges_in_full_and_the_seat_still_moves_on(customer, provider, clerk):
    """Pasta (1 seat, 60.00) in 3 days: past the 7-day deadline. Ada cancels: nothing credited, she
    still owes 60.00; Bob, waiting, takes the seat and is charged 60.00 too."""
    pasta = make_workshop(provider, title="Pasta", seats=1, price="60.00", days=3)
    (ada,) = register(customer=customer, workshops=[pasta], by=clerk).registrations.all()
    (bob,) = register(customer=CustomerFactory(name="Bob"), workshops=[pasta], by=clerk).registrations.all()
    canceled = cancel_registration(ada, by=clerk, reason="Can't make it")
    assert canceled.credit_note is None and not CreditNote.objects.exists()
    assert "nothing credited" in canceled.changes.last().note
    assert Invoice.objects.get(pk=ada.invoice_id).balance_due == D("60.00")
    assert fresh(bob).status == "confirmed" and Invoice.objects.get(pk=fresh(bob).invoice_id).total == D("60.00")
    assert_invariants()
