"""Export batches to the outside billing agency (DESIGN.md §13, invariant I12).

Everything here is append-only at the database (billing.guards): a batch, its payload
chunks, its items and its balances are written once, when the batch is sealed, and the
delivery state moves by rows of its own (`Delivery`: each attempt, failed or not, and the
agency's acknowledgement). A batch's state is derived from those rows:

    sealed → delivered → acknowledged, or failed (with the error) until an attempt succeeds.

The payload is stored in chunks of at most CHUNK_BYTES so a batch of a million entries
is written and sent without ever holding it whole in memory; `payload` joins them for the
small batches tests and the API look at, `iter_payload` streams them.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from billing.models import CURRENCY_CHECK, Account, Customer, currency_field, money_field
from ledger.models import Entry

CHUNK_BYTES = 1024 * 1024


class BatchState(models.TextChoices):
    SEALED = "sealed", "Sealed, not yet delivered"
    DELIVERED = "delivered", "Delivered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    FAILED = "failed", "Delivery failed"


# Profile names and kinds are ASCII identifiers: compared bytewise ("C"), the million index
# entries of a batch's items are written without locale-aware string comparisons.
def _identifier(max_length: int) -> models.CharField:
    return models.CharField(max_length=max_length, db_collation="C")


class ExportBatch(models.Model):
    """One night's new entries of one profile, sealed: number, bytes and their sha256 never change."""

    profile = _identifier(40)
    number = models.PositiveIntegerField()
    format = models.CharField(max_length=4)
    # Where the profile delivered to when the batch was sealed (the setting may change later).
    deliver_to = models.CharField(max_length=500)
    entry_count = models.PositiveIntegerField()
    # Per currency: charges (+), credits (−) and net, as decimal strings, summed when sealed.
    totals = models.JSONField(default=dict)
    payload_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "export batches"
        constraints = [
            models.UniqueConstraint(fields=["profile", "number"], name="export_batch_unique_number"),
            models.CheckConstraint(condition=Q(number__gt=0), name="export_batch_number_positive"),
            models.CheckConstraint(condition=Q(entry_count__gt=0), name="export_batch_not_empty"),
            models.CheckConstraint(condition=Q(payload_bytes__gt=0), name="export_batch_payload_not_empty"),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="export_batch_sha256_hex"),
            models.CheckConstraint(condition=Q(format__in=["csv", "json"]), name="export_batch_format_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.profile} batch {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("exports:detail", args=[self.pk])

    @property
    def entries(self) -> int:
        """How many journal entries the batch carries (the issue's "entries"; stored as entry_count)."""
        return self.entry_count

    @property
    def idempotency_key(self) -> str:
        """What the agency deduplicates on: the same key for every delivery of this batch."""
        return f"{self.profile}-{self.number}"

    @property
    def file_name(self) -> str:
        return f"{self.profile}-{self.number:06d}.{self.format}"

    def iter_payload(self) -> Iterator[bytes]:
        """The sealed bytes, one stored chunk at a time (at most CHUNK_BYTES in memory)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM exports_exportchunk WHERE batch_id = %s", [self.pk])
            (count,) = cursor.fetchone()
        for seq in range(count):
            with connection.cursor() as cursor:
                cursor.execute("SELECT data FROM exports_exportchunk WHERE batch_id = %s AND seq = %s", [self.pk, seq])
                yield bytes(cursor.fetchone()[0])

    @property
    def payload(self) -> bytes:
        """The sealed bytes, whole (for small batches; deliveries and downloads stream them)."""
        return b"".join(self.iter_payload())

    @property
    def balances(self) -> models.QuerySet[ExportBalance]:
        """Rows of account, opening, delta, closing (payment-side entries: per customer and currency)."""
        return self.balance_rows.select_related("customer", "account__provider").order_by(
            "customer_id", "currency", "account_id"
        )

    @property
    def state(self) -> str:
        """Derived from the delivery rows: acknowledged, delivered (an attempt succeeded), failed, or sealed."""
        results = set(self.deliveries.values_list("result", flat=True))
        if DeliveryResult.ACKNOWLEDGED in results:
            return BatchState.ACKNOWLEDGED
        if DeliveryResult.OK in results:
            return BatchState.DELIVERED
        if DeliveryResult.FAILED in results:
            return BatchState.FAILED
        return BatchState.SEALED

    def get_state_display(self) -> str:
        return BatchState(self.state).label

    @property
    def last_error(self) -> str:
        failed = self.deliveries.filter(result=DeliveryResult.FAILED).order_by("-id").first()
        return failed.error if failed else ""


class ExportChunk(models.Model):
    """Part `seq` (0, 1, ...) of a batch's sealed payload."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="+", db_index=False)
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "seq"], name="export_chunk_unique_seq")]


