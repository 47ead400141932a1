"""The payment detail page's timeline: status changes, allocations and reversals, refunds, chargebacks,
corrections."""

from __future__ import annotations

from billing.status import AllocationStatus
from billing.timeline import Event, newest_first, status_events
from payments.models import Payment, PaymentState

LABELS = {
    "state": ("State", PaymentState.choices),
    "allocation_status": ("Allocation status", AllocationStatus.choices),
}


def payment_timeline(
    payment: Payment, *, allocations, refunds, chargebacks, corrects: Payment | None = None
) -> list[Event]:
    """`corrects`: the payment this one replaced (payments.services.correct_payment), if any."""
    events = [
        Event(
            at=payment.created_at,
            by=payment.created_by,
            kind="created",
            title=f"Recorded ({payment.get_method_display().lower()})",
        )
    ]
    events += status_events(payment.status_changes.select_related("created_by"), LABELS)
    events += correction_events(payment, corrects)
    for row in allocations:
        if row.is_reversal:
            title = f"Reversal of allocation #{row.reverses_id}: money back from invoice {row.invoice}"
        else:
            title = f"Allocation #{row.pk} to invoice {row.invoice}"
        events.append(
            Event(
                at=row.created_at,
                by=row.created_by,
                kind="reversal" if row.is_reversal else "allocation",
                title=title,
                detail=row.reason,
                amount=row.amount,
                currency=payment.currency,
                url=row.invoice.get_absolute_url(),
                order=row.pk,
            )
        )
    for kind, rows in (("refund", refunds), ("chargeback", chargebacks)):
        for row in rows:
            events.append(
                Event(
                    at=row.created_at,
                    by=row.created_by,
                    kind=kind,
                    title=f"{kind.capitalize()} #{row.pk}",
                    detail=row.reason,
                    amount=row.amount,
                    currency=payment.currency,
                    order=row.pk,
                )
            )
    return newest_first(events)


def correction_events(payment: Payment, corrects: Payment | None) -> list[Event]:
    """Both ends of a correction: "Corrected by P-8" on the old payment, "Corrects P-7" on the new."""
    events = []
    if payment.corrected_by_id and payment.canceled_at:
        replacement = payment.corrected_by
        assert replacement is not None
        events.append(
            Event(
                at=payment.canceled_at,
                by=replacement.created_by,
                kind="correction",
                title=f"Corrected by {replacement}",
                detail=payment.cancel_reason.removeprefix(f"Corrected by {replacement}: "),  # the reason alone
                url=replacement.get_absolute_url(),
                order=replacement.pk,
            )
        )
    if corrects is not None:
        events.append(
            Event(
                at=payment.created_at,
                by=payment.created_by,
                kind="correction",
                title=f"Corrects {corrects}",
                detail=corrects.cancel_reason,
                url=corrects.get_absolute_url(),
                order=0,  # before this payment's first status change, written in the same instant
            )
        )
    return events
