"""Plan reads for the pages, the API and the notices to come: a plan's schedule and the waivers.

Figures come from the cached invoice columns (total, credited_total, paid_total, balance_due)
and the credit notes' reason codes; nothing here writes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from invoices.models import CreditNote, CreditReason, Invoice, InvoiceKind, InvoiceState
from plans.models import PenaltyWaiver, Plan

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ScheduleRow:
    """One installment of a plan with its penalties, as the plan page shows it."""

    installment: Invoice
    amount: Decimal  # the installment's net total (less credit notes)
    paid: Decimal
    penalty_charged: Decimal  # its penalty invoices, less recalculation credits
    penalty_waived: Decimal  # waiver credit notes on its penalties
    penalty_paid: Decimal
    outstanding: Decimal  # what the installment and its penalties still ask
    overdue_days: int  # 0 unless it still owes and is past due on `today`
    future_penalties_waived: bool


@dataclass(frozen=True)
class PlanInvoices:
    """What a plan's page and schedule read of its invoices, once (four queries)."""

    installments: list[Invoice]  # in schedule order
    penalties: list[Invoice]  # every penalty invoice, void ones too, by installment, period, revision
    credits: dict[tuple[int, str], Decimal]  # (penalty invoice id, reason code) -> credited
    waived_future: set[int]  # the installments whose future penalties are waived

    def credited(self, penalty: Invoice, reason: str) -> Decimal:
        return self.credits.get((penalty.pk, reason), ZERO)


def plan_invoices(plan: Plan) -> PlanInvoices:
    installments = list(plan.installments)
    sequence = {installment.pk: installment.plan_sequence for installment in installments}

    def order(penalty: Invoice) -> tuple:  # as ORDER BY sequence, period, revision, id (NULLs last)
        keys = (sequence.get(penalty.installment_id or 0), penalty.penalty_period, penalty.penalty_revision)
        return (*((key is None, key or 0) for key in keys), penalty.pk)

    penalties = sorted(Invoice.objects.filter(plan_id=plan.pk, kind=InvoiceKind.PENALTY), key=order)
    credits = {
        (invoice_id, reason_code): amount
        for invoice_id, reason_code, amount in CreditNote.objects.filter(
            invoice__plan_id=plan.pk, invoice__kind=InvoiceKind.PENALTY
        )
        .values("invoice_id", "reason_code")
        .annotate(s=Sum("amount"))
        .values_list("invoice_id", "reason_code", "s")
    }
    waived_future = set(
        PenaltyWaiver.objects.filter(installment__plan_id=plan.pk).values_list("installment_id", flat=True)
    )
    return PlanInvoices(installments, penalties, credits, waived_future)


def plan_schedule(plan: Plan, *, today: datetime.date, invoices: PlanInvoices | None = None) -> list[ScheduleRow]:
    """The plan's installments in order, each with its penalties' figures (`invoices`: plan_invoices(plan),
    read here when not given)."""
    invoices = invoices or plan_invoices(plan)
    own: dict[int, list[Invoice]] = {}
    for penalty in invoices.penalties:
        if penalty.state != InvoiceState.VOID and penalty.installment_id is not None:
            own.setdefault(penalty.installment_id, []).append(penalty)
    rows = []
    for installment in invoices.installments:
        penalties = own.get(installment.pk, [])
        charged = sum((p.total - invoices.credited(p, CreditReason.RECALCULATION) for p in penalties), ZERO)
        waived = sum((invoices.credited(p, CreditReason.WAIVER) for p in penalties), ZERO)
        outstanding = installment.balance_due + sum((p.balance_due for p in penalties), ZERO)
        late = installment.is_overdue(today)
        rows.append(
            ScheduleRow(
                installment=installment,
                amount=installment.net_total,
                paid=installment.paid_total,
                penalty_charged=charged,
                penalty_waived=waived,
                penalty_paid=sum((p.paid_total for p in penalties), ZERO),
                outstanding=outstanding,
                overdue_days=(today - installment.due_date).days if late else 0,
                future_penalties_waived=installment.pk in invoices.waived_future,
            )
        )
    return rows


def previous_outstanding(installment: Invoice) -> Decimal:
    """What the plan's earlier installments and all their penalties still ask now (DESIGN.md
    section 10: derived, never stored). As of a past date is the notices' work (documents)."""
    assert installment.plan_id is not None and installment.plan_sequence is not None
    earlier = Q(plan_sequence__lt=installment.plan_sequence) | Q(
        installment__plan_sequence__lt=installment.plan_sequence
    )
    total = (
        Invoice.objects.filter(earlier, plan_id=installment.plan_id, state=InvoiceState.OPEN)
        .aggregate(s=Sum("balance_due"))
        .get("s")
    )
    return total or ZERO


def waivers(*, customer_id: int | None = None, plan_id: int | None = None) -> QuerySet[CreditNote]:
    """The waiver credit notes on penalties (the waiver report's charged-penalty rows), newest first,
    with the penalty, its installment, plan and customer."""
    notes = CreditNote.objects.filter(reason_code=CreditReason.WAIVER, invoice__kind=InvoiceKind.PENALTY)
    if customer_id is not None:
        notes = notes.filter(invoice__customer_id=customer_id)
    if plan_id is not None:
        notes = notes.filter(invoice__plan_id=plan_id)
    return notes.select_related("invoice__installment", "invoice__plan", "invoice__customer", "created_by").order_by(
        "-created_at", "-id"
    )


def future_waivers(*, customer_id: int | None = None, plan_id: int | None = None) -> QuerySet[PenaltyWaiver]:
    """The waivers of penalties not yet charged (the report's other rows), newest first."""
    rows = PenaltyWaiver.objects.all()
    if customer_id is not None:
        rows = rows.filter(installment__customer_id=customer_id)
    if plan_id is not None:
        rows = rows.filter(installment__plan_id=plan_id)
    return rows.select_related("installment__plan", "installment__customer", "created_by").order_by(
        "-created_at", "-id"
    )
