"""Invoices, their lines, credit notes and status history.

An open invoice is immutable: its lines and total never change; a correction is a
credit note. The cached figures and payment_status are written only by
ledger.core.refresh_invoice, inside the service that changed the ledger.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django_fsm import GET_STATE, transition

from billing.fsm import RefreshableFSMModel, StatusField
from billing.kept_totals import KeptFigures
from billing.models import (
    CURRENCY_CHECK,
    Account,
    Customer,
    LedgerRow,
    Provider,
    StatusChangeBase,
    currency_field,
    money_field,
)
from billing.status import PaymentStatus, derive_payment_status

# The open-work statuses: what an open invoice still owes (collections, aging, overdue).
OPEN_WORK_STATUSES = [PaymentStatus.UNPAID, PaymentStatus.PARTIALLY_PAID]


class InvoiceState(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    VOID = "void", "Void"


class InvoiceKind(models.TextChoices):
    """What an invoice bills (DESIGN.md section 3); installment and penalty come with plans (section 10)."""

    STANDARD = "standard", "Standard"
    INSTALLMENT = "installment", "Installment"  # one of a plan's demands (plan, plan_sequence)
    PENALTY = "penalty", "Penalty"  # a late charge on one installment for one period
    FEE = "fee", "Fee"


class CreditReason(models.TextChoices):
    """Why a credit note was issued (DESIGN.md section 3)."""

    CORRECTION = "correction", "Correction"
    RETURN = "return", "Return"
    WAIVER = "waiver", "Waiver"
    RECALCULATION = "recalculation", "Recalculation"
    CANCELLATION = "cancellation", "Cancellation"


# Overdue is not stored (DESIGN.md section 3): open, unpaid or partially paid, due before today.
# Defined here once, as a Q (lists, dashboard: it fits InvoiceQueueTotal too, which has the same
# columns), as SQL (the kept totals) and for one invoice (detail page, list rows).


def open_work() -> Q:
    """Open invoices that still owe (unpaid or partially paid): collections and aging read these."""
    return Q(state=InvoiceState.OPEN, payment_status__in=OPEN_WORK_STATUSES)


def overdue(today: datetime.date) -> Q:
    return open_work() & Q(due_date__lt=today)


def overdue_sql(today: datetime.date) -> tuple[str, dict]:
    """(condition, params) over a table with the invoice's state, payment_status and due_date columns."""
    return f"{OPEN_WORK_SQL} AND due_date < %(overdue_before)s", {"overdue_before": today}


# open_work() in SQL, its literals from the enums: the text the partial indexes' predicates match.
OPEN_WORK_SQL = "state = '{}' AND payment_status IN ({})".format(
    InvoiceState.OPEN.value, ", ".join(f"'{status.value}'" for status in OPEN_WORK_STATUSES)
)


