"""Workshops, their registrations and the registrations' history (DESIGN.md section 12).

A registration is a seat (or a place on the wait list) bought through an order: `register`
makes one order (the cart) with one line per workshop, and each Registration names its line.
The money lives where it always does: a confirmed seat's line is delivered and invoiced, a
cancellation within the deadline is a credit note (reason `cancellation`). The workshop's
`seats_taken` and `waitlist_length` are caches written only by registrations.services under
the workshop's row lock; I10 (never more confirmed registrations than seats) is held there,
by the check constraint on the cache and by a trigger that counts the confirmed rows.
"""

from __future__ import annotations

import datetime

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django_fsm import transition

from billing.fsm import RefreshableFSMModel, StatusField
from billing.models import CURRENCY_CHECK, Customer, LedgerRow, Provider, currency_field, money_field
from invoices.models import CreditNote, Invoice
from orders.models import Order, OrderLine


class Workshop(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="workshops")
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    capacity = models.PositiveIntegerField()  # the seats
    price = money_field()
    currency = currency_field()
    # Full credit for a cancellation up to this many days before the start's date (inclusive).
    cancel_until_days = models.PositiveSmallIntegerField(default=7)
    # Caches of the registrations, written under this row's lock (registrations.services).
    seats_taken = models.PositiveIntegerField(default=0)
    waitlist_length = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gt=0), name="workshop_capacity_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="workshop_price_non_negative"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="workshop_currency_code"),
            # I10 on the cache: never more seats taken than seats.
            models.CheckConstraint(condition=Q(seats_taken__lte=F("capacity")), name="workshop_seats_within_capacity"),
        ]
        indexes = [models.Index(fields=["starts_at", "id"], name="workshop_starts_idx")]

    def __str__(self) -> str:
        return f"{self.title} ({timezone.localtime(self.starts_at):%Y-%m-%d %H:%M})"

    def get_absolute_url(self) -> str:
        return reverse("registrations:workshop", args=[self.pk])

    @property
    def full_credit_until(self) -> datetime.date:
        """The last day a confirmed seat may be canceled for a full credit."""
        return timezone.localdate(self.starts_at) - datetime.timedelta(days=self.cancel_until_days)

    @property
    def seats_left(self) -> int:
        return self.capacity - self.seats_taken

    @property
    def started(self) -> bool:
        return self.starts_at <= timezone.now()


class RegistrationStatus(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    WAITLISTED = "waitlisted", "Wait-listed"
    CANCELED = "canceled", "Canceled"


class Registration(RefreshableFSMModel):
    workshop = models.ForeignKey(Workshop, on_delete=models.PROTECT, related_name="registrations")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="registrations")
    order_line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="registration")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="registrations")
    attendee = models.CharField(max_length=200)
    status = StatusField(max_length=16, choices=RegistrationStatus.choices, protected=True)
    # 1 is next in line; renumbered when someone ahead leaves the list (arrival order kept).
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)
    registered_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # The invoice that charged the seat (the cart's, or its own after the wait list) and the full credit.
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=RegistrationStatus.WAITLISTED, waitlist_position__gte=1)
                | (~Q(status=RegistrationStatus.WAITLISTED) & Q(waitlist_position__isnull=True)),
                name="registration_waitlist_position_iff_waitlisted",
            ),
            models.CheckConstraint(
                condition=~Q(status=RegistrationStatus.CONFIRMED) | Q(invoice__isnull=False),
                name="registration_confirmed_is_charged",
            ),
            # Deferred: leaving the list moves everyone behind up by one in one UPDATE.
            models.UniqueConstraint(
                fields=["workshop", "waitlist_position"],
                name="registration_unique_waitlist_position",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.UniqueConstraint(
                "workshop",
                "customer",
                Lower("attendee"),
                condition=~Q(status=RegistrationStatus.CANCELED),
                name="registration_one_live_per_attendee",
            ),
        ]
        indexes = [
            models.Index(fields=["workshop", "status"], name="registration_workshop_idx"),
            models.Index(fields=["customer", "registered_at"], name="registration_customer_idx"),
        ]
        triggers = [
            # I10 at the database, whatever code writes: a workshop never has more confirmed
            # registrations than seats. The services count under the workshop's lock; this is
            # the backstop (it also sees rows written outside them).
            pgtrigger.Trigger(
                name="seats_within_capacity",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update,
                condition=pgtrigger.Q(new__status=RegistrationStatus.CONFIRMED),
                func="""
                IF (SELECT count(*) FROM registrations_registration
                    WHERE workshop_id = NEW.workshop_id AND status = 'confirmed')
                   > (SELECT capacity FROM registrations_workshop WHERE id = NEW.workshop_id) THEN
                    RAISE EXCEPTION 'workshop % would have more confirmed registrations than seats (I10)',
                        NEW.workshop_id USING ERRCODE = 'check_violation';
                END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"R-{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("registrations:registration", args=[self.pk])

    @transition(field=status, source=RegistrationStatus.WAITLISTED, target=RegistrationStatus.CONFIRMED)
    def confirm(self) -> None:
        """A seat freed up: the first on the wait list takes it (and is charged)."""

    @transition(
        field=status,
        source=[RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED],
        target=RegistrationStatus.CANCELED,
    )
    def cancel(self) -> None:
        """Confirmed or wait-listed to canceled."""


class RegistrationChange(LedgerRow):
    """One move of a registration's status, who made it, when and why; append-only.

    `old` is blank for the registration itself. The invoice is the one that charged the seat
    (at registration or promotion), the credit note the full credit of a cancellation.
    """

    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="changes")
    old = models.CharField(max_length=16, blank=True)
    new = models.CharField(max_length=16)
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # What happened, in the clerk's words ("full credit", "after the deadline: nothing credited").
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
