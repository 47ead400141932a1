"""The plan page's reads beyond plans.selectors' schedule: each penalty invoice with what
recalculations and waivers credited on it, the payments on the plan's invoices, the header
figures, the rule's versions and the notices issued."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from allocations.models import Allocation
from documents.models import Document, DocumentKind
from invoices.models import CreditNote, CreditReason, Invoice, InvoiceKind, InvoiceState
from plans.models import PenaltyRule, Plan
from plans.selectors import ScheduleRow, plan_schedule

ZERO = Decimal("0.00")


@dataclass
class PenaltyRow:
    """One penalty invoice with what recalculations and waivers credited on it."""

    invoice: Invoice
    recalculated: Decimal = ZERO
    waived: Decimal = ZERO

    @property
    def can_waive(self) -> bool:
        return self.invoice.state == InvoiceState.OPEN and self.invoice.total > self.invoice.credited_total


@dataclass
class ScheduleLine:
    """A row of the schedule (plans.selectors) with the payments on the installment and its penalties."""

    row: ScheduleRow
    allocations: list[Allocation] = field(default_factory=list)

    @property
    def installment(self) -> Invoice:
        return self.row.installment

    @property
    def can_notice(self) -> bool:
        return self.row.installment.state == InvoiceState.OPEN


@dataclass
class PlanFigures:
    paid: Decimal
    penalty_charged: Decimal
    waived: Decimal
    outstanding: Decimal
    overdue_installments: int
    oldest_unpaid: Invoice | None


def plan_penalties(plan: Plan) -> list[PenaltyRow]:
    """Every penalty invoice of the plan (void ones too), by installment, period and revision."""
    penalties = {
        invoice.pk: PenaltyRow(invoice)
        for invoice in Invoice.objects.filter(plan_id=plan.pk, kind=InvoiceKind.PENALTY)
        .select_related("installment")
        .order_by("installment__plan_sequence", "penalty_period", "penalty_revision", "id")
    }
    notes = CreditNote.objects.filter(invoice_id__in=list(penalties)).values_list("invoice_id", "reason_code", "amount")
    for invoice_id, reason_code, amount in notes:
        if reason_code == CreditReason.RECALCULATION:
            penalties[invoice_id].recalculated += amount
        elif reason_code == CreditReason.WAIVER:
            penalties[invoice_id].waived += amount
    return list(penalties.values())


def schedule_lines(plan: Plan, *, today: datetime.date) -> list[ScheduleLine]:
    """plans.selectors.plan_schedule with each installment's payments (its own and its penalties')."""
    lines = {row.installment.pk: ScheduleLine(row) for row in plan_schedule(plan, today=today)}
    owner: dict[int, int] = {pk: pk for pk in lines}
    penalties = Invoice.objects.filter(plan_id=plan.pk, kind=InvoiceKind.PENALTY).values_list("pk", "installment_id")
    owner.update({pk: installment_id for pk, installment_id in penalties if installment_id in lines})
    by_invoice: dict[int, list[Allocation]] = defaultdict(list)
    allocations = Allocation.objects.filter(invoice__plan_id=plan.pk).select_related("payment", "invoice", "created_by")
    for allocation in allocations.order_by("id"):
        by_invoice[allocation.invoice_id].append(allocation)
    for invoice_id, rows in by_invoice.items():
        if invoice_id in owner:
            lines[owner[invoice_id]].allocations.extend(rows)
    return list(lines.values())


def plan_figures(lines: list[ScheduleLine]) -> PlanFigures:
    rows = [line.row for line in lines]
    upcoming = [
        row.installment
        for row in rows
        if row.installment.state == InvoiceState.OPEN and row.installment.balance_due > 0
    ]
    return PlanFigures(
        paid=sum((row.paid for row in rows), ZERO),
        penalty_charged=sum((row.penalty_charged for row in rows), ZERO),
        waived=sum((row.penalty_waived for row in rows), ZERO),
        outstanding=sum((row.outstanding for row in rows), ZERO),
        overdue_installments=sum(1 for row in rows if row.overdue_days),
        oldest_unpaid=min(upcoming, key=lambda i: (i.due_date, i.pk), default=None),
    )


def plan_rules(plan: Plan) -> list[PenaltyRule]:
    rules = PenaltyRule.objects.filter(plan_id=plan.pk).select_related("created_by")
    return list(rules.order_by("effective_from", "id"))


def plan_notices(plan: Plan) -> list[Document]:
    """The installment notices issued for the plan's installments, newest first."""
    notices = Document.objects.filter(
        kind=DocumentKind.INSTALLMENT_NOTICE, account_id=plan.account_id, figures__plan__id=plan.pk
    )
    return list(notices.select_related("created_by").defer("html").order_by("-id"))
