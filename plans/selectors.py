"""Plan reads shared by the plan list, its CSV export, the plan page and the waiver report.

The list is `plan_list(filters=...)` with `plan_totals(filters=...)`, both through PlanFilter.
A plan keeps no money figure of its own (DESIGN.md section 10: what it owes lives on its
invoices), so a listed plan's outstanding is a subquery over its invoices (invoice_plan_idx),
computed for the rows of the page, the totals and the export alike.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from allocations.models import Allocation
from billing.listing import Totals, as_query, currency_totals, validated
from documents.models import Document, DocumentKind
from invoices.models import CreditNote, CreditReason, Invoice, InvoiceKind, InvoiceState
from plans.filters import PLAN_ORDERING, PlanFilter, WaiverFilter, overdue_invoices
from plans.models import PenaltyRule, PenaltyWaiver, Plan

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)

Filters = Mapping[str, Any] | PlanFilter


def _owing() -> Subquery:
    """What the plan's open invoices (installments and penalties) still owe."""
    owed = (
        Invoice.objects.filter(plan_id=OuterRef("pk"), state=InvoiceState.OPEN)
        .order_by()
        .values("plan_id")
        .annotate(s=Sum("balance_due"))
        .values("s")
    )
    return Subquery(owed, output_field=MONEY)


def all_plans() -> QuerySet[Plan]:
    return Plan.objects.select_related("customer", "provider").annotate(
        outstanding=Coalesce(_owing(), Value(ZERO), output_field=MONEY),
        is_overdue=overdue_invoices(),
    )


def plan_filter(filters: Filters) -> PlanFilter:
    """PlanFilter bound to `filters` (request.GET or a dict) and validated (InvalidInput otherwise)."""
    if isinstance(filters, PlanFilter):
        return validated(filters)
    return validated(PlanFilter(as_query(filters), queryset=all_plans()))


def plan_list(*, filters: Filters) -> QuerySet[Plan]:
    """The plans the filters select, newest first, with `outstanding` and `is_overdue`.

    Filters are PlanFilter's: customer, provider, currency, state, overdue (yes/no)."""
    return plan_filter(filters).qs.order_by(*PLAN_ORDERING.order_by())


def plan_totals(*, filters: Filters) -> Totals:
    """Count, principal and outstanding per currency of what plan_list(filters) lists."""
    filterset = plan_filter(filters)
    return currency_totals(filterset.qs, filterset.data, principal="principal", outstanding="outstanding")


def customer_plans(customer_id: int, limit: int = 20) -> list[Plan]:
    return list(all_plans().filter(customer_id=customer_id).order_by("-id")[:limit])


# --- The plan page ----------------------------------------------------------------------------


@dataclass
class PenaltyRow:
    """One penalty invoice with what recalculations and waivers credited on it."""

    invoice: Invoice
    recalculated: Decimal = ZERO
    waived: Decimal = ZERO

    @property
    def charged(self) -> Decimal:
        """What the assessment counts as charged: the total less recalculations (void: nothing)."""
        return ZERO if self.invoice.state == InvoiceState.VOID else self.invoice.total - self.recalculated

    @property
    def can_waive(self) -> bool:
        return self.invoice.state == InvoiceState.OPEN and self.invoice.total > self.invoice.credited_total

    @property
    def left_to_waive(self) -> Decimal:
        return self.invoice.total - self.invoice.credited_total if self.can_waive else ZERO


@dataclass
class ScheduleRow:
    installment: Invoice
    penalties: list[PenaltyRow] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    future_waiver: PenaltyWaiver | None = None
    today: datetime.date = field(default_factory=timezone.localdate)

    @property
    def amount(self) -> Decimal:
        return ZERO if self.installment.state == InvoiceState.VOID else self.installment.net_total

    @property
    def paid(self) -> Decimal:
        return self.installment.paid_total

    @property
    def penalty_charged(self) -> Decimal:
        return sum((p.charged for p in self.penalties), ZERO)

    @property
    def waived(self) -> Decimal:
        return sum((p.waived for p in self.penalties), ZERO)

    @property
    def outstanding(self) -> Decimal:
        """What the installment and its penalties still owe."""
        invoices = [self.installment, *(p.invoice for p in self.penalties)]
        return sum((i.balance_due for i in invoices if i.state == InvoiceState.OPEN), ZERO)

    @property
    def overdue_days(self) -> int:
        """Days the installment itself is past due while it still owes (0: not overdue)."""
        if not self.installment.is_overdue(self.today):
            return 0
        return (self.today - self.installment.due_date).days

    @property
    def can_notice(self) -> bool:
        return self.installment.state == InvoiceState.OPEN