class Invoice(RefreshableFSMModel):
    # No index of their own: invoice_provider_idx and invoice_customer_idx start with them.
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    # Assigned at issue from the provider's counter: ACME-000042. Drafts have none.
    sequence = models.PositiveIntegerField(null=True, blank=True)
    number = models.CharField(max_length=24, unique=True, null=True, blank=True)
    currency = currency_field()
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField()
    # Room for installment and penalty (section 10): a plain column, not a constraint on its values.
    # db_default too: rows written in raw SQL (bench fill, tests) get the same kind.
    kind = models.CharField(
        max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.STANDARD, db_default=InvoiceKind.STANDARD
    )
    # The order it bills, if any (orders.services.invoice_order): the order's caches are refreshed
    # with the invoice's, and its lock is taken before the invoice's (ledger.core.lock_rows).
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices", db_index=False
    )
    # Installment plans (DESIGN.md section 10): an installment names its plan and its place in
    # the schedule (plan_sequence, 1..N: `sequence` is the provider's invoice counter); a penalty
    # names its plan, the installment it is for and the period it covers (plans.penalties).
    plan = models.ForeignKey(
        "plans.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices", db_index=False
    )
    plan_sequence = models.PositiveSmallIntegerField(null=True, blank=True)
    installment = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="penalties", db_index=False
    )
    penalty_period = models.PositiveSmallIntegerField(null=True, blank=True)
    # 0 for a period's penalty; 1, 2, ... for what a later assessment added to the same period
    # when the rule came to more (a payment moved to a later value date): difference documents.
    penalty_revision = models.PositiveSmallIntegerField(null=True, blank=True)

    total = money_field(default=0)
    credited_total = money_field(default=0)
    paid_total = money_field(default=0)
    balance_due = money_field(default=0)

    state = StatusField(max_length=16, choices=InvoiceState.choices, default=InvoiceState.DRAFT, protected=True)
    payment_status = StatusField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID, protected=True
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "sequence"], name="invoice_unique_provider_sequence"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_non_negative"),
            models.CheckConstraint(
                condition=Q(credited_total__gte=0) & Q(credited_total__lte=F("total")),
                name="invoice_credited_within_total",
            ),
            models.CheckConstraint(condition=Q(paid_total__gte=0), name="invoice_paid_non_negative"),
            models.CheckConstraint(
                # A void invoice owes nothing (DESIGN.md section 3); any other owes net - paid.
                condition=Q(state=InvoiceState.VOID, balance_due=0)
                | (~Q(state=InvoiceState.VOID) & Q(balance_due=F("total") - F("credited_total") - F("paid_total"))),
                name="invoice_balance_due_consistent",
            ),
            models.CheckConstraint(
                # Issued invoices have a number; a draft, or a draft discarded (voided) before issue, has none.
                condition=Q(state=InvoiceState.DRAFT)
                | Q(state=InvoiceState.VOID, number__isnull=True, sequence__isnull=True)
                | (Q(number__isnull=False) & Q(issue_date__isnull=False)),
                name="invoice_issued_has_number",
            ),
            models.CheckConstraint(
                condition=Q(issue_date__isnull=True) | Q(due_date__gte=F("issue_date")),
                name="invoice_due_after_issue",
            ),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="invoice_currency_code"),
            # I11 at the database: one penalty invoice per installment, period and revision.
            models.UniqueConstraint(
                fields=["installment", "penalty_period", "penalty_revision"],
                condition=Q(installment__isnull=False),
                name="invoice_unique_penalty_period",
            ),
            models.UniqueConstraint(
                fields=["plan", "plan_sequence"],
                condition=Q(plan_sequence__isnull=False),
                name="invoice_unique_plan_sequence",
            ),
            models.CheckConstraint(
                condition=Q(plan_sequence__isnull=True) | Q(plan__isnull=False, installment__isnull=True),
                name="invoice_installment_has_plan",
            ),
            models.CheckConstraint(
                condition=Q(installment__isnull=True, penalty_period__isnull=True, penalty_revision__isnull=True)
                | Q(
                    installment__isnull=False,
                    penalty_period__isnull=False,
                    penalty_revision__isnull=False,
                    plan__isnull=False,
                ),
                name="invoice_penalty_has_period",
            ),
        ]
        indexes = [
            # The work queues: open invoices by payment status, oldest due first.
            models.Index(
                fields=["payment_status", "due_date", "id"],
                condition=Q(state=InvoiceState.OPEN),
                name="invoice_queue_idx",
            ),
            # Unpaid and partially paid together (overdue, all open work), oldest due first. No
            # INCLUDE of amounts here or above: counts and totals come from InvoiceQueueTotal, and
            # an indexed balance_due would make every allocation's UPDATE non-HOT (bench/RESULTS.md).
            models.Index(
                fields=["due_date", "id"],
                condition=Q(state=InvoiceState.OPEN, payment_status__in=OPEN_WORK_STATUSES),
                name="invoice_open_due_idx",
            ),
            models.Index(fields=["customer", "state", "payment_status"], name="invoice_customer_idx"),
            models.Index(fields=["provider", "state", "payment_status"], name="invoice_provider_idx"),
            models.Index(
                fields=["account", "due_date"],
                condition=Q(state=InvoiceState.OPEN, payment_status__in=OPEN_WORK_STATUSES),
                name="invoice_account_open_idx",
            ),
            models.Index(fields=["due_date", "id"], name="invoice_due_idx"),
            models.Index(fields=["issue_date", "id"], name="invoice_issue_idx"),
            models.Index(fields=["order"], condition=Q(order__isnull=False), name="invoice_order_idx"),
            models.Index(fields=["plan", "plan_sequence"], condition=Q(plan__isnull=False), name="invoice_plan_idx"),
            # The nightly assessment's candidates: a plan's installments by due date.
            models.Index(
                fields=["due_date", "plan"],
                condition=Q(plan_sequence__isnull=False, state=InvoiceState.OPEN),
                name="invoice_installment_due_idx",
            ),
        ]
        triggers = [
            # Every change of an invoice's state, status or figures appends its delta to
            # InvoiceQueueTotal, in the same transaction, whatever code made it.
            # Its figure columns are the ones INVOICE_QUEUE_FIGURES names.
            pgtrigger.Trigger(
                name="queue_totals",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                func="""
                IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.payment_status = NEW.payment_status
                   AND OLD.currency = NEW.currency AND OLD.due_date = NEW.due_date THEN
                    IF OLD.balance_due <> NEW.balance_due OR OLD.total <> NEW.total THEN
                        INSERT INTO invoices_invoicequeuetotal
                            (state, payment_status, currency, due_date, invoices, balance_due, total)
                        VALUES (NEW.state, NEW.payment_status, NEW.currency, NEW.due_date, 0,
                                NEW.balance_due - OLD.balance_due, NEW.total - OLD.total);
                    END IF;
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO invoices_invoicequeuetotal
                        (state, payment_status, currency, due_date, invoices, balance_due, total)
                    VALUES (OLD.state, OLD.payment_status, OLD.currency, OLD.due_date, -1,
                            -OLD.balance_due, -OLD.total);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO invoices_invoicequeuetotal
                        (state, payment_status, currency, due_date, invoices, balance_due, total)
                    VALUES (NEW.state, NEW.payment_status, NEW.currency, NEW.due_date, 1,
                            NEW.balance_due, NEW.total);
                END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("invoices:detail", args=[self.pk])

    def is_overdue(self, today: datetime.date) -> bool:
        """This invoice matches overdue(today)."""
        return self.state == InvoiceState.OPEN and self.payment_status in OPEN_WORK_STATUSES and self.due_date < today

    @property
    def net_total(self) -> Decimal:
        return self.total - self.credited_total

    @transition(field=state, source=InvoiceState.DRAFT, target=InvoiceState.OPEN)
    def issue(self) -> None:
        """Draft to open; the service assigns the number under the provider's lock."""

    @transition(field=state, source=[InvoiceState.DRAFT, InvoiceState.OPEN], target=InvoiceState.VOID)
    def void(self) -> None:
        """Open (or draft) to void; the service reverses the allocations first."""

    @transition(
        field=payment_status,
        source="*",
        target=GET_STATE(lambda invoice: derive_payment_status(net=invoice.net_total, paid=invoice.paid_total)),
    )
    def refresh_payment_status(self) -> None:
        """Move payment_status to what the cached totals say (idempotent)."""


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = money_field()
    amount = money_field()
    # The order line this line bills (orders.services.invoice_order); its quantity counts as invoiced.
    order_line = models.ForeignKey(
        "orders.OrderLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
        db_index=False,
    )

    class Meta:
        ordering = ["position"]
        indexes = [
            models.Index(
                fields=["order_line"], condition=Q(order_line__isnull=False), name="invoice_line_order_line_idx"
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="invoice_line_quantity_positive"),
        ]


class CreditNote(LedgerRow):
    """Reduces what an open invoice asks for; never changed once written."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    amount = money_field()
    reason_code = models.CharField(
        max_length=16, choices=CreditReason.choices, default=CreditReason.CORRECTION, db_default=CreditReason.CORRECTION
    )
    # A credit by quantity that gives the quantity back to the order lines (the goods are
    # re-shipped and may be invoiced again). A return or a price concession does not.
    reopen_quantity = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive")]


class CreditNoteLine(models.Model):
    """A quantity of one invoice line that a credit note credits; written with the note, never changed."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    invoice_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="credit_note_lines")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    amount = money_field()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="credit_note_line_quantity_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="credit_note_line_amount_non_negative"),
        ]