# Items and balances are written a million at a time by one INSERT ... SELECT from the rows they
# name, in the sealing transaction; the rows they name can never be deleted (the journal, the
# batches: append-only; customers and accounts: PROTECTed by their invoices and entries). So their
# keys carry no database constraint: PostgreSQL checks a foreign key row by row, which cost 34 s of
# a million-entry batch (bench/RESULTS.md). tests/invariants.py (I12) checks every link instead.
class ExportItem(models.Model):
    """An entry exported by a profile: once per profile, ever (the unique constraint, I12).

    The profile is the batch's, repeated here so the database can hold the rule.
    """

    batch = models.ForeignKey(
        ExportBatch, on_delete=models.PROTECT, related_name="items", db_index=False, db_constraint=False
    )
    profile = _identifier(40)
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    # The entry's kind, repeated so an empty night is proved by two index-only counts (services.nothing_new).
    kind = _identifier(20)

    class Meta:
        constraints = [
            # Also the index that export_batch's "in none of its batches" probes (profile, entry), and
            # with the kind included, the one the empty night counts index-only (services.nothing_new).
            models.UniqueConstraint(fields=["profile", "entry"], include=["kind"], name="export_item_once_per_profile")
        ]
        indexes = [
            # A batch's entries in journal order, a page at a time (the batch page).
            models.Index(fields=["batch", "entry"], name="export_item_batch_entry_idx")
        ]


class ExportBalance(models.Model):
    """One account's balance in a batch: opening (its closing in the profile's previous batch
    that had it, else 0), the batch's entries (delta) and closing. Entries with no account
    (the payment side) are balanced per customer and currency, with account blank."""

    batch = models.ForeignKey(
        ExportBatch, on_delete=models.PROTECT, related_name="balance_rows", db_index=False, db_constraint=False
    )
    profile = _identifier(40)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    currency = currency_field()
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_index=False, db_constraint=False
    )
    opening = money_field()
    delta = money_field()
    closing = money_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "customer", "currency", "account"],
                nulls_distinct=False,
                name="export_balance_once_per_batch",
            ),
            models.CheckConstraint(
                condition=Q(closing=models.F("opening") + models.F("delta")), name="export_balance_adds_up"
            ),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="export_balance_currency_code"),
        ]
        indexes = [
            # The opening of the next batch: the latest closing of (profile, customer, currency, account).
            models.Index(
                fields=["profile", "customer", "currency", "account", "-batch"], name="export_balance_prev_idx"
            )
        ]


class DeliveryResult(models.TextChoices):
    OK = "ok", "Delivered"
    FAILED = "failed", "Failed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class Delivery(models.Model):
    """One delivery attempt of a batch (the same bytes, the same idempotency key), or the agency's acknowledgement."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="deliveries")
    result = models.CharField(max_length=12, choices=DeliveryResult.choices)
    to = models.CharField(max_length=500)
    idempotency_key = models.CharField(max_length=60)
    sha256 = models.CharField(max_length=64)
    error = models.TextField(blank=True)
    # The agency's own reference for an acknowledgement, or the HTTP status of an attempt.
    reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "export deliveries"
        constraints = [
            models.CheckConstraint(condition=Q(result__in=DeliveryResult.values), name="export_delivery_result_valid"),
            models.CheckConstraint(
                condition=~Q(result="failed") | ~Q(error=""), name="export_delivery_failure_has_error"
            ),
            # An acknowledgement is recorded once; a second one (a callback retried) finds the first.
            models.UniqueConstraint(
                fields=["batch"], condition=Q(result="acknowledged"), name="export_delivery_one_acknowledgement"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch}: {self.get_result_display()}"