@dataclass
class PlanFigures:
    principal: Decimal
    paid: Decimal
    penalty_charged: Decimal
    waived: Decimal
    outstanding: Decimal
    overdue_installments: int
    next_due: Invoice | None


def plan_schedule(plan: Plan, *, today: datetime.date | None = None) -> list[ScheduleRow]:
    """Every installment in order with its penalties, its payments and its waiver: five queries."""
    today = today or timezone.localdate()
    invoices = list(Invoice.objects.filter(plan_id=plan.pk).order_by("plan_sequence", "penalty_period", "id"))
    rows = {i.pk: ScheduleRow(i, today=today) for i in invoices if i.kind == InvoiceKind.INSTALLMENT}
    penalties: dict[int, PenaltyRow] = {}
    for invoice in invoices:
        if invoice.installment_id in rows:
            penalties[invoice.pk] = PenaltyRow(invoice)
            rows[invoice.installment_id].penalties.append(penalties[invoice.pk])
    notes = CreditNote.objects.filter(invoice_id__in=list(penalties)).values_list("invoice_id", "reason_code", "amount")
    for invoice_id, reason_code, amount in notes:
        if reason_code == CreditReason.RECALCULATION:
            penalties[invoice_id].recalculated += amount
        elif reason_code == CreditReason.WAIVER:
            penalties[invoice_id].waived += amount
    owner = dict(rows)
    for pk, penalty in penalties.items():
        assert penalty.invoice.installment_id is not None  # a penalty names its installment
        owner[pk] = rows[penalty.invoice.installment_id]
    allocations = Allocation.objects.filter(invoice_id__in=list(owner)).select_related(
        "payment", "invoice", "created_by"
    )
    for allocation in allocations.order_by("id"):
        owner[allocation.invoice_id].allocations.append(allocation)
    for waiver in PenaltyWaiver.objects.filter(installment_id__in=list(rows)).select_related("created_by"):
        rows[waiver.installment_id].future_waiver = waiver
    return list(rows.values())


def plan_figures(schedule: list[ScheduleRow]) -> PlanFigures:
    principal = sum((row.amount for row in schedule), ZERO)
    upcoming = [
        row.installment
        for row in schedule
        if row.installment.state == InvoiceState.OPEN and row.installment.balance_due > 0
    ]
    return PlanFigures(
        principal=principal,
        paid=sum((row.paid for row in schedule), ZERO),
        penalty_charged=sum((row.penalty_charged for row in schedule), ZERO),
        waived=sum((row.waived for row in schedule), ZERO),
        outstanding=sum((row.outstanding for row in schedule), ZERO),
        overdue_installments=sum(1 for row in schedule if row.overdue_days),
        next_due=min(upcoming, key=lambda i: (i.due_date, i.pk), default=None),
    )


def plan_rules(plan: Plan) -> list[PenaltyRule]:
    return list(
        PenaltyRule.objects.filter(plan_id=plan.pk).select_related("created_by").order_by("effective_from", "id")
    )


def plan_notices(plan: Plan) -> list[Document]:
    """The installment notices issued for the plan's installments, newest first."""
    return list(
        Document.objects.filter(
            kind=DocumentKind.INSTALLMENT_NOTICE, account_id=plan.account_id, figures__plan__id=plan.pk
        )
        .select_related("created_by")
        .defer("html")
        .order_by("-id")
    )


# --- The waiver report ----------------------------------------------------------------------------


