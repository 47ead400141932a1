"""Installment plans, their penalty rules and waivers (DESIGN.md section 10).

A plan is a schedule of installment invoices (invoices.models.Invoice with kind
`installment`, `plan` and `plan_sequence`); late charges are `penalty` invoices naming the
installment and the period they cover. What a plan owes lives on those invoices; the plan
keeps only its terms and one cached lifecycle `state` (paid off when every installment
and penalty is paid), written by ledger.plans.refresh_plans in the transaction that
touched one of its invoices.

Penalty rules are versions, never edited: a change appends a version with the date it
takes effect (plans.services.change_penalty_rule). Waivers of penalties not yet charged
are rows too. Both tables are append-only at the database (billing.guards).
"""

from __future__ import annotations

import datetime

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
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


class PlanState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAID_OFF = "paid_off", "Paid off"  # every installment and penalty paid
    CANCELED = "canceled", "Canceled"


class PenaltyKind(models.TextChoices):
    PERCENT = "percent", "Percent of the overdue balance"
    FIXED = "fixed", "Fixed amount"


class PenaltyFrequency(models.TextChoices):
    ONCE = "once", "Once"
    MONTHLY = "monthly", "Per full month overdue"


def derive_plan_state(*, state: str, installments: int, all_paid: bool) -> str:
    """Canceled stays canceled; paid off when it has installments and every open installment
    and penalty of it owes nothing; active otherwise (a new penalty makes it active again)."""
    if state == PlanState.CANCELED:
        return PlanState.CANCELED
    if installments and all_paid:
        return PlanState.PAID_OFF
    return PlanState.ACTIVE


