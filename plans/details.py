"""The plan page's reads beyond plans.selectors' schedule: each penalty invoice with what
recalculations and waivers credited on it, the payments on the plan's invoices, the header
figures, the rule's versions and the notices issued."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from allocations.models import Allocation
from billing.money import format_money
from documents.models import Document, DocumentKind
from invoices.models import CreditReason, Invoice, InvoiceState
from plans.models import PenaltyRule, Plan
from plans.selectors import PlanInvoices, ScheduleRow, plan_invoices, plan_schedule

ZERO = Decimal("0.00")


@dataclass
class PenaltyRow:
    """One penalty invoice with what recalculations and waivers credited on it."""

    invoice: Invoice
    sequence: int | None  # its installment's place in the schedule
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


def plan_penalties(plan: Plan, invoices: PlanInvoices | None = None) -> list[PenaltyRow]:
    """Every penalty invoice of the plan (void ones too), by installment, period and revision
    (`invoices`: plans.selectors.plan_invoices(plan), read here when not given)."""
    invoices = invoices or plan_invoices(plan)
    sequence = {installment.pk: installment.plan_sequence for installment in invoices.installments}
    return [
        PenaltyRow(
            invoice,
            sequence.get(invoice.installment_id or 0),
            recalculated=invoices.credited(invoice, CreditReason.RECALCULATION),
            waived=invoices.credited(invoice, CreditReason.WAIVER),
        )
        for invoice in invoices.penalties
    ]


def penalty_rows_html(plan: Plan, penalties: list[PenaltyRow], *, actions: bool) -> SafeString:
    """The penalty table's rows (templates/plans/detail.html), built here rather than node by node
    in the template: a plan late for a year has dozens of penalty invoices, and rendering their
    rows was most of the plan page's time (66 rows: about 60% of a 38-62 ms page, bench/RESULTS.md).
    Every value is escaped by format_html; `actions`: the finance user's Waive links."""
    rows = []
    for penalty in penalties:
        invoice = penalty.invoice
        revision = (
            format_html(' <span class="muted">revision {}</span>', invoice.penalty_revision)
            if invoice.penalty_revision
            else ""
        )
        action = ""
        if actions:
            link = ""
            if penalty.can_waive:
                link = format_html(
                    '<a class="button" href="{}" aria-label="Waive penalty {}">Waive…</a>',
                    reverse("plans:waive", args=[plan.pk, invoice.pk]),
                    invoice,
                )
            action = format_html("<td>{}</td>", link)
        rows.append(
            format_html(
                '<tr data-id="{}"{}><td class="mono nowrap"><a href="{}">{}</a></td><td>{}</td><td>{}{}</td>'
                '<td class="nowrap">{}</td><td class="num">{}</td><td class="num">{}</td>'
                '<td class="num" data-col="waived">{}</td><td class="num">{}</td><td class="num">{}</td>{}</tr>',
                invoice.pk,
                mark_safe(' class="inactive"') if invoice.state != InvoiceState.OPEN else "",
                invoice.get_absolute_url(),
                invoice,
                "" if penalty.sequence is None else penalty.sequence,
                "" if invoice.penalty_period is None else invoice.penalty_period,
                revision,
                invoice.issue_date.isoformat() if invoice.issue_date else "",
                _money(invoice.total, plan.currency),
                _money(penalty.recalculated, plan.currency),
                _money(penalty.waived, plan.currency),
                _money(invoice.paid_total, plan.currency),
                _money(invoice.balance_due, plan.currency),
                action,
            )
        )
    return mark_safe("\n".join(rows))  # each row built by format_html above


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency).strip()  # as the |money filter shows it


def schedule_lines(plan: Plan, *, today: datetime.date, invoices: PlanInvoices | None = None) -> list[ScheduleLine]:
    """plans.selectors.plan_schedule with each installment's payments (its own and its penalties')."""
    invoices = invoices or plan_invoices(plan)
    lines = {row.installment.pk: ScheduleLine(row) for row in plan_schedule(plan, today=today, invoices=invoices)}
    known = {invoice.pk: invoice for invoice in (*invoices.installments, *invoices.penalties)}
    owner: dict[int, int] = {pk: pk for pk in lines}
    owner.update({p.pk: p.installment_id for p in invoices.penalties if p.installment_id in lines})
    allocations = Allocation.objects.filter(invoice__plan_id=plan.pk).select_related("payment", "created_by")
    for allocation in allocations.order_by("id"):
        if allocation.invoice_id in owner:
            allocation.invoice = known[allocation.invoice_id]  # read once above, not again per allocation
            lines[owner[allocation.invoice_id]].allocations.append(allocation)
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