@dataclass
class WaiverRow:
    """One waiver: a credit note `waiver` on a penalty, or future penalties of an installment waived."""

    kind: str  # "charged" | "future"
    plan: Plan
    installment: Invoice
    penalty: Invoice | None
    penalty_charged: Decimal  # every penalty charged on the installment (less recalculations)
    waived: Decimal | None  # None: penalties not yet charged, no amount
    by: str
    at: datetime.datetime
    reason: str
    currency: str

    @property
    def kind_label(self) -> str:
        return "Charged penalty waived" if self.kind == "charged" else "Future penalties waived"


def waiver_filter(filters: Mapping[str, Any] | WaiverFilter) -> WaiverFilter:
    if isinstance(filters, WaiverFilter):
        return validated(filters)
    return validated(WaiverFilter(as_query(filters), queryset=Plan.objects.all()))


def _day_range(queryset: QuerySet, data: Mapping[str, Any]) -> QuerySet:
    if data.get("waived_from"):
        start = timezone.make_aware(datetime.datetime.combine(data["waived_from"], datetime.time()))
        queryset = queryset.filter(created_at__gte=start)
    if data.get("waived_to"):
        end = timezone.make_aware(
            datetime.datetime.combine(data["waived_to"] + datetime.timedelta(days=1), datetime.time())
        )
        queryset = queryset.filter(created_at__lt=end)
    return queryset


def waiver_rows(*, filters: Mapping[str, Any] | WaiverFilter) -> list[WaiverRow]:
    """Every waiver of the plans the filters select, newest first (customer, provider, waived from/to)."""
    filterset = waiver_filter(filters)
    plans = filterset.qs.values("pk")
    data = filterset.form.cleaned_data
    notes = _day_range(
        CreditNote.objects.filter(
            reason_code=CreditReason.WAIVER, invoice__kind=InvoiceKind.PENALTY, invoice__plan_id__in=plans
        ),
        data,
    ).select_related("created_by", "invoice__installment", "invoice__plan__customer", "invoice__plan__provider")
    futures = _day_range(PenaltyWaiver.objects.filter(installment__plan_id__in=plans), data).select_related(
        "created_by", "installment__plan__customer", "installment__plan__provider"
    )
    notes_found, futures_found = list(notes), list(futures)
    installment_ids = {n.invoice.installment_id for n in notes_found if n.invoice.installment_id is not None} | {
        w.installment_id for w in futures_found
    }
    charged = _charged_per_installment(installment_ids)
    rows = [
        WaiverRow(
            "charged",
            note.invoice.plan,
            note.invoice.installment,
            note.invoice,
            charged.get(note.invoice.installment_id, ZERO),
            note.amount,
            _who(note.created_by),
            note.created_at,
            note.reason,
            note.invoice.currency,
        )
        for note in notes_found
    ] + [
        WaiverRow(
            "future",
            waiver.installment.plan,
            waiver.installment,
            None,
            charged.get(waiver.installment_id, ZERO),
            None,
            _who(waiver.created_by),
            waiver.created_at,
            waiver.reason,
            waiver.installment.currency,
        )
        for waiver in futures_found
    ]
    return sorted(rows, key=lambda row: row.at, reverse=True)


def _who(user) -> str:
    return user.get_username() if user is not None else "system"


def _charged_per_installment(installment_ids: set[int]) -> dict[int, Decimal]:
    """Per installment: its penalty invoices' totals less recalculation credit notes (void ones: nothing)."""
    charged: dict[int, Decimal] = {}
    penalties = Invoice.objects.filter(installment_id__in=installment_ids).exclude(state=InvoiceState.VOID)
    for installment_id, total in penalties.values_list("installment_id", "total"):
        if installment_id is not None:
            charged[installment_id] = charged.get(installment_id, ZERO) + total
    recalculated = CreditNote.objects.filter(
        invoice__installment_id__in=installment_ids, reason_code=CreditReason.RECALCULATION
    ).exclude(invoice__state=InvoiceState.VOID)
    for recalculated_id, amount in recalculated.values_list("invoice__installment_id", "amount"):
        if recalculated_id is not None:
            charged[recalculated_id] -= amount
    return charged