class InvoiceStatusChange(StatusChangeBase):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="status_changes")

    class Meta:
        ordering = ["id"]


class InvoiceQueueTotal(models.Model):
    """Count, balance due and total of the invoices per state, status, currency and due date.

    A sum of deltas: the trigger on Invoice appends one row per change (inserts never
    wait on each other, so clerks do not contend on a counter row), and
    billing.kept_totals.compact_totals folds them into one row per key now and then.
    Reading a list's count and totals sums a few thousand rows instead of scanning
    the list's invoices (bench/RESULTS.md); overdue reads the rows due before today.
    """

    state = models.CharField(max_length=16, choices=InvoiceState.choices)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    currency = currency_field()
    due_date = models.DateField()
    invoices = models.BigIntegerField()
    balance_due = models.DecimalField(max_digits=18, decimal_places=2)
    total = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        # Reads sum the deltas of the asked-for keys: an index-only scan of just those rows.
        indexes = [
            models.Index(
                fields=["state", "payment_status", "currency", "due_date"],
                include=["invoices", "balance_due", "total"],
                name="invoice_queue_total_key_idx",
            )
        ]


# The kept columns of InvoiceQueueTotal: list totals, dashboard, nav counts, compaction, drift.
INVOICE_QUEUE_FIGURES = KeptFigures(InvoiceQueueTotal, count="invoices", sums=("balance_due", "total"))
