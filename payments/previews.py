"""The cancel, chargeback, refund and correction confirmations' previews: the real service rehearsed and
rolled back (ledger.previews)."""

from __future__ import annotations

from django.conf import settings

from billing.actors import Actor
from billing.money import format_money
from billing.rehearse import rehearse
from ledger.previews import PREVIEW_REASON, Preview, become, last_allocation_id, reversals_since
from payments.corrections import Correction
from payments.models import Payment
from payments.services import cancel_payment, record_chargeback, record_correction, refund_payment


class PaymentPreview(Preview):
    """A preview of an action on a payment: always built with the payment as it is afterwards."""

    @property
    def payment_after(self) -> Payment:
        assert self.payment is not None, f"{type(self).__name__} is built with payment= (the payment afterwards)"
        return self.payment


class CancelPreview(PaymentPreview):
    def summary(self) -> str:
        head = f"Payment {self.payment} will be canceled and have nothing available."
        if not self.reversals:
            return f"{head} {self.reversal_sentence()}"
        reopened = become(
            "invoice", [(str(r.invoice), r.invoice.get_payment_status_display().lower()) for r in self.reversals]
        )
        return f"{head} {self.reversal_sentence()}; {reopened}."


class ChargebackPreview(PaymentPreview):
    def summary(self) -> str:
        payment = self.payment_after
        head = (
            f"Payment {payment} will have {format_money(payment.available, self.currency)} left and "
            f"{_status_move(payment, self.status_before)}."
        )
        if self.reversals:
            reopened = become(
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


class RefundPreview(PaymentPreview):
    def summary(self) -> str:
        payment = self.payment_after
        return (
            f"Payment {payment} will have {format_money(payment.unallocated, self.currency)} unallocated and "
            f"{_status_move(payment, self.status_before)}. No invoice changes."
        )


def _status_move(payment: Payment, before: str) -> str:
    now = payment.get_allocation_status_display().lower()
    return f"stay {now}" if payment.allocation_status == before else f"become {now}"


def preview_cancel(payment: Payment, *, by: Actor) -> CancelPreview:
    def act() -> CancelPreview:
        last = last_allocation_id()
        cancel_payment(Payment.objects.get(pk=payment.pk), by=by, reason=PREVIEW_REASON)
        fresh = Payment.objects.get(pk=payment.pk)
        return CancelPreview(payment.currency, reversals_since(last, payment_id=payment.pk), payment=fresh)

    return rehearse(act)


def preview_chargeback(payment: Payment, *, amount, reason: str, by: Actor) -> ChargebackPreview:
    def act() -> ChargebackPreview:
        last = last_allocation_id()
        record_chargeback(Payment.objects.get(pk=payment.pk), amount=amount, by=by, reason=reason)
        fresh = Payment.objects.get(pk=payment.pk)
        return ChargebackPreview(
            payment.currency,
            reversals_since(last, payment_id=payment.pk),
            payment=fresh,
            status_before=payment.allocation_status,
        )

    return rehearse(act)


def preview_refund(payment: Payment, *, amount, reason: str, by: Actor) -> RefundPreview:
    def act() -> RefundPreview:
        refund_payment(Payment.objects.get(pk=payment.pk), amount=amount, by=by, reason=reason)
        return RefundPreview(
            payment.currency, payment=Payment.objects.get(pk=payment.pk), status_before=payment.allocation_status
        )

    return rehearse(act)


def preview_correction(payment: Payment, *, amount, received_at, reason: str, by: Actor) -> Correction:
    """The correction rehearsed: the replacement and the invoices as they would be (the
    replacement's number is the rehearsal's, so the page calls it "the new payment")."""
    return rehearse(
        lambda: record_correction(
            Payment.objects.get(pk=payment.pk), amount=amount, received_at=received_at, by=by, reason=reason
        )
    )
