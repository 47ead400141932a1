"""Documents sent to customers, their PDFs and their deliveries: all append-only (DESIGN.md §2, §11).

A document is a snapshot: what was printed (`figures`), the body as rendered from them
(`html`, with its `sha256`) and the journal position it read, so it can be reproduced
and explained against today's books long after the ledger has moved on.

The PDF is made only when someone asks for it, after the document exists. Storing it in
the document's row would need an UPDATE, which the append-only guard (and, in production,
the application role's missing UPDATE privilege) refuses; so each PDF is its own
append-only row, one per document at most (a unique constraint: made once, stored once).
Deliveries are rows too: a retry is a new row, never an edit of the failed one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models import CURRENCY_CHECK, Account, Customer, Provider


class DocumentKind(models.TextChoices):
    STATEMENT = "statement", "Statement of account"
    REMINDER = "reminder", "Reminder"
    INSTALLMENT_NOTICE = "installment_notice", "Installment notice"


# Number prefix and the PostgreSQL sequence of each kind (migration 0001 creates them):
# numbers are unique per kind; a rolled-back issue may leave a gap, which is allowed.
NUMBER_PREFIX = {
    DocumentKind.STATEMENT: "ST",
    DocumentKind.REMINDER: "RM",
    DocumentKind.INSTALLMENT_NOTICE: "IN",
}
NUMBER_SEQUENCE = {kind: f"documents_{kind}_number_seq" for kind in DocumentKind.values}


class Document(models.Model):
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="documents")
    # A reminder or notice is about one account; a statement may span a provider or the whole customer.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, null=True, blank=True, related_name="documents")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Blank: every currency of the customer, one section each.
    currency = models.CharField(max_length=3, blank=True)
    period_start = models.DateField(null=True, blank=True)
    as_of = models.DateField()
    # Everything printed, amounts as strings (no float ever reads them back).
    figures = models.JSONField()
    html = models.TextField()
    sha256 = models.CharField(max_length=64)
    # The highest ledger_entry id the figures were read from.
    journal_position = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "-id"], name="document_customer_idx"),
            models.Index(fields=["kind", "-id"], name="document_kind_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DocumentKind.values), name="document_kind_valid"),
            models.CheckConstraint(
                condition=Q(currency="") | Q(currency__regex=CURRENCY_CHECK), name="document_currency_code"
            ),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="document_sha256_hex"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return f"/documents/{self.pk}/"

    @property
    def pdf(self) -> bytes | None:
        """The stored PDF, or None when nobody asked for one yet."""
        stored = DocumentPdf.objects.filter(document=self).values_list("pdf", flat=True).first()
        return bytes(stored) if stored is not None else None


class DocumentPdf(models.Model):
    """The PDF of one document, made from its stored HTML the first time it was asked for."""

    document = models.OneToOneField(Document, on_delete=models.PROTECT, related_name="pdf_file")
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PRINT = "print", "Print"


class DeliveryResult(models.TextChoices):
    OK = "ok", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One attempt to deliver a document: where, when, what (the sha256 sent) and how it went."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    to = models.CharField(max_length=254)
    sent_at = models.DateTimeField()
    result = models.CharField(max_length=10, choices=DeliveryResult.choices)
    error = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=DeliveryChannel.values), name="delivery_channel_valid"),
            models.CheckConstraint(condition=Q(result__in=DeliveryResult.values), name="delivery_result_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.document} to {self.to}: {self.get_result_display()}"
