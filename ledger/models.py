"""The entry journal: one append-only row per change of what a customer owes or holds (DESIGN.md §8).

Signs: + raises what the customer owes, − lowers it. An invoice counts +total when it is
issued, a credit note −amount, a void −(what the invoice still counted: total − credited),
a payment −amount when the money counts as received (recorded settled, or settled later),
a refund and a chargeback +amount, a canceled payment +(what it still counted: amount −
refunded). So a customer's entries in one currency sum to what its open invoices ask
(net of credit notes) less what its live payments hold, and the sum up to a date is the
balance as of that date.

Allocations and deallocations have no entries: they move money between the customer's
own payment and invoice, which changes an invoice's balance due but not the customer's
balance. For the same reason an account's entries (the invoice side: invoice, credit
note, void) sum to what the account was charged, not its balance due: payments belong to
the customer, not to an account (DESIGN.md §5).

The source row is one nullable foreign key per source table, exactly one of them set
(a check constraint ties it to the kind): the database keeps the link whole
(on_delete=PROTECT, and a unique constraint per source makes a second entry for the same
event impossible), and a statement reaches the invoice number or payment reference by a
join. A generic (kind, id) pair would be simpler but could name a row that does not exist.

Who and why are the source row's (created_by, reason): an entry adds no decision of its
own, so it carries only when it was written. Its id is its journal position.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import CURRENCY_CHECK, Account, Customer, currency_field, money_field
from invoices.models import CreditNote, Invoice
from payments.models import Chargeback, Payment, Refund


class EntryKind(models.TextChoices):
    INVOICE = "invoice", "Invoice issued"
    CREDIT_NOTE = "credit_note", "Credit note"
    VOID = "void", "Invoice voided"
    PAYMENT = "payment", "Payment received"
    REFUND = "refund", "Refund"
    CHARGEBACK = "chargeback", "Chargeback"
    PAYMENT_CANCELED = "payment_canceled", "Payment canceled"


# Kind -> (the source column it names, the sign its amount must have: Q on amount).
SOURCES: dict[str, tuple[str, Q]] = {
    EntryKind.INVOICE: ("invoice", Q(amount__gte=0)),
    EntryKind.CREDIT_NOTE: ("credit_note", Q(amount__lt=0)),
    EntryKind.VOID: ("invoice", Q(amount__lte=0)),
    EntryKind.PAYMENT: ("payment", Q(amount__lt=0)),
    EntryKind.REFUND: ("refund", Q(amount__gt=0)),
    EntryKind.CHARGEBACK: ("chargeback", Q(amount__gt=0)),
    EntryKind.PAYMENT_CANCELED: ("payment", Q(amount__gte=0)),
}
SOURCE_COLUMNS = ("invoice", "credit_note", "payment", "refund", "chargeback")
# The invoice side belongs to an account (customer × provider × currency); the payment side does not.
ACCOUNT_KINDS = (EntryKind.INVOICE, EntryKind.CREDIT_NOTE, EntryKind.VOID)


def _source_and_sign() -> Q:
    condition = Q()
    for kind, (column, sign) in SOURCES.items():
        names_only_its_source = Q(**{f"{column}__isnull": False}) & Q(
            **{f"{other}__isnull": True for other in SOURCE_COLUMNS if other != column}
        )
        condition |= Q(kind=kind) & names_only_its_source & sign
    return condition


class Entry(models.Model):
    """One money effect, as it counted on its own date; never changed once written."""

    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    # No indexes of their own: entry_customer_balance_idx and entry_account_balance_idx start with them.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="entries", db_index=False)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", null=True, blank=True, db_index=False
    )
    currency = currency_field()
    amount = money_field()
    # The event's own date: issue date, credit note date, received_at's date, refund/chargeback/void/cancel date.
    effective_date = models.DateField()
    # The source row: exactly one is set (entry_source_and_sign). Their unique constraints index them.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="entries", null=True, blank=True, db_index=False
    )
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, related_name="entries", null=True, blank=True, db_index=False
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="entries", null=True, blank=True, db_index=False
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, related_name="entries", null=True, blank=True, db_index=False
    )
    chargeback = models.ForeignKey(
        Chargeback, on_delete=models.PROTECT, related_name="entries", null=True, blank=True, db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=_source_and_sign(), name="entry_source_and_sign"),
            models.CheckConstraint(
                condition=Q(kind__in=ACCOUNT_KINDS, account__isnull=False)
                | (~Q(kind__in=ACCOUNT_KINDS) & Q(account__isnull=True)),
                name="entry_account_for_invoice_side",
            ),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="entry_currency_code"),
            # One entry per event: an invoice is issued once and voided once, a payment counts once
            # and is canceled once. Partial, so the millions of NULLs of the other sources are not indexed.
            models.UniqueConstraint(
                fields=["invoice", "kind"], condition=Q(invoice__isnull=False), name="entry_unique_invoice_event"
            ),
            models.UniqueConstraint(
                fields=["payment", "kind"], condition=Q(payment__isnull=False), name="entry_unique_payment_event"
            ),
            models.UniqueConstraint(
                fields=["credit_note"], condition=Q(credit_note__isnull=False), name="entry_unique_credit_note"
            ),
            models.UniqueConstraint(fields=["refund"], condition=Q(refund__isnull=False), name="entry_unique_refund"),
            models.UniqueConstraint(
                fields=["chargeback"], condition=Q(chargeback__isnull=False), name="entry_unique_chargeback"
            ),
        ]
        indexes = [
            # balance_as_of(customer, currency, as_of) and a customer's statement: one index range
            # scan, index-only (the amount is in the index).
            models.Index(
                fields=["customer", "currency", "effective_date"],
                include=["amount"],
                name="entry_customer_balance_idx",
            ),
            models.Index(
                fields=["account", "effective_date"],
                include=["amount"],
                condition=Q(account__isnull=False),
                name="entry_account_balance_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.amount} {self.currency} on {self.effective_date}"
