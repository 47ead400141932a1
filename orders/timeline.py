"""The order page's timeline: placed, lines added later, deliveries and cancellations, status moves,
invoices issued, credit notes."""

from __future__ import annotations

import datetime

from billing.status import PaymentStatus
from billing.timeline import Event, newest_first, status_events
from orders.models import BillingStatus, MovementKind, Order, OrderLine, OrderLineMovement, OrderState
from orders.selectors import OrderInvoice

LABELS = {
    "state": ("State", OrderState.choices),
    "billing_status": ("Billing status", BillingStatus.choices),
    "payment_status": ("Payment status", PaymentStatus.choices),
}
# Lines written with the order itself are not "added later" (create_order writes them at once).
_WITH_THE_ORDER = datetime.timedelta(seconds=5)


def order_timeline(order: Order, *, lines: list[OrderLine], invoices: list[OrderInvoice]) -> list[Event]:
    events = [Event(at=order.created_at, by=order.created_by, kind="created", title=f"Order {order} placed")]
    for line in lines:
        if line.created_at - order.created_at > _WITH_THE_ORDER:
            events.append(
                Event(
                    at=line.created_at,
                    by=line.created_by,
                    kind="created",
                    title=f"{line.get_kind_display()} line {line.position} added: {line.description}",
                    amount=line.quantity * line.unit_price,
                    currency=order.currency,
                )
            )
    movements = OrderLineMovement.objects.filter(order=order).select_related("line", "created_by")
    for movement in movements:
        line = movement.line
        verb = "delivered" if movement.kind == MovementKind.DELIVERED else "canceled"
        events.append(
            Event(
                at=movement.created_at,
                by=movement.created_by,
                kind="status",
                title=f"Line {line.position} ({line.description}): {movement.quantity.normalize():f} {verb}",
                detail=movement.reason,
                order=movement.pk,
            )
        )
    events += status_events(order.status_changes.select_related("created_by"), LABELS)
    for item in invoices:
        invoice = item.invoice
        events.append(
            Event(
                at=invoice.created_at,
                by=invoice.created_by,
                kind="allocation",
                title=f"Invoice {invoice} issued",
                amount=invoice.total,
                currency=invoice.currency,
                url=invoice.get_absolute_url(),
                order=invoice.pk,
            )
        )
        for note in item.credit_notes:
            reopened = " (quantity given back to the order)" if note.reopen_quantity else ""
            events.append(
                Event(
                    at=note.created_at,
                    by=note.created_by,
                    kind="credit",
                    title=f"Credit note #{note.pk} on {invoice}: {note.get_reason_code_display()}{reopened}",
                    detail=note.reason,
                    amount=note.amount,
                    currency=invoice.currency,
                    url=invoice.get_absolute_url(),
                    order=note.pk,
                )
            )
    return newest_first(events)
