"""registrations.services: DESIGN.md section 12 (seed 003's registrations), rule by rule."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from billing.errors import BillingError, InvalidInput, InvalidState
from invoices.models import CreditNote, Invoice
from orders.models import Order, OrderLine
from registrations.models import Registration, RegistrationChange, RegistrationStatus, Workshop
from registrations.services import cancel_registration, create_workshop, register
from tests.factories import CustomerFactory, ProviderFactory, UserFactory
from tests.invariants import assert_invariants
from tests.registrations.helpers import days_ahead, fresh, make_workshop, registrations_of

pytestmark = pytest.mark.django_db

D = Decimal
CONFIRMED, WAITLISTED, CANCELED = (
    RegistrationStatus.CONFIRMED,
    RegistrationStatus.WAITLISTED,
    RegistrationStatus.CANCELED,
)


def cart_of(order: Order) -> list[Registration]:
    return list(order.registrations.order_by("id"))


# --- create_workshop -------------------------------------------------------------------------------


def test_a_workshop_keeps_its_terms(provider, clerk):
    workshop = create_workshop(
        provider=provider,
        title="  Knife skills ",
        starts_at=days_ahead(20),
        capacity=12,
        price="80.00",
        currency="EUR",
        by=clerk,
    )
    assert (workshop.title, workshop.capacity, workshop.price, workshop.cancel_until_days) == (
        "Knife skills",
        12,
        D("80.00"),
        7,
    )
    assert workshop.full_credit_until == timezone.localdate() + datetime.timedelta(days=13)
    assert workshop.seats_taken == 0 and workshop.created_by == clerk


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": " "}, "needs a title"),
        ({"starts_at": datetime.datetime(2030, 1, 1, 10)}, "time zone"),
        ({"capacity": 0}, "seats must be a whole number"),
        ({"capacity": True}, "seats must be a whole number"),
        ({"price": 12.5}, "float"),
        ({"price": "-1.00"}, "cannot be negative"),
        ({"currency": "XXX"}, "not a currency"),
        ({"cancel_until_days": -1}, "full-credit deadline"),
    ],
)
def test_create_workshop_refuses_bad_terms(provider, change, message):
    terms = dict(
        provider=provider, title="T", starts_at=days_ahead(5), capacity=3, price="10.00", currency="EUR", by=None
    )
    with pytest.raises(BillingError, match=message):
        create_workshop(**{**terms, **change})
    assert not Workshop.objects.exists()


# --- register ---------------------------------------------------------------------------------------


def test_a_cart_is_one_order_with_one_invoice_for_its_confirmed_seats(customer, provider, clerk):
    bread = make_workshop(provider, title="Bread", seats=5, price="100.00")
    pasta = make_workshop(provider, title="Pasta", seats=5, price="60.00")
    order = register(customer=customer, workshops=[bread, pasta], by=clerk)
    first, second = cart_of(order)
    assert [r.status for r in (first, second)] == [CONFIRMED, CONFIRMED]
    assert first.waitlist_position is None and first.attendee == customer.name
    assert first.invoice_id == second.invoice_id is not None
    invoice = Invoice.objects.get(pk=first.invoice_id)
    assert invoice.state == "open" and invoice.total == D("160.00") and invoice.order_id == order.pk
    assert Invoice.objects.filter(order=order).count() == 1
    assert order.invoicing == "delivered" and order.billing_status == "invoiced" and order.balance_due == D("160.00")
    assert [line.delivered_quantity for line in OrderLine.objects.filter(order=order)] == [1, 1]
    assert (fresh(bread).seats_taken, fresh(pasta).seats_taken) == (1, 1)
    change = first.changes.get()
    assert (change.old, change.new, change.created_by, change.invoice_id) == ("", CONFIRMED, clerk, invoice.pk)
    assert_invariants()


def test_a_full_workshop_waitlists_without_charging(customer, provider):
    bread = make_workshop(provider, title="Bread", seats=1)
    pasta = make_workshop(provider, title="Pasta", seats=3, price="60.00")
    register(customer=CustomerFactory(), workshops=[bread], by=None)
    order = register(customer=customer, workshops=[bread, pasta], by=None)
    waiting, seated = cart_of(order)
    assert (waiting.status, waiting.waitlist_position, waiting.invoice_id) == (WAITLISTED, 1, None)
    assert seated.status == CONFIRMED
    assert Invoice.objects.get(order=order).total == D("60.00")  # the wait-listed seat charges nothing
    assert order.billing_status == "partially_invoiced"
    third = cart_of(register(customer=CustomerFactory(), workshops=[bread], by=None))[0]
    assert third.waitlist_position == 2
    assert (fresh(bread).seats_taken, fresh(bread).waitlist_length) == (1, 2)
    assert "wait-listed at position 1" in waiting.changes.get().note
    assert_invariants()


def test_a_cart_of_only_waitlisted_seats_issues_no_invoice(customer, provider):
    bread = make_workshop(provider, seats=1)
    register(customer=CustomerFactory(), workshops=[bread], by=None)
    order = register(customer=customer, workshops=[bread], by=None)
    assert not Invoice.objects.filter(order=order).exists()
    assert order.billing_status == "not_invoiced" and order.invoiced_total == 0
    assert_invariants()


def test_a_workshop_in_the_past_is_refused(customer, provider):
    past = create_workshop(
        provider=provider,
        title="Yesterday's class",
        starts_at=timezone.now() - datetime.timedelta(hours=1),
        capacity=5,
        price="10.00",
        currency="EUR",
        by=None,
    )
    upcoming = make_workshop(provider)
    with pytest.raises(InvalidState, match="Yesterday's class started on .*a workshop in the past takes no regis"):
        register(customer=customer, workshops=[upcoming, past], by=None)
    assert not Order.objects.exists() and not Registration.objects.exists()
    assert fresh(upcoming).seats_taken == 0


def test_the_same_attendee_twice_in_one_cart_is_refused(customer, provider):
    bread = make_workshop(provider, title="Bread")
    with pytest.raises(InvalidInput, match="Ada Lovelace is twice in this cart for Bread"):
        register(customer=customer, workshops=[bread, bread], by=None)
    assert not Order.objects.exists()


def test_two_attendees_of_one_customer_may_share_a_workshop(customer, provider):
    bread = make_workshop(provider, title="Bread", seats=5)
    order = register(customer=customer, workshops=[(bread, "Ada"), (bread, "Byron")], by=None)
    assert [r.attendee for r in cart_of(order)] == ["Ada", "Byron"]
    with pytest.raises(InvalidInput, match="carl is twice in this cart"):
        register(customer=customer, workshops=[(bread, "Carl"), (bread, "carl")], by=None)


def test_the_same_attendee_registered_before_is_refused(customer, provider):
    bread = make_workshop(provider, title="Bread", seats=1)
    register(customer=customer, workshops=[bread], by=None)
    with pytest.raises(InvalidInput, match=r"Ada Lovelace is already registered for Bread \(confirmed"):
        register(customer=customer, workshops=[bread], by=None)
    other = CustomerFactory(name="Bob")
    register(customer=other, workshops=[bread], by=None)
    with pytest.raises(InvalidInput, match="already registered for Bread \\(on the wait list at position 1"):
        register(customer=other, workshops=[bread], attendee="bob", by=None)
    # Canceled, the attendee may come back (last in line: the seat went on).
    cancel_registration(Registration.objects.get(customer=customer), by=None, reason="Ill")
    again = cart_of(register(customer=customer, workshops=[bread], by=None))[0]
    assert again.status == WAITLISTED and again.waitlist_position == 1


def test_another_currency_in_one_cart_is_refused(customer, provider):
    euros = make_workshop(provider, title="Bread")
    pounds = make_workshop(provider, title="Scones", currency="GBP")
    with pytest.raises(InvalidInput, match="one currency: Bread is in EUR, Scones in GBP"):
        register(customer=customer, workshops=[euros, pounds], by=None)
    assert not Order.objects.exists()


def test_another_provider_in_one_cart_is_refused(customer, provider, other_provider):
    with pytest.raises(InvalidInput, match="one provider"):
        register(
            customer=customer,
            workshops=[make_workshop(provider, title="A"), make_workshop(other_provider, title="B")],
            by=None,
        )


@pytest.mark.parametrize(("workshops", "message"), [([], "at least one workshop"), ([42], "is not a workshop")])
def test_an_empty_or_odd_cart_is_refused(customer, workshops, message):
    with pytest.raises(InvalidInput, match=message):
        register(customer=customer, workshops=workshops, by=None)


# --- cancel_registration ----------------------------------------------------------------------------


@pytest.mark.parametrize(("days_before", "credited"), [(30, True), (8, True), (7, True), (6, False), (1, False)])
def test_full_credit_up_to_the_deadline_day_inclusive(customer, provider, days_before, credited):
    """Deadline 7 days: a start 7 local days from today may still be canceled today for a full credit."""
    workshop = make_workshop(provider, days=days_before, seats=3, price="90.00")
    registration = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    canceled = cancel_registration(registration, by=None, reason="Customer asked")
    assert canceled.status == CANCELED and canceled.canceled_at is not None
    assert registration.status == CANCELED  # the caller's copy follows
    change = canceled.changes.last()
    assert (change.old, change.new, change.reason) == (CONFIRMED, CANCELED, "Customer asked")
    invoice = Invoice.objects.get(pk=canceled.invoice_id)
    if credited:
        note = CreditNote.objects.get(invoice=invoice)
        assert (note.amount, note.reason_code, note.reason) == (D("90.00"), "cancellation", "Customer asked")
        assert canceled.credit_note == note and change.credit_note == note
        assert invoice.balance_due == 0
        assert "credited in full (90.00 EUR)" in change.note
    else:
        assert canceled.credit_note is None and not CreditNote.objects.exists()
        assert invoice.balance_due == D("90.00")
        assert "after the full-credit deadline" in change.note and "nothing credited" in change.note
    assert fresh(workshop).seats_taken == 0
    assert_invariants()


def test_a_custom_deadline_counts_its_own_days(customer, provider):
    workshop = make_workshop(provider, days=2, cancel_until_days=2)
    registration = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    assert cancel_registration(registration, by=None, reason="x").credit_note is not None


def test_finance_may_credit_after_the_deadline_with_a_reason(customer, provider):
    finance = UserFactory(username="fran")
    workshop = make_workshop(provider, days=3, price="50.00")
    registration = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    canceled = cancel_registration(registration, by=finance, reason="Flooded venue, goodwill", credit_anyway=True)
    assert canceled.credit_note.amount == D("50.00") and canceled.credit_note.reason_code == "cancellation"
    change = canceled.changes.last()
    assert change.created_by == finance and "credited in full anyway" in change.note
    assert_invariants()


def test_a_cancellation_needs_a_reason(customer, provider):
    registration = cart_of(register(customer=customer, workshops=[make_workshop(provider)], by=None))[0]
    with pytest.raises(InvalidInput, match="Give a reason"):
        cancel_registration(registration, by=None, reason="  ")
    assert fresh(registration).status == CONFIRMED


def test_canceling_twice_is_refused(customer, provider):
    registration = cart_of(register(customer=customer, workshops=[make_workshop(provider)], by=None))[0]
    cancel_registration(registration, by=None, reason="x")
    with pytest.raises(InvalidState, match="was already canceled on"):
        cancel_registration(registration, by=None, reason="again")
    assert CreditNote.objects.count() == 1


def test_only_one_seat_of_a_cart_is_credited(customer, provider):
    bread = make_workshop(provider, title="Bread", price="100.00")
    pasta = make_workshop(provider, title="Pasta", price="60.00")
    first, second = cart_of(register(customer=customer, workshops=[bread, pasta], by=None))
    cancel_registration(second, by=None, reason="Pasta moved")
    invoice = Invoice.objects.get(pk=first.invoice_id)
    assert (invoice.total, invoice.credited_total, invoice.balance_due) == (D("160.00"), D("60.00"), D("100.00"))
    assert fresh(first).status == CONFIRMED


def test_a_freed_seat_goes_to_the_first_waitlisted_who_is_charged_on_its_own_invoice(customer, provider, clerk):
    workshop = make_workshop(provider, seats=1, price="70.00")
    seated = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    second = CustomerFactory(name="Grace")
    third = CustomerFactory(name="Linus")
    waiting = cart_of(register(customer=second, workshops=[workshop], by=None))[0]
    behind = cart_of(register(customer=third, workshops=[workshop], by=None))[0]
    assert (waiting.waitlist_position, behind.waitlist_position) == (1, 2)

    cancel_registration(seated, by=clerk, reason="Can't come")

    promoted = fresh(waiting)
    assert (promoted.status, promoted.waitlist_position) == (CONFIRMED, None)
    invoice = Invoice.objects.get(pk=promoted.invoice_id)
    assert invoice.customer == second and invoice.total == D("70.00") and invoice.state == "open"
    assert invoice.order_id == promoted.order_id and invoice.pk != seated.invoice_id
    change = promoted.changes.last()
    assert (change.old, change.new, change.created_by, change.invoice_id) == (WAITLISTED, CONFIRMED, clerk, invoice.pk)
    assert f"freed by {seated}" in change.note
    assert fresh(behind).waitlist_position == 1
    workshop = fresh(workshop)
    assert (workshop.seats_taken, workshop.waitlist_length) == (1, 1)
    assert Order.objects.get(pk=promoted.order_id).billing_status == "invoiced"
    assert_invariants()


def test_a_seat_freed_after_the_deadline_still_goes_to_the_wait_list(customer, provider):
    workshop = make_workshop(provider, days=2, seats=1)
    seated = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    waiting = cart_of(register(customer=CustomerFactory(), workshops=[workshop], by=None))[0]
    cancel_registration(seated, by=None, reason="Late")
    assert not CreditNote.objects.exists()
    assert fresh(waiting).status == CONFIRMED
    assert Invoice.objects.filter(customer=waiting.customer).count() == 1
    assert_invariants()


def test_a_waitlisted_registration_just_leaves_the_list(customer, provider):
    workshop = make_workshop(provider, seats=1)
    register(customer=CustomerFactory(), workshops=[workshop], by=None)
    order = register(customer=customer, workshops=[workshop], by=None)
    leaving = cart_of(order)[0]
    behind = cart_of(register(customer=CustomerFactory(), workshops=[workshop], by=None))[0]
    canceled = cancel_registration(leaving, by=None, reason="Found another date")
    assert (canceled.status, canceled.waitlist_position, canceled.credit_note) == (CANCELED, None, None)
    assert "left the wait list (was at position 1)" in canceled.changes.last().note
    assert fresh(behind).waitlist_position == 1
    assert fresh(workshop).waitlist_length == 1
    assert not Invoice.objects.filter(customer=customer).exists()
    order = fresh(order)
    assert order.state == "canceled"  # its only line was never billed
    assert_invariants()


def test_a_paid_seat_canceled_in_time_leaves_an_overpaid_invoice_for_refund(customer, provider):
    from allocations.services import allocate
    from tests.factories import make_payment

    workshop = make_workshop(provider, price="40.00")
    registration = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    invoice = Invoice.objects.get(pk=registration.invoice_id)
    allocate(make_payment(customer=customer, amount="40.00"), invoice, "40.00", by=None)
    cancel_registration(registration, by=None, reason="Refund please")
    assert fresh(invoice).payment_status == "overpaid"  # the work queue asks for a refund
    assert_invariants()


# --- the database backs the rules ----------------------------------------------------------------


def test_the_history_is_append_only(customer, provider):
    registration = cart_of(register(customer=customer, workshops=[make_workshop(provider)], by=None))[0]
    change = RegistrationChange.objects.get(registration=registration)
    for sql in (
        "UPDATE registrations_registrationchange SET new = 'canceled' WHERE id = %s",
        "DELETE FROM registrations_registrationchange WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [change.pk])
    assert fresh(change).new == CONFIRMED


def test_the_database_refuses_more_confirmed_than_seats(customer, provider):
    """I10's backstop: a row written behind the services' back cannot overfill a workshop."""
    workshop = make_workshop(provider, seats=1)
    register(customer=customer, workshops=[workshop], by=None)
    waiting = cart_of(register(customer=CustomerFactory(), workshops=[workshop], by=None))[0]
    with pytest.raises(IntegrityError, match="more confirmed registrations than seats"), transaction.atomic():
        Registration.objects.filter(pk=waiting.pk).update(
            status=CONFIRMED, waitlist_position=None, invoice_id=Invoice.objects.get().pk
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Workshop.objects.filter(pk=workshop.pk).update(seats_taken=2)


def test_a_provider_of_its_own_numbers_orders_per_cart(customer):
    provider = ProviderFactory(name="Bake School", code="BAKE")
    order = register(customer=customer, workshops=[make_workshop(provider)], by=None)
    assert order.number == "O-BAKE-000001" and Invoice.objects.get(order=order).number == "BAKE-000001"


def test_a_free_seat_canceled_in_time_has_nothing_to_credit(customer, provider):
    workshop = make_workshop(provider, price="0.00")
    registration = cart_of(register(customer=customer, workshops=[workshop], by=None))[0]
    canceled = cancel_registration(registration, by=None, reason="x")
    assert canceled.status == CANCELED and canceled.credit_note is None and not CreditNote.objects.exists()
    assert "nothing left to credit" in canceled.changes.last().note
    assert_invariants()


def test_a_voided_cart_invoice_billed_again_is_the_one_credited(customer, provider):
    from invoices.services import void_invoice
    from orders.services import invoice_order

    workshop = make_workshop(provider, price="30.00")
    order = register(customer=customer, workshops=[workshop], by=None)
    registration = cart_of(order)[0]
    void_invoice(Invoice.objects.get(order=order), by=None, reason="Wrong address")
    assert_invariants()  # the seat stays confirmed; its line may be billed again
    again = invoice_order(order, by=None)
    canceled = cancel_registration(registration, by=None, reason="Ill")
    assert canceled.credit_note.invoice_id == again.pk and canceled.credit_note.amount == D("30.00")
    assert_invariants()


def test_a_voided_cart_invoice_not_billed_again_credits_nothing(customer, provider):
    from invoices.services import void_invoice

    workshop = make_workshop(provider, price="30.00")
    order = register(customer=customer, workshops=[workshop], by=None)
    void_invoice(Invoice.objects.get(order=order), by=None, reason="Wrong address")
    canceled = cancel_registration(cart_of(order)[0], by=None, reason="Ill")
    assert canceled.credit_note is None and "its invoice was voided" in canceled.changes.last().note
    assert_invariants()
