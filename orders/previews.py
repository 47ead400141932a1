"""The cancel-lines confirmation's preview: the real cancel rehearsed and rolled back (billing.rehearse)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from billing.actors import Actor
from billing.rehearse import rehearse
from orders.models import Order, OrderLine, OrderState
from orders.services import cancel_order_lines


@dataclass(frozen=True)
class CanceledLine:
    position: int
    description: str
    canceled_now: Decimal
    ordered: Decimal
    left_after: Decimal  # ordered less everything canceled


@dataclass(frozen=True)
class CancelPreview:
    order_number: str
    lines: list[CanceledLine]
    state_after: str
    state_after_label: str

    @property
    def cancels_order(self) -> bool:
        return self.state_after == OrderState.CANCELED


def preview_cancel(order: Order, *, quantities: Mapping, reason: str, by: Actor) -> CancelPreview:
    """What cancel_order_lines would do with these quantities; its BillingError when it would refuse."""
    before = {line.pk: line.canceled_quantity for line in OrderLine.objects.filter(order=order)}

    def act() -> CancelPreview:
        after = cancel_order_lines(Order.objects.get(pk=order.pk), quantities=quantities, by=by, reason=reason)
        lines = [
            CanceledLine(
                line.position,
                line.description,
                line.canceled_quantity - before.get(line.pk, Decimal("0")),
                line.quantity,
                line.quantity - line.canceled_quantity,
            )
            for line in OrderLine.objects.filter(order=order).order_by("position")
            if line.canceled_quantity != before.get(line.pk)
        ]
        return CancelPreview(str(after), lines, after.state, after.get_state_display())

    return rehearse(act)
