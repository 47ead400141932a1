"""The pieces of a payment correction (payments.services.correct_payment, DESIGN.md section 10):
what it returns, the replacement's reference and value date, and how the allocations move."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Min
from django.utils import timezone

from allocations.models import Allocation
from billing.actors import Actor
from billing.errors import InvalidInput
from billing.money import format_money
from invoices.models import Invoice
from ledger.core import append_allocations, reverse_pair
from payments.models import Payment


@dataclass(frozen=True)
class MovedPair:
    invoice: Invoice  # as it is after the correction
    was: Decimal  # the old payment's net on it
    moved: Decimal  # what the replacement holds on it

    @property
    def released(self) -> Decimal:
        return self.was - self.moved


@dataclass(frozen=True)
class Correction:
    """What correct_payment did: the replacement, and per invoice (oldest allocation first) what
    moved onto it and what did not fit and so is due on the invoice again."""

    corrected: Payment
    replacement: Payment
    pairs: list[MovedPair] = field(default_factory=list)  # oldest allocation first

    @property
    def moved(self) -> list[tuple[Invoice, Decimal]]:
        return [(pair.invoice, pair.moved) for pair in self.pairs if pair.moved]

    @property
    def released(self) -> list[tuple[Invoice, Decimal]]:
        """What did not fit on the replacement: due on the invoice again."""
        return [(pair.invoice, pair.released) for pair in self.pairs if pair.released]

    @property
    def total_released(self) -> Decimal:
        return sum((amount for _, amount in self.released), Decimal("0.00"))

    def summary(self) -> str:
        old, new = self.corrected, self.replacement
        money = format_money(new.amount, new.currency)
        head = f"Payment {old} is canceled and replaced by {new}: {money} received on {value_day(new)}."
        moved = sum((amount for _, amount in self.moved), Decimal("0.00"))
        if moved:
            head += f" {format_money(moved, new.currency)} of its allocations moved to {new}."
        for invoice, amount in self.released:
            head += (
                f" {format_money(amount, new.currency)} that was on invoice {invoice} did not fit on {new} "
                f"(the invoice is now {invoice.get_payment_status_display().lower()})."
            )
        return head


def value_day(payment: Payment) -> datetime.date:
    return timezone.localdate(payment.received_at)


def correction_reference(old: Payment) -> str | None:
    """The replacement's reference: the first payment's with " (correction n)", n counting the
    corrections in the chain, so a search for the bank's reference finds every version while the
    old payment keeps its own (a re-imported bank line finds it, not a new payment). None when
    the old payment had none, when it would be too long, or (unlikely) when it is taken."""
    root, n = old, 1
    while (earlier := Payment.objects.filter(corrected_by=root).first()) is not None:
        root, n = earlier, n + 1
    if not root.reference:
        return None
    reference = f"{root.reference} (correction {n})"
    max_length = Payment._meta.get_field("reference").max_length or 0
    if len(reference) > max_length or Payment.objects.filter(reference=reference).exists():
        return None
    return reference


def check_value_date(received_at: object) -> datetime.datetime:
    if not isinstance(received_at, datetime.datetime) or timezone.is_naive(received_at):
        raise InvalidInput(f"The value date must be a date and time with its time zone; got {received_at!r}.")
    if timezone.localdate(received_at) > timezone.localdate():
        raise InvalidInput("The money cannot arrive in the future: give a value date of today or before.")
    return received_at


def move_allocations(
    old: Payment, new: Payment, invoices: dict[int, Invoice], nets: dict[int, Decimal], *, by: Actor, cause: str
) -> list[MovedPair]:
    """Reverse every pair of the old payment and put on the new one what fits, oldest allocation first.

    What fits a pair: its net, at most what the new payment has left and what the invoice asks
    once the old money is off it (an invoice overpaid since, by a credit note, takes only its due).
    """
    first_rows = dict(
        Allocation.objects.filter(payment_id=old.pk, invoice_id__in=nets, amount__gt=0)
        .values("invoice_id")
        .annotate(first=Min("id"))
        .values_list("invoice_id", "first")
    )
    left = new.amount
    pairs = []
    for invoice_id in sorted(nets, key=lambda pk: first_rows[pk]):
        invoice, net = invoices[invoice_id], nets[invoice_id]
        reverse_pair(payment=old, invoice=invoice, amount=net, by=by, reason=cause)
        fits = max(min(net, left, invoice.balance_due + net), Decimal("0.00"))
        left -= fits
        pairs.append(MovedPair(invoice, net, fits))
    splits = [(pair.invoice, pair.moved) for pair in pairs if pair.moved]
    if splits:
        append_allocations(new, splits, by=by, reason=cause)
    return pairs
