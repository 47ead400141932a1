"""What a money action would do, rehearsed: the shared shape of the confirmation pages' previews.

A preview runs the real service inside a transaction that is rolled back
(billing.rehearse), then describes the allocations it reversed and the figures after.
The invoice and payment apps build their own previews on this base.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max

from allocations.models import Allocation
from billing.money import format_money
from invoices.models import Invoice
from payments.models import Payment

# Void and cancel are previewed before the clerk has typed a reason; the rehearsal needs one.
PREVIEW_REASON = "(preview)"


@dataclass(frozen=True)
class Reversal:
    """One (payment, invoice) pair losing `amount`, with both sides' figures afterwards."""

    payment: Payment
    invoice: Invoice
    amount: Decimal


@dataclass(frozen=True)
class Preview(ABC):
    currency: str
    reversals: list[Reversal] = field(default_factory=list)
    invoice: Invoice | None = None  # the voided invoice, afterwards
    payment: Payment | None = None  # the canceled / charged back / refunded payment, afterwards
    status_before: str = ""  # the payment's allocation status before the action

    @property
    def total_reversed(self) -> Decimal:
        return sum((r.amount for r in self.reversals), Decimal("0.00"))

    def reversal_sentence(self) -> str:
        count = len(self.reversals)
        if not count:
            return "No money is allocated, so nothing is reversed."
        noun = "allocation" if count == 1 else "allocations"
        return f"{count} {noun} totalling {format_money(self.total_reversed, self.currency)} will be reversed"

    @abstractmethod
    def summary(self) -> str:
        """One sentence for the confirmation page: what the action will do."""


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def become(noun: str, pairs: list[tuple[str, str]]) -> str:
    """'payments P-3 and P-7 become unallocated; payment P-9 becomes partially allocated'."""
    by_status: dict[str, list[str]] = {}
    for name, status in pairs:
        by_status.setdefault(status, []).append(name)
    parts = []
    for status, names in by_status.items():
        if len(names) == 1:
            parts.append(f"{noun} {names[0]} becomes {status}")
        else:
            parts.append(f"{noun}s {join_names(names)} become {status}")
    return "; ".join(parts)


def last_allocation_id() -> int:
    return Allocation.objects.aggregate(last=Max("id"))["last"] or 0


def reversals_since(last_id: int, **pair) -> list[Reversal]:
    rows = Allocation.objects.filter(id__gt=last_id, amount__lt=0, **pair).select_related("payment", "invoice")
    return [Reversal(payment=row.payment, invoice=row.invoice, amount=-row.amount) for row in rows.order_by("id")]
