"""Payments, refunds, chargebacks, status history, and the bank entries they came from.

A refund or chargeback is a row, not a state of the payment's amount: the payment's
cached totals and allocation_status are written only by ledger.core.refresh_payment.
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django_fsm import GET_STATE, transition

from billing.fsm import RefreshableFSMModel, StatusField
from billing.kept_totals import KeptFigures
from billing.models import CURRENCY_CHECK, Customer, LedgerRow, StatusChangeBase, currency_field, money_field
from billing.status import AllocationStatus, derive_allocation_status


class PaymentState(models.TextChoices):
    PENDING = "pending", "Pending"
    SETTLED = "settled", "Settled"
    CANCELED = "canceled", "Canceled"
    CHARGED_BACK = "charged_back", "Charged back"


# The allocation work queue (DESIGN.md section 3): money that arrived (settled, or charged back
# but still holding allocations) and is not allocated exactly. Lists, dashboard and nav counts.
NEEDS_WORK_STATES = [PaymentState.SETTLED, PaymentState.CHARGED_BACK]
NEEDS_WORK_STATUSES = [
    AllocationStatus.UNALLOCATED,
    AllocationStatus.PARTIALLY_ALLOCATED,
    AllocationStatus.OVERALLOCATED,
]


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CARD = "card", "Card"
    DIRECT_DEBIT = "direct_debit", "Direct debit"
    CASH = "cash", "Cash"
    CHECK = "check", "Check"
    OTHER = "other", "Other"


class Payment(RefreshableFSMModel):
    # No index of its own: payment_customer_idx (customer, allocation_status) starts with it.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments", db_index=False)
    currency = currency_field()
    amount = money_field()
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    # Idempotency key: the bank's or processor's reference. Same reference, same payment.
    reference = models.CharField(max_length=100, unique=True, null=True, blank=True)
    received_at = models.DateTimeField()

    refunded_total = money_field(default=0)
    charged_back_total = money_field(default=0)
    allocated_total = money_field(default=0)
    unallocated = money_field(default=0)

    state = StatusField(max_length=16, choices=PaymentState.choices, default=PaymentState.SETTLED, protected=True)
    allocation_status = StatusField(
        max_length=20, choices=AllocationStatus.choices, default=AllocationStatus.UNALLOCATED, protected=True
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    # A corrected payment (payments.services.correct_payment) is canceled and names the payment
    # that replaced it; the replacement reaches it back as `corrects`. One-to-one: a payment is
    # replaced once, and a replacement corrects one payment.
    corrected_by = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrects"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(refunded_total__gte=0), name="payment_refunded_non_negative"),
            models.CheckConstraint(condition=Q(charged_back_total__gte=0), name="payment_charged_back_non_negative"),
            models.CheckConstraint(condition=Q(allocated_total__gte=0), name="payment_allocated_non_negative"),
            models.CheckConstraint(
                condition=Q(refunded_total__lte=F("amount") - F("charged_back_total")),
                name="payment_returned_within_amount",
            ),
            models.CheckConstraint(
                condition=(
                    Q(state=PaymentState.CANCELED, unallocated=-F("allocated_total"))
                    | (
                        ~Q(state=PaymentState.CANCELED)
                        & Q(
                            unallocated=F("amount")
                            - F("refunded_total")
                            - F("charged_back_total")
                            - F("allocated_total")
                        )
                    )
                ),
                name="payment_unallocated_consistent",
            ),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="payment_currency_code"),
            models.CheckConstraint(
                condition=Q(corrected_by__isnull=True) | (Q(state=PaymentState.CANCELED) & ~Q(corrected_by=F("id"))),
                name="payment_corrected_is_canceled",
            ),
        ]
        indexes = [
            models.Index(fields=["allocation_status", "received_at", "id"], name="payment_queue_idx"),
            models.Index(fields=["customer", "allocation_status"], name="payment_customer_idx"),
            models.Index(fields=["received_at", "id"], name="payment_received_idx"),
            models.Index(fields=["state", "allocation_status"], name="payment_state_idx"),
            # The global search and the list's reference filter: a prefix in any case
            # (reference__istartswith is UPPER(reference) LIKE 'X%'; the pattern operator class
            # lets a LIKE prefix use the index under the database's C.UTF-8 collation).
            models.Index(OpClass(Upper("reference"), name="text_pattern_ops"), name="payment_reference_upper_idx"),
        ]
        triggers = [
            # Every change of a payment's state, status or figures appends its delta to
            # PaymentQueueTotal, in the same transaction, whatever code made it.
            # Its figure columns are the ones PAYMENT_QUEUE_FIGURES names.
            pgtrigger.Trigger(
                name="queue_totals",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                func="""
                IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.allocation_status = NEW.allocation_status
                   AND OLD.currency = NEW.currency THEN
                    IF OLD.amount <> NEW.amount OR OLD.unallocated <> NEW.unallocated THEN
                        INSERT INTO payments_paymentqueuetotal
                            (state, allocation_status, currency, payments, amount, unallocated)
                        VALUES (NEW.state, NEW.allocation_status, NEW.currency, 0,
                                NEW.amount - OLD.amount, NEW.unallocated - OLD.unallocated);
                    END IF;
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO payments_paymentqueuetotal
                        (state, allocation_status, currency, payments, amount, unallocated)
                    VALUES (OLD.state, OLD.allocation_status, OLD.currency, -1, -OLD.amount, -OLD.unallocated);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO payments_paymentqueuetotal
                        (state, allocation_status, currency, payments, amount, unallocated)
                    VALUES (NEW.state, NEW.allocation_status, NEW.currency, 1, NEW.amount, NEW.unallocated);
                END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"P-{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("payments:detail", args=[self.pk])

    @property
    def shows_allocation_status(self) -> bool:
        """Whether screens badge the allocation status next to the state (DESIGN.md section 3).

        A canceled or charged-back payment shows its state, not a green "Fully allocated"
        that reads as "all is well"; a charged-back one still says "Overallocated" when a
        clerk has to decide which invoices lose the money (it sits in the work queue).
        """
        if self.state == PaymentState.CANCELED:
            return False
        if self.state == PaymentState.CHARGED_BACK:
            return self.allocation_status == AllocationStatus.OVERALLOCATED
        return True

    @property
    def available(self) -> Decimal:
        """What the payment can cover: nothing once canceled."""
        if self.state == PaymentState.CANCELED:
            return Decimal("0.00")
        return self.amount - self.refunded_total - self.charged_back_total

    @transition(field=state, source=PaymentState.PENDING, target=PaymentState.SETTLED)
    def settle(self) -> None:
        """The bank confirmed the money."""

    @transition(field=state, source=[PaymentState.PENDING, PaymentState.SETTLED], target=PaymentState.CANCELED)
    def cancel(self) -> None:
        """Recorded in error or never arrived; the service reverses the allocations first."""

    @transition(field=state, source=[PaymentState.SETTLED, PaymentState.CHARGED_BACK], target=PaymentState.CHARGED_BACK)
    def charge_back(self) -> None:
        """The payer's bank took money back."""

    @transition(
        field=allocation_status,
        source="*",
        target=GET_STATE(
            lambda payment: derive_allocation_status(available=payment.available, allocated=payment.allocated_total)
        ),
    )
    def refresh_allocation_status(self) -> None:
        """Move allocation_status to what the cached totals say (idempotent)."""


