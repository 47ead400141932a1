"""The registrations pages: the workshop list (seats, wait list, revenue), a workshop's roster and
wait list, registering a cart for a customer, a registration's timeline and its cancellation
(confirmation first, credit or not, the wait list's promotion), and who may do what."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import CreditNote, Invoice
from orders.models import Order
from registrations.models import Registration, RegistrationStatus, Workshop
from registrations.services import cancel_registration, register
from submissions.tokens import issue_token
from tests.factories import CustomerFactory
from tests.registrations.helpers import fresh, make_workshop
from tests.support.actions import (  # noqa: F401  (fixtures)
    client_for,
    finance,
    finance_user,
    support,
    support_user,
    text,
)

pytestmark = pytest.mark.django_db
D = Decimal


def words(response) -> str:
    """The page as a reader sees it: tags dropped, entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def full(provider, customer):
    """Bread: 1 seat at 80.00, taken by Ada; Grace waits at position 1."""
    workshop = make_workshop(provider, title="Bread", seats=1, price="80.00")
    register(customer=customer, workshops=[workshop], by=None)
    register(customer=CustomerFactory(name="Grace Hopper"), workshops=[workshop], by=None)
    return workshop


def seated(workshop) -> Registration:
    return Registration.objects.get(workshop=workshop, status=RegistrationStatus.CONFIRMED)


def waiting(workshop) -> Registration:
    return Registration.objects.get(workshop=workshop, status=RegistrationStatus.WAITLISTED, waitlist_position=1)


