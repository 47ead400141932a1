"""What a void, cancel, chargeback or refund will do, for the confirmation pages.

Each preview rehearses the real service (billing.rehearse) and reads the reversal
rows it appended and the figures it left, then rolls everything back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Max

from allocations.models import Allocation
from billing.money import format_money
from billing.rehearse import rehearse
from invoices.models import Invoice
from invoices.services import void_invoice
from payments.models import Payment
from payments.services import cancel_payment, record_chargeback, refund_payment

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


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _become(noun: str, pairs: list[tuple[str, str]]) -> str:
    """'payments P-3 and P-7 become unallocated; payment P-9 becomes partially allocated'."""
    by_status: dict[str, list[str]] = {}
    for name, status in pairs:
        by_status.setdefault(status, []).append(name)
    parts = []
    for status, names in by_status.items():
        if len(names) == 1:
            parts.append(f"{noun} {names[0]} becomes {status}")
        else:
            parts.append(f"{noun}s {_join(names)} become {status}")
    return "; ".join(parts)


class VoidPreview(Preview):
    def summary(self) -> str:
        if not self.reversals:
            return f"Invoice {self.invoice} will be void. {self.reversal_sentence()}"
        freed = _become(
            "payment", [(str(r.payment), r.payment.get_allocation_status_display().lower()) for r in self.reversals]
        )
        return f"{self.reversal_sentence()}; {freed}."


class CancelPreview(Preview):
    def summary(self) -> str:
        head = f"Payment {self.payment} will be canceled and have nothing available."
        if not self.reversals:
            return f"{head} {self.reversal_sentence()}"
        reopened = _become(
            "invoice", [(str(r.invoice), r.invoice.get_payment_status_display().lower()) for r in self.reversals]
        )
        return f"{head} {self.reversal_sentence()}; {reopened}."


class ChargebackPreview(Preview):
    def summary(self) -> str:
        payment = self.payment
        head = (
            f"Payment {payment} will have {format_money(payment.available, self.currency)} left and "
            f"{_status_move(payment, self.status_before)}."
        )
        if self.reversals:
            reopened = _become(
                "invoice", [(str(r.invoice), r.invoice.get_payment_status_display().lower()) for r in self.reversals]
            )
            return f"{head} {self.reversal_sentence()} (newest first); {reopened}."
        if payment.unallocated < 0:
            return (
                f"{head} Nothing is reversed (SETTLE_CHARGEBACK_REVERSAL is {settings.SETTLE_CHARGEBACK_REVERSAL}): "
                f"the payment becomes overallocated by {format_money(-payment.unallocated, self.currency)} and waits "
                f"in the payments work queue until a clerk deallocates."
            )
        return f"{head} The chargeback fits the unallocated money; no allocation is reversed."


class RefundPreview(Preview):
    def summary(self) -> str:
        payment = self.payment
        return (
            f"Payment {payment} will have {format_money(payment.unallocated, self.currency)} unallocated and "
            f"{_status_move(payment, self.status_before)}. No invoice changes."
        )


def _status_move(payment: Payment, before: str) -> str:
    now = payment.get_allocation_status_display().lower()
    return f"stay {now}" if payment.allocation_status == before else f"become {now}"


def _last_allocation_id() -> int:
    return Allocation.objects.aggregate(last=Max("id"))["last"] or 0


def _reversals_since(last_id: int, **pair) -> list[Reversal]:
    rows = Allocation.objects.filter(id__gt=last_id, amount__lt=0, **pair).select_related("payment", "invoice")
    return [Reversal(payment=row.payment, invoice=row.invoice, amount=-row.amount) for row in rows.order_by("id")]


def preview_void(invoice: Invoice, *, by) -> VoidPreview:
    def act() -> VoidPreview:
        last = _last_allocation_id()
        fresh = Invoice.objects.get(pk=invoice.pk)
        void_invoice(fresh, by=by, reason=PREVIEW_REASON)
        return VoidPreview(invoice.currency, _reversals_since(last, invoice_id=invoice.pk), invoice=fresh)

    return rehearse(act)


def preview_cancel(payment: Payment, *, by) -> CancelPreview:
    def act() -> CancelPreview:
        last = _last_allocation_id()
        cancel_payment(Payment.objects.get(pk=payment.pk), by=by, reason=PREVIEW_REASON)
        fresh = Payment.objects.get(pk=payment.pk)
        return CancelPreview(payment.currency, _reversals_since(last, payment_id=payment.pk), payment=fresh)

    return rehearse(act)


def preview_chargeback(payment: Payment, *, amount, reason: str, by) -> ChargebackPreview:
    def act() -> ChargebackPreview:
        last = _last_allocation_id()
        record_chargeback(Payment.objects.get(pk=payment.pk), amount=amount, by=by, reason=reason)
        fresh = Payment.objects.get(pk=payment.pk)
        return ChargebackPreview(payment.currency, _reversals_since(last, payment_id=payment.pk), payment=fresh,
                                 status_before=payment.allocation_status)

    return rehearse(act)


def preview_refund(payment: Payment, *, amount, reason: str, by) -> RefundPreview:
    def act() -> RefundPreview:
        refund_payment(Payment.objects.get(pk=payment.pk), amount=amount, by=by, reason=reason)
        return RefundPreview(payment.currency, payment=Payment.objects.get(pk=payment.pk),
                             status_before=payment.allocation_status)

    return rehearse(act)
