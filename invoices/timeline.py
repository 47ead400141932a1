"""The invoice detail page's timeline: status changes, allocations and reversals, credit notes, notes."""

from __future__ import annotations

from billing.status import PaymentStatus
from billing.timeline import Event, collection_note_events, newest_first, status_events
from invoices.models import Invoice, InvoiceState

LABELS = {"state": ("State", InvoiceState.choices), "payment_status": ("Payment status", PaymentStatus.choices)}


def invoice_timeline(invoice: Invoice, *, allocations, credit_notes) -> list[Event]:
    events = [Event(at=invoice.created_at, by=invoice.created_by, kind="created", title="Created as a draft")]
    events += status_events(invoice.status_changes.select_related("created_by"), LABELS)
    for row in allocations:
        if row.is_reversal:
            title = f"Reversal of allocation #{row.reverses_id}: money back to payment {row.payment}"
        else:
            title = f"Allocation #{row.pk} from payment {row.payment}"
        events.append(
            Event(
                at=row.created_at,
                by=row.created_by,
                kind="reversal" if row.is_reversal else "allocation",
                title=title,
                detail=row.reason,
                amount=row.amount,
                currency=invoice.currency,
                url=row.payment.get_absolute_url(),
                order=row.pk,
            )
        )
    for note in credit_notes:
        events.append(
            Event(
                at=note.created_at,
                by=note.created_by,
                kind="credit",
                title=f"Credit note #{note.pk}",
                detail=note.reason,
                amount=note.amount,
                currency=invoice.currency,
                order=note.pk,
            )
        )
    events += collection_note_events(invoice.account_id)
    return newest_first(events)