class Plan(RefreshableFSMModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="plans", db_index=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="plans")
    currency = currency_field()
    # The account its invoices go to: every writer of those invoices locks it first (lock order).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="plans")
    principal = money_field()
    description = models.CharField(max_length=300, blank=True)
    installment_count = models.PositiveSmallIntegerField()
    every_months = models.PositiveSmallIntegerField(default=1)
    first_due_date = models.DateField()
    issue_date = models.DateField()

    state = StatusField(max_length=16, choices=PlanState.choices, default=PlanState.ACTIVE, protected=True)
    # Kept with the state by ledger.plans.refresh_plans, as an account's figures: what its open
    # installments and penalties still owe (unpaid or partially paid ones), and the oldest due
    # date among them. The plans list reads them: overdue is `oldest_due_date < today`.
    balance_due = money_field(default=0)
    oldest_due_date = models.DateField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="plan_principal_positive"),
            models.CheckConstraint(condition=Q(installment_count__gte=1), name="plan_installments_positive"),
            models.CheckConstraint(condition=Q(every_months__gte=1), name="plan_every_months_positive"),
            models.CheckConstraint(
                condition=Q(first_due_date__gte=models.F("issue_date")), name="plan_due_after_issue"
            ),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="plan_currency_code"),
        ]
        indexes = [
            models.Index(fields=["customer", "state"], name="plan_customer_idx"),
            models.Index(fields=["state", "id"], name="plan_state_idx"),
        ]
        triggers = [
            # Every change of a plan's state, currency, oldest due date or figures appends its delta
            # to PlanQueueTotal in the same transaction, whatever code made it (as for orders).
            pgtrigger.Trigger(
                name="queue_totals",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                func="""
                IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.currency = NEW.currency
                   AND OLD.oldest_due_date IS NOT DISTINCT FROM NEW.oldest_due_date THEN
                    IF OLD.principal <> NEW.principal OR OLD.balance_due <> NEW.balance_due THEN
                        INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)
                        VALUES (NEW.state, NEW.currency, NEW.oldest_due_date, 0,
                                NEW.principal - OLD.principal, NEW.balance_due - OLD.balance_due);
                    END IF;
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)
                    VALUES (OLD.state, OLD.currency, OLD.oldest_due_date, -1, -OLD.principal, -OLD.balance_due);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)
                    VALUES (NEW.state, NEW.currency, NEW.oldest_due_date, 1, NEW.principal, NEW.balance_due);
                END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.pk}: {self.principal} {self.currency} in {self.installment_count} installments"

    @property
    def installments(self) -> models.QuerySet:
        """Its installment invoices in schedule order (each with plan_sequence 1..N)."""
        return self.invoices.filter(plan_sequence__isnull=False).order_by("plan_sequence")

    @property
    def penalties(self) -> models.QuerySet:
        """Its penalty invoices, by installment and period."""
        return self.invoices.filter(installment__isnull=False).order_by(
            "installment__plan_sequence", "penalty_period", "penalty_revision"
        )

    @transition(
        field=state,
        source=[PlanState.ACTIVE, PlanState.PAID_OFF, PlanState.CANCELED],
        target=GET_STATE(
            lambda plan, installments, all_paid: derive_plan_state(
                state=plan.state, installments=installments, all_paid=all_paid
            )
        ),
    )
    def refresh_state(self, installments: int, all_paid: bool) -> None:
        """Active and paid off follow the invoices; canceled stays (idempotent)."""


class PlanQueueTotal(models.Model):
    """Count, principal and balance due of the plans per state, currency and oldest due date.

    A sum of deltas, as orders.OrderQueueTotal: the trigger on Plan appends one row per change,
    billing.kept_totals.compact_totals folds them now and then. The oldest due date is a key so
    that "overdue" (oldest_due_date < today) is a condition on the keys: the plans list's totals
    read a few hundred rows instead of aggregating 100,000 plans (20 ms, or 300 ms with the
    overdue filter as an EXISTS over their invoices).
    """

    state = models.CharField(max_length=16, choices=PlanState.choices)
    currency = currency_field()
    oldest_due_date = models.DateField(null=True)
    plans = models.BigIntegerField()
    principal = models.DecimalField(max_digits=18, decimal_places=2)
    balance_due = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [
            models.Index(
                fields=["state", "currency", "oldest_due_date"],
                include=["plans", "principal", "balance_due"],
                name="plan_queue_total_key_idx",
            )
        ]


# The kept columns of PlanQueueTotal: the plans list's totals, compaction, drift.
PLAN_QUEUE_FIGURES = KeptFigures(PlanQueueTotal, count="plans", sums=("principal", "balance_due"))


class PlanStatusChange(StatusChangeBase):
    """One move of a plan's state, with its cause; append-only."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="status_changes")

    class Meta:
        ordering = ["id"]


class PenaltyRule(LedgerRow):
    """One version of a plan's penalty rule, in force from `effective_from` until the next version.

    `rate` is a percent of the installment's overdue balance (kind percent), `amount` a fixed
    charge (kind fixed); exactly one of them. `cap`: the most all penalties of one
    installment may come to. Append-only: a change is a new version.
    """

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="penalty_rules")
    effective_from = models.DateField()
    kind = models.CharField(max_length=8, choices=PenaltyKind.choices)
    rate = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    amount = money_field(null=True, blank=True)
    grace_days = models.PositiveSmallIntegerField(default=0)
    frequency = models.CharField(max_length=8, choices=PenaltyFrequency.choices, default=PenaltyFrequency.MONTHLY)
    cap = money_field(null=True, blank=True)

    class Meta:
        ordering = ["effective_from", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "effective_from"], name="penalty_rule_one_per_day"),
            models.CheckConstraint(
                condition=(Q(kind=PenaltyKind.PERCENT, rate__gt=0, rate__lte=100, amount__isnull=True))
                | Q(kind=PenaltyKind.FIXED, amount__gt=0, rate__isnull=True),
                name="penalty_rule_rate_or_amount",
            ),
            models.CheckConstraint(condition=Q(cap__isnull=True) | Q(cap__gt=0), name="penalty_rule_cap_positive"),
            models.CheckConstraint(
                condition=Q(frequency__in=PenaltyFrequency.values), name="penalty_rule_frequency_known"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == PenaltyKind.PERCENT:
            charge = f"{self.rate.normalize():f}% of the overdue balance" if self.rate is not None else "percent"
        else:
            charge = f"{self.amount} fixed"
        often = "once" if self.frequency == PenaltyFrequency.ONCE else "per full month overdue"
        cap = f", at most {self.cap} per installment" if self.cap is not None else ""
        return f"From {self.effective_from}: {charge}, {often}, after {self.grace_days} grace days{cap}"


class PenaltyAssessment(LedgerRow):
    """One run of the penalty assessment (plans.assessment), written when it ends: what it
    looked at and issued. The next run over every plan looks only at what changed since the
    latest such run started (and at installments a new period may have come due on).
    Append-only."""

    as_of = models.DateField()
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="assessments")
    started_at = models.DateTimeField()
    incremental = models.BooleanField()
    candidates = models.PositiveIntegerField()
    penalties = models.PositiveIntegerField()
    credit_notes = models.PositiveIntegerField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["plan", "started_at"], name="penalty_assessment_idx")]

    def __str__(self) -> str:
        scope = f"plan {self.plan_id}" if self.plan_id else "every plan"
        return f"Penalties assessed as of {self.as_of} over {scope}: {self.penalties} charged, {self.credit_notes} credited"


class PenaltyWaiver(LedgerRow):
    """Penalties not yet charged on an installment are waived: the assessment charges it
    nothing more (it may still credit a recalculation). `created_by` is who waived, `created_at`
    when, `reason` why. Append-only; one per installment."""

    installment = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="penalty_waivers")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["installment"], name="penalty_waiver_one_per_installment")]

    def __str__(self) -> str:
        return f"Future penalties waived on {self.installment}: {self.reason}"

    @property
    def by(self):
        return self.created_by

    @property
    def at(self) -> datetime.datetime:
        return self.created_at
