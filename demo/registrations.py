"""Demo workshops and registrations (issue 14), only through the services.

Seeded after the plans (demo.books.build), in one transaction, with starts counted from
today: a workshop that is full with a wait list, a cart over two workshops, a cancellation
within the deadline (credited, its seat handed to the first on the wait list, who is
charged), a cancellation after the deadline (nothing credited) and one wait-listed person
leaving the list. Deterministic for the same customers; a second run adds nothing once the
demo's workshops exist.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from billing.models import Customer, Provider
from invoices.models import Invoice
from orders.models import Order
from registrations.models import Registration, RegistrationStatus, Workshop
from registrations.services import cancel_registration, create_workshop, register

CURRENCY = "EUR"
TITLE_PREFIX = "Demo: "
# Who attends, one per sign-up: a customer may send several people (few demo customers, many seats).
ATTENDEES = (
    "Alma Reyes", "Bruno Keller", "Chiara Conti", "Dev Patel", "Elin Berg", "Femi Adeyemi",
    "Greta Novak", "Hugo Laurent", "Ines Duarte", "Jonas Weber", "Kaito Mori", "Lena Horvat",
)  # fmt: skip


class RegistrationBooks:
    """What the demo registrations did, as demo.books.Counts counts it."""

    def __init__(self, customers: list[Customer], providers: list[Provider]) -> None:
        euro = [c for c in customers if not Invoice.objects.filter(customer=c).exclude(currency=CURRENCY).exists()]
        self.customers = euro or customers
        self.providers = sorted(providers, key=lambda p: p.code)
        self.events: dict[str, int] = {}
        self.invoices = 0
        self.payments = 0
        self.turn = 0

    def note(self, event: str, times: int = 1) -> None:
        self.events[event] = self.events.get(event, 0) + times

    def starts_in(self, days: int, hour: int = 10) -> datetime.datetime:
        day = timezone.localdate() + datetime.timedelta(days=days)
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))

    def workshop(self, title: str, *, days: int, seats: int, price: str, **terms) -> Workshop:
        workshop = create_workshop(
            provider=self.providers[0],
            title=TITLE_PREFIX + title,
            starts_at=self.starts_in(days),
            capacity=seats,
            price=price,
            currency=CURRENCY,
            by=None,
            **terms,
        )
        self.note("workshop made")
        return workshop

    def sign_up(self, *workshops: Workshop) -> Order:
        customer = self.customers[self.turn % len(self.customers)]
        attendee = ATTENDEES[self.turn % len(ATTENDEES)]
        self.turn += 1
        order = register(customer=customer, workshops=list(workshops), attendee=attendee, by=None)
        self.invoices += Invoice.objects.filter(order=order).count()
        for registration in order.registrations.all():
            self.note(f"registration {registration.status}")
        return order

    def cancel(self, registration: Registration, reason: str) -> None:
        before = Invoice.objects.count()
        canceled = cancel_registration(registration, by=None, reason=reason)
        self.invoices += Invoice.objects.count() - before  # the promoted seat's own invoice
        self.note("registration canceled, credited" if canceled.credit_note_id else "registration canceled")

    def run(self) -> None:
        sourdough = self.workshop("Sourdough basics", days=21, seats=3, price="120.00")
        knives = self.workshop("Knife skills", days=10, seats=8, price="80.00")
        pasta = self.workshop("Pasta by hand", days=3, seats=6, price="60.00")
        self.workshop("Fermentation weekend", days=40, seats=12, price="195.00", cancel_until_days=14)
        # A cart over two workshops: one order, one invoice for both seats.
        cart = self.sign_up(sourdough, knives)
        for _ in range(4):  # the rest of the seats, then a wait list of two
            self.sign_up(sourdough)
        self.sign_up(knives)
        for _ in range(3):
            self.sign_up(pasta)
        # Within the deadline: credited in full, the first on the wait list takes the seat and is charged.
        first = cart.registrations.get(workshop=sourdough)
        self.cancel(first, "Customer moved to the spring course")
        # After the deadline (3 days before the start, the deadline is 7): nothing credited.
        late = Registration.objects.filter(workshop=pasta, status=RegistrationStatus.CONFIRMED).order_by("id").first()
        if late is not None:
            self.cancel(late, "No longer able to attend")
        # A full workshop keeps its wait list: one more joins, the last one leaves it.
        self.sign_up(sourdough)
        leaving = (
            Registration.objects.filter(workshop=sourdough, status=RegistrationStatus.WAITLISTED)
            .order_by("-waitlist_position")
            .first()
        )
        if leaving is not None:
            self.cancel(leaving, "Found another date")


def seed_registrations(customers: list[Customer], providers: list[Provider]) -> RegistrationBooks:
    """Seed the demo workshops in one transaction; returns what was done (nothing when they exist)."""
    books = RegistrationBooks(customers, providers)
    if not books.customers or not books.providers or Workshop.objects.filter(title__startswith=TITLE_PREFIX).exists():
        return books
    with transaction.atomic():
        books.run()
    return books