def test_anonymous_is_sent_to_sign_in(client, full):
    for url in (reverse("registrations:list"), reverse("registrations:workshop", args=[full.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_support_reads_but_cannot_register_or_cancel(support, full):
    assert support.get(reverse("registrations:list")).status_code == 200
    page = support.get(reverse("registrations:workshop", args=[full.pk]))
    assert page.status_code == 200 and "Cancel…" not in words(page) and "Register a customer" not in words(page)
    registration = seated(full)
    assert support.get(reverse("registrations:registration", args=[registration.pk])).status_code == 200
    for url in (reverse("registrations:register"), reverse("registrations:cancel", args=[registration.pk])):
        response = support.post(url, {"reason": "x", "confirm": "1"})
        assert response.status_code == 403 and "Finance role" in words(response)
    assert fresh(registration).status == RegistrationStatus.CONFIRMED


def test_the_list_shows_seats_wait_list_and_revenue(support, full, provider, customer):
    pasta = make_workshop(provider, title="Pasta", seats=5, price="30.00")
    (r,) = register(customer=customer, workshops=[pasta], by=None).registrations.all()
    cancel_registration(r, by=None, reason="Moved")  # credited: revenue back to 0
    page = words(support.get(reverse("registrations:list")))
    assert "Workshops" in page
    assert "Bread" in page and "1 / 1" in page and "Full" in page and "80.00 EUR" in page
    assert "Pasta" in page and "0 / 5" in page and "0.00 EUR" in page
    nav = text(support.get(reverse("registrations:list")))
    assert 'href="/workshops/" class="active" aria-current="page"' in nav


def test_empty_states(support, db):
    assert "No upcoming workshops." in words(support.get(reverse("registrations:list")))
    assert "No workshop has started yet." in words(support.get(reverse("registrations:list") + "?when=past"))


def test_the_workshop_page_has_roster_wait_list_and_actions(finance, full, customer):
    page = words(finance.get(reverse("registrations:workshop", args=[full.pk])))
    assert "Roster" in page and customer.name in page
    assert "Wait list" in page and "Grace Hopper" in page
    assert "Seats taken 1 / 1" in page and "Wait list 1" in page and "Revenue 80.00 EUR" in page
    assert "Cancel…" in page and "Leave the list…" in page and "Register a customer…" in page


def test_an_unknown_workshop_or_registration_is_404(support, db):
    assert support.get(reverse("registrations:workshop", args=[999999])).status_code == 404
    assert support.get(reverse("registrations:registration", args=[999999])).status_code == 404


def test_register_a_cart_for_a_customer(finance, finance_user, provider, full):
    pasta = make_workshop(provider, title="Pasta", seats=3, price="30.00")
    bob = CustomerFactory(name="Bob Builder")
    url = reverse("registrations:register")
    form = finance.get(url + f"?q=Bob&workshop={pasta.pk}")
    assert form.status_code == 200 and "Bob Builder" in words(form) and "Pasta" in words(form)
    token = issue_token(finance_user)
    data = {"form_token": token, "customer": str(bob.pk), "workshops": [str(full.pk), str(pasta.pk)], "attendee": ""}
    done = finance.post(url, data)
    order = Order.objects.get(customer=bob)
    assert done.status_code == 302 and done["Location"] == order.get_absolute_url() + "#registrations"
    bread_seat, pasta_seat = order.registrations.order_by("id")
    assert (bread_seat.status, bread_seat.waitlist_position) == (RegistrationStatus.WAITLISTED, 2)
    assert pasta_seat.status == RegistrationStatus.CONFIRMED and pasta_seat.created_by == finance_user
    assert Invoice.objects.get(order=order).total == D("30.00")
    page = words(finance.get(done["Location"]))
    assert "1 seat confirmed and invoiced (30.00 EUR)" in page
    assert "Bread is full: wait-listed at position 2, nothing charged" in page
    assert "Workshop registrations" in page and str(bread_seat) in page  # the order links to its registrations
    again = finance.post(url, data)
    assert again.status_code == 302 and Order.objects.filter(customer=bob).count() == 1  # a replay writes nothing


def test_register_refusals_are_shown_and_nothing_is_written(finance, finance_user, customer, provider, full):
    scones = make_workshop(provider, title="Scones", currency="GBP")
    url = reverse("registrations:register")
    cases = [
        ({"customer": str(customer.pk), "workshops": [str(full.pk)]}, "is already registered for Bread"),
        ({"customer": str(customer.pk), "workshops": [str(scones.pk), str(full.pk)]}, "one currency"),
        ({"customer": "", "workshops": [str(full.pk)]}, "This field is required"),
        ({"customer": str(customer.pk)}, "This field is required"),
    ]
    orders = Order.objects.count()
    for data, message in cases:
        response = finance.post(url, {"form_token": issue_token(finance_user), **data})
        assert response.status_code == 200 and message in words(response), message
    assert Order.objects.count() == orders


def test_cancel_within_the_deadline_confirms_then_credits_and_promotes(finance, finance_user, full):
    registration, next_in_line = seated(full), waiting(full)
    url = reverse("registrations:cancel", args=[registration.pk])
    form = words(finance.get(url))
    assert "Within the full-credit deadline" in form and "Credit in full anyway" not in form
    token = issue_token(finance_user)
    review = finance.post(url, {"form_token": token, "reason": "Ill"})
    assert review.status_code == 200
    page = words(review)
    assert "A credit note of 80.00 EUR (cancellation)" in page
    assert "The seat goes to Grace Hopper" in page and "charged 80.00 EUR on an invoice of its own" in page
    assert fresh(registration).status == RegistrationStatus.CONFIRMED  # the review wrote nothing
    done = finance.post(url, {"form_token": token, "reason": "Ill", "confirm": "1"})
    assert done.status_code == 302 and done["Location"] == registration.get_absolute_url()
    assert fresh(registration).status == RegistrationStatus.CANCELED
    assert CreditNote.objects.get().reason_code == "cancellation"
    assert fresh(next_in_line).status == RegistrationStatus.CONFIRMED
    timeline = words(finance.get(done["Location"]))
    assert "canceled within the full-credit deadline: credited in full (80.00 EUR)" in timeline
    assert "Reason: Ill" in timeline and finance_user.username in timeline
    promoted = words(finance.get(reverse("registrations:registration", args=[next_in_line.pk])))
    assert "Wait-listed → Confirmed" in promoted and "took the seat freed by" in promoted


def test_cancel_after_the_deadline_says_nothing_is_credited(finance, finance_user, provider, customer):
    workshop = make_workshop(provider, days=3, price="40.00")
    (registration,) = register(customer=customer, workshops=[workshop], by=None).registrations.all()
    url = reverse("registrations:cancel", args=[registration.pk])
    assert "has passed: cancelling credits nothing" in words(finance.get(url))
    token = issue_token(finance_user)
    review = words(finance.post(url, {"form_token": token, "reason": "No show"}))
    assert "Nothing is credited: the full-credit deadline was" in review
    done = finance.post(url, {"form_token": token, "reason": "No show", "confirm": "1"})
    assert not CreditNote.objects.exists()
    assert "after the full-credit deadline" in words(finance.get(done["Location"]))


def test_finance_credits_anyway_after_the_deadline(finance, finance_user, provider, customer):
    workshop = make_workshop(provider, days=3, price="40.00")
    (registration,) = register(customer=customer, workshops=[workshop], by=None).registrations.all()
    url = reverse("registrations:cancel", args=[registration.pk])
    token = issue_token(finance_user)
    data = {"form_token": token, "reason": "Venue flooded", "credit_anyway": "on"}
    assert "although the full-credit deadline" in words(finance.post(url, data))
    finance.post(url, {**data, "confirm": "1"})
    note = CreditNote.objects.get()
    assert (note.amount, note.reason, note.created_by) == (D("40.00"), "Venue flooded", finance_user)


def test_cancel_needs_a_reason_and_refuses_twice(finance, finance_user, full):
    registration = waiting(full)
    url = reverse("registrations:cancel", args=[registration.pk])
    response = finance.post(url, {"form_token": issue_token(finance_user), "reason": " "})
    assert "Give a reason to cancel" in words(response)
    response = finance.post(url, {"form_token": issue_token(finance_user), "reason": " ", "confirm": "1"})
    assert "Give a reason to cancel registration" in words(response)
    assert fresh(registration).status == RegistrationStatus.WAITLISTED
    finance.post(url, {"form_token": issue_token(finance_user), "reason": "Gone", "confirm": "1"})
    assert fresh(registration).status == RegistrationStatus.CANCELED
    again = finance.post(url, {"form_token": issue_token(finance_user), "reason": "Gone", "confirm": "1"})
    assert "was already canceled on" in words(again)


def test_make_a_workshop(finance, finance_user, provider):
    url = reverse("registrations:new")
    assert finance.get(url).status_code == 200
    data = {
        "form_token": issue_token(finance_user),
        "provider": str(provider.pk),
        "title": "Croissants",
        "starts_at": "2031-03-01T09:30",
        "capacity": "6",
        "currency": "EUR",
        "price": "1.234",
        "cancel_until_days": "10",
    }
    refused = finance.post(url, data)
    assert refused.status_code == 200 and "more decimals than EUR allows" in words(refused)
    assert not Workshop.objects.exists()
    done = finance.post(url, {**data, "price": "95.00"})
    workshop = Workshop.objects.get()
    assert done.status_code == 302 and done["Location"] == workshop.get_absolute_url()
    assert (workshop.capacity, workshop.price, workshop.cancel_until_days, workshop.created_by) == (
        6,
        D("95.00"),
        10,
        finance_user,
    )
    assert timezone.localtime(workshop.starts_at).strftime("%Y-%m-%d %H:%M") == "2031-03-01 09:30"
    assert "Workshop Croissants made: 6 seats." in words(finance.get(done["Location"]))


def test_support_cannot_make_a_workshop(support, provider):
    assert support.get(reverse("registrations:new")).status_code == 403
