"""Allocations: the append-only rows that link payments to invoices.

A deallocation is a row with a negative amount naming the row it reverses. The net
allocation of a (payment, invoice) pair is the sum of its rows and is never negative (I3).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.models import LedgerRow, money_field
from invoices.models import Invoice
from payments.models import Payment


class Allocation(LedgerRow):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = money_field()
    reverses = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="allocation_amount_non_zero"),
            models.CheckConstraint(
                condition=Q(amount__gt=0, reverses__isnull=True) | Q(amount__lt=0, reverses__isnull=False),
                name="allocation_reversal_names_original",
            ),
        ]
        indexes = [
            models.Index(fields=["payment", "invoice"], name="allocation_pair_idx"),
            models.Index(fields=["invoice", "payment"], name="allocation_invoice_idx"),
        ]

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None
