"""I10 and I8 for registrations: seats are counted under the workshop's row lock.

Real threads against PostgreSQL (tests/ledger/test_concurrency.py's harness): sign-ups at
once never overfill a workshop, the wait list keeps the order in which they got the lock,
and cancellations racing sign-ups (each handing its seat on) never overfill nor deadlock.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoices.models import Invoice
from registrations.models import Registration, RegistrationStatus
from registrations.services import cancel_registration, register
from tests.factories import CustomerFactory
from tests.invariants import assert_invariants
from tests.ledger.test_concurrency import assert_no_deadlock_or_crash, outcomes, run_together
from tests.registrations.helpers import fresh, make_workshop, registrations_of

pytestmark = pytest.mark.django_db(transaction=True)

CONFIRMED, WAITLISTED = RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED


def test_fifty_sign_ups_at_once_for_ten_seats(provider):
    workshop = make_workshop(provider, seats=10, price="75.00")
    customers = [CustomerFactory(name=f"Attendee {n:02d}") for n in range(50)]
    results = run_together(
        [lambda customer=customer: register(customer=customer, workshops=[workshop], by=None) for customer in customers]
    )
    assert outcomes(results) == ["ok"] * 50

    # Arrival order is the order in which the sign-ups got the workshop's lock: each one's
    # registration was written (id, registered_at) while holding it.
    arrived = list(Registration.objects.filter(workshop=workshop).order_by("registered_at", "id"))
    assert [r.pk for r in arrived] == sorted(r.pk for r in arrived)
    assert [r.status for r in arrived] == [CONFIRMED] * 10 + [WAITLISTED] * 40
    assert [r.waitlist_position for r in arrived[10:]] == list(range(1, 41))
    confirmed = arrived[:10]
    invoices = Invoice.objects.filter(pk__in=[r.invoice_id for r in confirmed])
    assert invoices.count() == 10  # one invoice per cart, each charging its one seat
    assert {invoice.total for invoice in invoices} == {Decimal("75.00")}
    assert not Invoice.objects.exclude(pk__in=invoices).exists()  # the wait list charged nothing
    workshop = fresh(workshop)
    assert (workshop.seats_taken, workshop.waitlist_length) == (10, 40)
    assert_invariants()


def test_cancellations_racing_sign_ups_never_overfill(provider):
    """Two workshops, carts over both, cancellations of both kinds and new sign-ups all at once."""
    bread = make_workshop(provider, title="Bread", seats=4)
    pasta = make_workshop(provider, title="Pasta", seats=3)
    seated = []
    for n in range(7):  # bread: 4 seated, 3 waiting; pasta: 3 seated, 4 waiting
        order = register(customer=CustomerFactory(name=f"Early {n}"), workshops=[bread, pasta], by=None)
        seated += list(order.registrations.all())
    confirmed = [r for r in seated if r.status == CONFIRMED]
    waiting = [r for r in seated if r.status == WAITLISTED]
    jobs = [
        lambda r=r: cancel_registration(Registration.objects.get(pk=r.pk), by=None, reason="race")
        for r in confirmed[:5] + waiting[:2]
    ]
    jobs += [
        lambda n=n: register(customer=CustomerFactory(name=f"Late {n}"), workshops=[bread, pasta], by=None)
        for n in range(8)
    ]
    jobs += [
        lambda n=n: register(customer=CustomerFactory(name=f"Solo {n}"), workshops=[pasta], by=None) for n in range(4)
    ]
    results = run_together(jobs)
    assert_no_deadlock_or_crash(results)
    assert outcomes(results) == ["ok"] * len(jobs)

    for workshop in (bread, pasta):
        workshop = fresh(workshop)
        live = registrations_of(workshop, CONFIRMED)
        waiting_now = sorted(registrations_of(workshop, WAITLISTED), key=lambda r: r.waitlist_position)
        assert len(live) == workshop.capacity  # every freed seat went on to the wait list at once
        assert [r.waitlist_position for r in waiting_now] == list(range(1, len(waiting_now) + 1))
        # The list keeps arrival order: whoever waits longer stands further ahead.
        assert [r.registered_at for r in waiting_now] == sorted(r.registered_at for r in waiting_now)
        assert all(r.invoice_id for r in live)
    assert_invariants()
