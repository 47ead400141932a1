"""The intake ledger: each booking of an imported bank statement, kept once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import CURRENCY_CHECK, Customer, money_field
from payments.models import Chargeback, Payment


class BankEntryStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded as a payment"
    CHARGED_BACK = "charged_back", "Recorded as a chargeback"
    IGNORED = "ignored", "Ignored (money out)"
    UNIDENTIFIED = "unidentified", "Unidentified: needs a customer"
    NEEDS_REVIEW = "needs_review", "Needs review"
    RESOLVED = "resolved", "Assigned by a clerk"
    DISMISSED = "dismissed", "Dismissed by a clerk"


OPEN_BANK_ENTRY_STATUSES = [BankEntryStatus.UNIDENTIFIED, BankEntryStatus.NEEDS_REVIEW]


class BankEntry(models.Model):
    """One booking of an imported bank statement, kept once per bank reference.

    This is the intake ledger behind intake.importing: every entry of every imported
    statement lands here exactly once (the bank reference is unique), whatever became of
    it: a payment, a chargeback on a payment we imported, an ignored debit, or a work item
    for a clerk (`unidentified`: no customer recognised; `needs_review`: a reversal we
    could not match, or a credit that looks like one already imported under another
    reference). Re-importing a statement, or an overlapping one, finds its entries here
    and records nothing twice.

    The facts of the booking never change (a database trigger refuses it, and refuses
    deletes); only its handling moves on, from a work item to `resolved` (a clerk named
    the customer and the payment was recorded) or `dismissed` (a clerk decided no
    payment should be recorded, with a note).
    """

    bank_reference = models.CharField(max_length=100, unique=True)
    booking_date = models.DateField()
    amount = money_field()  # always positive; `credit` gives the direction
    currency = models.CharField(max_length=3)
    credit = models.BooleanField()
    reversal = models.BooleanField(default=False)
    counterparty_name = models.TextField(blank=True)
    customer_reference = models.TextField(blank=True)
    remittance_text = models.TextField(blank=True)
    source_name = models.CharField(max_length=255, blank=True)
    source_position = models.CharField(max_length=32)
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    status = models.CharField(max_length=16, choices=BankEntryStatus.choices)
    note = models.TextField(blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_entries")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_entries")
    chargeback = models.ForeignKey(
        Chargeback, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_entries"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        db_table = "payments_bankentry"  # moved from payments; the table kept its name
        ordering = ["-booking_date", "-id"]
        verbose_name_plural = "bank entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="bank_entry_amount_positive"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="bank_entry_currency_code"),
            models.CheckConstraint(
                condition=~Q(status__in=[BankEntryStatus.RECORDED, BankEntryStatus.RESOLVED])
                | Q(payment__isnull=False),
                name="bank_entry_recorded_has_payment",
            ),
            models.CheckConstraint(
                condition=~Q(status=BankEntryStatus.CHARGED_BACK) | Q(chargeback__isnull=False),
                name="bank_entry_reversal_has_chargeback",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[BankEntryStatus.RESOLVED, BankEntryStatus.DISMISSED])
                | Q(resolved_at__isnull=True),
                name="bank_entry_resolved_when_closed",
            ),
        ]
        indexes = [
            models.Index(
                fields=["booking_date", "id"],
                condition=Q(status__in=["unidentified", "needs_review"]),
                name="bank_entry_open_idx",
            ),
            # Matching a reversal to its credit, and spotting one booking imported twice.
            models.Index(fields=["amount", "currency", "booking_date"], name="bank_entry_match_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_reference} ({self.source_position})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_BANK_ENTRY_STATUSES

    @property
    def amount_display(self) -> str:
        from billing.money import format_money

        return ("" if self.credit else "-") + format_money(self.amount, self.currency)

    @property
    def can_be_assigned(self) -> bool:
        """An incoming credit still waiting for a clerk can be assigned to a customer."""
        return self.is_open and self.credit and not self.reversal
