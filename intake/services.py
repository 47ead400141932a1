"""Bank entries after intake: record a credit for its customer, and a clerk's decisions on work items.

`record_and_allocate` is shared by the import and by a clerk assigning an unidentified
credit: record_payment with the bank reference as idempotency reference, then
auto_allocate preferring the invoices the remittance text names.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from allocations.services import auto_allocate_many, auto_allocate_planned
from billing.actors import Actor
from billing.errors import InvalidState
from billing.models import Customer
from billing.money import format_money
from billing.validation import require_reason
from intake.models import OPEN_BANK_ENTRY_STATUSES, BankEntry, BankEntryStatus
from intake.statements import StatementEntry, find_invoice_numbers
from payments.models import Payment, PaymentMethod
from payments.services import record_payment, record_payments


@dataclass
class AllocationLine:
    invoice_number: str
    amount: Decimal
    currency: str
    reason: str

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)


def describe_entry(entry: BankEntry | StatementEntry) -> str:
    direction = "credit" if entry.credit else "debit"
    if entry.reversal:
        direction = "reversal of a " + ("debit" if entry.credit else "credit")
    return f"{direction} of {format_money(entry.amount, entry.currency)} booked {entry.booking_date}"


def booked_at(day: datetime.date) -> datetime.datetime:
    """When a booking's money counts as received: the start of its booking day."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=timezone.get_current_timezone())


def record_and_allocate(
    reference: str,
    *,
    customer: Customer,
    amount: Decimal,
    currency: str,
    booked: datetime.datetime,
    remittance_text: str,
    by: Actor,
    recorded_before: bool | None = None,
) -> tuple[Payment, list[AllocationLine], str]:
    """record_payment by bank reference, then auto_allocate preferring the invoices the text names.

    A payment a clerk already recorded with this reference is kept as it is (not
    auto-allocated again: the clerk may have placed it on purpose). `recorded_before`
    says whether one exists when the caller already knows (the import reads it for a
    whole chunk of entries, under the reference's lock); None asks the database.
    """
    if recorded_before is None:
        recorded_before = Payment.objects.filter(reference=reference).exists()
    if recorded_before:
        payment = record_payment(
            customer=customer,
            amount=amount,
            currency=currency,
            method=PaymentMethod.BANK_TRANSFER,
            reference=reference,
            by=by,
        )
        return payment, [], f"already recorded as {payment} before this import; left as it was"
    payment = record_payment(
        customer=customer,
        amount=amount,
        currency=currency,
        method=PaymentMethod.BANK_TRANSFER,
        reference=reference,
        received_at=booked,
        by=by,
    )
    numbers = find_invoice_numbers(remittance_text)
    # record_payment returned the row it created in this transaction: nothing to read again.
    rows, plan = auto_allocate_planned(payment, by=by, preferred_numbers=numbers, fresh=True)
    return payment, *_outcome(payment, rows, plan)


def _outcome(payment: Payment, rows: list, plan: list) -> tuple[list[AllocationLine], str]:
    """What the import reports of a recorded credit: its allocation lines and what is left."""
    reasons = {split.invoice.pk: split.reason for split in plan}
    lines = [
        # str(invoice) is its number: an invoice money is allocated to is issued.
        AllocationLine(str(row.invoice), row.amount, payment.currency, reasons.get(row.invoice_id, row.reason))
        for row in rows
    ]
    # The allocation copied the locked row's figures onto `payment`; without allocations it is as recorded.
    note = ""
    if payment.unallocated > 0:
        note = f"{format_money(payment.unallocated, payment.currency)} left unallocated"
    return lines, note


@dataclass(frozen=True)
class NewCredit:
    """A credit of a known customer whose bank reference no payment has yet (the import checked)."""

    reference: str
    customer: Customer
    amount: Decimal
    currency: str
    booked: datetime.datetime
    remittance_text: str


@transaction.atomic
def record_and_allocate_many(
    credits: Sequence[NewCredit], *, by: Actor
) -> list[tuple[Payment, list[AllocationLine], str]]:
    """record_and_allocate for several new credits, in order, as one set-based write.

    The same payments, allocations, histories, journal entries and caches as calling
    record_and_allocate for each in turn (tests/intake/test_bulk_differential.py), from
    record_payments and auto_allocate_many. All or nothing: on any refusal the caller
    rolls its transaction back and takes the credits one by one.
    """
    payments = record_payments(
        [(c.customer, c.amount, c.currency, c.reference, c.booked) for c in credits],
        method=PaymentMethod.BANK_TRANSFER,
        by=by,
    )
    done = auto_allocate_many(payments, preferred=[find_invoice_numbers(c.remittance_text) for c in credits], by=by)
    return [(payment, *_outcome(payment, rows, plan)) for payment, (rows, plan) in zip(payments, done, strict=True)]


def open_bank_entries() -> QuerySet[BankEntry]:
    """The clerk's list: credits nobody could place and reversals nobody could match, oldest first."""
    return BankEntry.objects.filter(status__in=OPEN_BANK_ENTRY_STATUSES).order_by("booking_date", "id")


def _lock_open_entry(entry: BankEntry) -> BankEntry:
    locked = BankEntry.objects.select_for_update().get(pk=entry.pk)
    if not locked.is_open:
        raise InvalidState(f"Bank entry {locked.bank_reference} is already {locked.get_status_display().lower()}.")
    return locked


@transaction.atomic
def assign_bank_entry(entry: BankEntry, *, customer: Customer, by: Actor) -> Payment:
    """A clerk names the customer of an unplaced credit: record it and auto-allocate it."""
    locked = _lock_open_entry(entry)
    if not locked.can_be_assigned:
        raise InvalidState(
            f"Bank entry {locked.bank_reference} is a {describe_entry(locked)}; only an incoming credit can be assigned "
            "to a customer."
        )
    payment, _, _ = record_and_allocate(
        locked.bank_reference,
        customer=customer,
        amount=locked.amount,
        currency=locked.currency,
        booked=booked_at(locked.booking_date),
        remittance_text=locked.remittance_text,
        by=by,
    )
    locked.status = BankEntryStatus.RESOLVED
    locked.customer = customer
    locked.payment = payment
    locked.resolved_at = timezone.now()
    locked.resolved_by = by
    locked.resolution_note = f"Assigned to {customer}; recorded as {payment}."
    locked.save(update_fields=["status", "customer", "payment", "resolved_at", "resolved_by", "resolution_note"])
    entry.refresh_from_db()
    return payment


@transaction.atomic
def dismiss_bank_entry(entry: BankEntry, *, by: Actor, reason: str) -> BankEntry:
    """A clerk decides no payment is to be recorded (handled by hand, not a customer's money...)."""
    reason = require_reason(reason, f"dismiss bank entry {entry.bank_reference}")
    locked = _lock_open_entry(entry)
    locked.status = BankEntryStatus.DISMISSED
    locked.resolved_at = timezone.now()
    locked.resolved_by = by
    locked.resolution_note = reason
    locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    entry.refresh_from_db()
    return locked
