"""The pure derivations of the cached statuses from the cached totals (DESIGN.md §3).

Everything that decides a status calls these: the refresh routine, the nightly
reconciliation (which mirrors them in SQL, see reconciliation.drift), and the tests.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    OVERPAID = "overpaid", "Overpaid"


class AllocationStatus(models.TextChoices):
    UNALLOCATED = "unallocated", "Unallocated"
    PARTIALLY_ALLOCATED = "partially_allocated", "Partially allocated"
    FULLY_ALLOCATED = "fully_allocated", "Fully allocated"
    OVERALLOCATED = "overallocated", "Overallocated"


def derive_payment_status(*, net: Decimal, paid: Decimal) -> str:
    """Invoice status from its net amount (total - credited) and net allocations.

    An invoice with nothing left to pay (net 0, e.g. fully credited) is paid, not unpaid:
    it must not sit in the collections queue.
    """
    if paid > net:
        return PaymentStatus.OVERPAID
    if paid == net:
        return PaymentStatus.PAID
    if paid == 0:
        return PaymentStatus.UNPAID
    return PaymentStatus.PARTIALLY_PAID


def derive_balance_due(*, void: bool, net: Decimal, paid: Decimal) -> Decimal:
    """What an invoice still asks for: net - paid, and nothing at all once void (DESIGN.md section 3).

    reconciliation.drift mirrors this in SQL and the invoice's check constraint enforces it.
    """
    if void:
        return Decimal("0.00")
    return net - paid


def derive_allocation_status(*, available: Decimal, allocated: Decimal) -> str:
    """Payment status from its available money (amount - refunded - charged back) and allocations.

    Nothing available and nothing allocated (fully refunded, canceled) is fully allocated:
    there is no work left on the payment.
    """
    if allocated > available:
        return AllocationStatus.OVERALLOCATED
    if allocated == available:
        return AllocationStatus.FULLY_ALLOCATED
    if allocated == 0:
        return AllocationStatus.UNALLOCATED
    return AllocationStatus.PARTIALLY_ALLOCATED
