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


# --- Background statement imports (intake.tasks) --------------------------------------------------


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class StatementImport(models.Model):
    """One uploaded statement and the progress of its import by a background worker.

    The upload view stores the file (StatementFile) and this row, and defers the task;
    the worker (intake.tasks) writes each committed chunk's lines and moves `done`, `total`
    and `tally` in one UPDATE, so the progress page is live. Running it again (after a
    crash or a failure) resumes: lines already written are kept, and the bank references
    make the entries already handled come back as already imported, never twice.
    """

    source_name = models.CharField(max_length=255)
    format = models.CharField(max_length=16, blank=True)  # as asked ("" = detect), then as read
    profile = models.CharField(max_length=40, blank=True)
    dry_run = models.BooleanField(default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    file_size = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)  # known once the file is read
    done = models.PositiveIntegerField(default=0)
    tally = models.JSONField(default=dict, blank=True)  # outcome -> number of lines
    file_errors = models.JSONField(default=list, blank=True)
    stopped = models.TextField(blank=True)  # why the importer stopped early, or the task's error
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__isnull=True) | Q(done__lte=models.F("total")), name="import_done_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.source_name}"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def counts(self) -> list[tuple[str, int]]:
        """(label, number of lines) per outcome that occurred, in the importer's order."""
        from intake.importing import Outcome

        return [(label, self.tally[outcome]) for outcome, label in Outcome.LABELS.items() if self.tally.get(outcome)]

    @property
    def needs_a_person(self) -> int:
        from intake.importing import Outcome

        return sum(self.tally.get(outcome, 0) for outcome in Outcome.NEEDS_A_PERSON)

    def summary(self) -> str:
        """Like ImportReport.summary: "1 recorded, 3 unidentified." (a dry run says so)."""
        text = ", ".join(f"{count:,} {label}" for label, count in self.counts) or "no entries"
        if self.dry_run:
            text = "Dry run, nothing was saved: would be " + text
        return text + "."


class StatementFile(models.Model):
    """The uploaded bytes of a StatementImport, kept in PostgreSQL beside it.

    In the database rather than under var/: a worker on another machine reads it with no
    shared disk, it is backed up and deleted with the import, and the upload commits
    atomically with its row and its job. Its own table keeps the 100 MB out of every query
    on StatementImport; the bytes are dropped once the import is done (the bank entries
    keep every fact), and kept after a failure so "Run again" has them.
    """

    statement_import = models.OneToOneField(
        StatementImport, on_delete=models.CASCADE, primary_key=True, related_name="file"
    )
    content = models.BinaryField()


class StatementImportLine(models.Model):
    """What became of one entry of a background import: the result page's row.

    Unique per import, position and bank reference, so a resumed import that meets a line
    again writes nothing (the first outcome, e.g. "recorded", stays).
    """

    statement_import = models.ForeignKey(StatementImport, on_delete=models.CASCADE, related_name="lines")
    sequence = models.PositiveIntegerField()  # file order: the number in "line 12" / "entry 12"
    position = models.CharField(max_length=32)
    outcome = models.CharField(max_length=20)
    message = models.TextField(blank=True)
    bank_reference = models.CharField(max_length=100, blank=True)
    amount = money_field(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    credit = models.BooleanField(default=True)
    needs_a_person = models.BooleanField(default=False)
    allocations = models.JSONField(default=list, blank=True)  # "INV-7: 40.00 EUR (named in the text)"
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    bank_entry = models.ForeignKey(BankEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["statement_import", "position", "bank_reference"], name="import_line_once"),
        ]
        indexes = [
            models.Index(fields=["statement_import", "sequence", "id"], name="import_line_order_idx"),
            models.Index(
                fields=["statement_import", "sequence", "id"],
                condition=Q(needs_a_person=True),
                name="import_line_person_idx",
            ),
        ]

    @property
    def amount_display(self) -> str:
        from billing.money import format_money

        if self.amount is None:
            return ""
        return ("" if self.credit else "-") + format_money(self.amount, self.currency)

    @property
    def outcome_label(self) -> str:
        from intake.importing import Outcome

        return Outcome.LABELS.get(self.outcome, self.outcome)
