"""The record of every reconciliation run and of each difference it found (DESIGN.md §1.4).

A run row is written when the run starts and updated as its batches commit, so an
interrupted run still shows what it did. A difference is written once, in the same
transaction as the batch that confirmed it under lock (and, with --fix, repaired it),
and is never changed afterwards: the database refuses updates and deletes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone


class RunOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    CLEAN = "clean", "No drift"
    DRIFT = "drift", "Drift found"
    FIXED = "fixed", "Drift fixed"
    PARTLY_FIXED = "partly_fixed", "Drift partly fixed"
    INTERRUPTED = "interrupted", "Interrupted"
    ERROR = "error", "Error"


class ObjectKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    PAYMENT = "payment", "Payment"
    ACCOUNT = "account", "Account"
    ORDER = "order", "Order"
    PLAN = "plan", "Installment plan"
    INVOICE_TOTALS = "invoice_totals", "Invoice queue totals"
    PAYMENT_TOTALS = "payment_totals", "Payment queue totals"
    ORDER_TOTALS = "order_totals", "Order list totals"
    PLAN_TOTALS = "plan_totals", "Plan list totals"
    WORKSHOP = "workshop", "Workshop seats"
    JOURNAL_CUSTOMER = "journal_customer", "Entry journal of a customer"
    JOURNAL_ACCOUNT = "journal_account", "Entry journal of an account"


class ReconciliationRun(models.Model):
    """One run of reconcile_statuses.

    Counts are of objects (an invoice with three wrong fields is one drifted object and
    three differences). `candidates` is what the set-based pass flagged; `drift_found`
    is what was still wrong when re-checked under the rows' locks; `left_for_next_run`
    is flagged objects this run did not re-check (--limit, or rows kept busy by clerks).
    """

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    fix = models.BooleanField(default=False)
    limit = models.PositiveIntegerField(null=True, blank=True)
    objects_checked = models.PositiveIntegerField(default=0)
    candidates = models.PositiveIntegerField(default=0)
    drift_found = models.PositiveIntegerField(default=0)
    drift_fixed = models.PositiveIntegerField(default=0)
    left_for_next_run = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=RunOutcome.choices, default=RunOutcome.RUNNING)
    message = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(drift_fixed__lte=F("drift_found")), name="run_fixed_within_found"),
            models.CheckConstraint(
                condition=Q(outcome=RunOutcome.RUNNING) | Q(finished_at__isnull=False),
                name="run_finished_has_time",
            ),
        ]
        indexes = [models.Index(fields=["-started_at", "-id"], name="run_recent_idx")]

    def __str__(self) -> str:
        return f"Reconciliation run {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("reconciliation:run", args=[self.pk])

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None

    @property
    def drifted(self) -> bool:
        return self.drift_found > 0 or self.left_for_next_run > 0


class ReconciliationDifference(models.Model):
    """One field of one object whose cached value differed from what the ledger says."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="differences")
    object_kind = models.CharField(max_length=16, choices=ObjectKind.choices)
    object_id = models.BigIntegerField()
    object_label = models.CharField(max_length=200)
    field = models.CharField(max_length=32)
    cached_value = models.CharField(max_length=64, blank=True)
    ledger_value = models.CharField(max_length=64, blank=True)
    # True when this run repaired it; an invoice total that disagrees with its lines is
    # never repaired automatically (an open invoice is immutable: a person decides).
    fixed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_kind", "object_id"], name="difference_object_idx")]

    def __str__(self) -> str:
        return f"{self.object_label} {self.field}: {self.cached_value} (cached) vs {self.ledger_value} (ledger)"

    def get_object_url(self) -> str | None:
        """The object's page, if it has one of its own (an account's is its customer's page)."""
        from django.urls import NoReverseMatch

        names: dict[str, str] = {
            ObjectKind.INVOICE: "invoices:detail",
            ObjectKind.PAYMENT: "payments:detail",
            ObjectKind.ORDER: "orders:detail",
            ObjectKind.PLAN: "plans:detail",
            ObjectKind.WORKSHOP: "registrations:workshop",
        }
        name = names.get(self.object_kind)
        if name is None:
            return None
        try:
            return reverse(name, args=[self.object_id])
        except NoReverseMatch:
            return None