class Refund(LedgerRow):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]


class Chargeback(LedgerRow):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="chargebacks")
    amount = money_field()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="chargeback_amount_positive")]


class PaymentStatusChange(StatusChangeBase):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="status_changes")

    class Meta:
        ordering = ["id"]


class PaymentQueueTotal(models.Model):
    """Count, amount and unallocated money of the payments per state, status and currency.

    A sum of deltas appended by the trigger on Payment and folded by
    billing.kept_totals.compact_totals; see invoices.models.InvoiceQueueTotal.
    """

    state = models.CharField(max_length=16, choices=PaymentState.choices)
    allocation_status = models.CharField(max_length=20, choices=AllocationStatus.choices)
    currency = currency_field()
    payments = models.BigIntegerField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    unallocated = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        # Reads sum the deltas of the asked-for keys: an index-only scan of just those rows.
        indexes = [
            models.Index(
                fields=["state", "allocation_status", "currency"],
                include=["payments", "amount", "unallocated"],
                name="payment_queue_total_key_idx",
            )
        ]


# The kept columns of PaymentQueueTotal: list totals, dashboard, nav counts, compaction, drift.
PAYMENT_QUEUE_FIGURES = KeptFigures(PaymentQueueTotal, count="payments", sums=("amount", "unallocated"))
