"""The plan list and the waiver report: the reads their pages, CSV exports and the benchmark share.

The list is `plan_list(filters=...)` with `plan_totals(filters=...)`, both through PlanFilter.
A listed plan's outstanding and overdue flag are its kept balance_due and oldest_due_date
(ledger.plans keeps them with its state, from its invoices, as an account's); the totals by
state, currency and overdue come from the trigger-kept PlanQueueTotal.

The waiver report is `waiver_rows(filters=...)`: plans.selectors' two kinds of waivers (credit
notes `waiver` on penalties, and waivers of penalties not yet charged) narrowed by WaiverFilter.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Case, F, QuerySet, When
from django.utils import timezone

from billing.kept_totals import kept_totals
from billing.listing import Totals, as_query, currency_totals, only_filtered_by, validated
from billing.models import Customer, Provider
from invoices.models import CreditNote, CreditReason, Invoice, InvoiceState
from plans.filters import PLAN_ORDERING, PlanFilter, WaiverFilter, overdue_plans
from plans.models import PLAN_QUEUE_FIGURES, Plan
from plans.selectors import future_waivers, waivers

ZERO = Decimal("0.00")
Filters = Mapping[str, Any] | PlanFilter


def all_plans() -> QuerySet[Plan]:
    return Plan.objects.select_related("customer", "provider").annotate(
        outstanding=F("balance_due"),
        is_overdue=Case(When(overdue_plans(), then=True), default=False, output_field=BooleanField()),
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


KEPT_FILTERS = {"state", "currency", "overdue"}


def plan_totals(*, filters: Filters) -> Totals:
    """Count, principal and outstanding per currency of what plan_list(filters) lists.

    From the trigger-kept PlanQueueTotal when the filters are ones it is kept by (state,
    currency, overdue): a few ms however many plans match. Else (a customer, a provider) one
    aggregate over the filtered plans, reused while the clerk pages through the same set."""
    filterset = plan_filter(filters)
    data = filterset.form.cleaned_data
    if only_filtered_by(data, KEPT_FILTERS):
        conditions: list[str] = []
        params: dict[str, object] = {}
        for name in ("state", "currency"):
            if data.get(name):
                conditions.append(f"{name} = %({name})s")
                params[name] = data[name]
        if data.get("overdue"):
            params["today"] = timezone.localdate()
            overdue = "oldest_due_date < %(today)s"
            conditions.append(overdue if data["overdue"] == "yes" else f"NOT COALESCE({overdue}, false)")
        return kept_totals(PLAN_QUEUE_FIGURES, conditions=conditions, params=params)
    return currency_totals(filterset.qs.order_by(), filterset.data, principal="principal", balance_due="balance_due")


# --- The waiver report ----------------------------------------------------------------------------


@dataclass
class WaiverRow:
    """One waiver: a credit note `waiver` on a penalty, or future penalties of an installment waived."""

    kind: str  # "charged" | "future"
    customer: Customer
    provider: Provider
    plan_id: int
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
    """Rows written from the first local day to the last one, inclusive."""
    if data.get("waived_from"):
        start = datetime.datetime.combine(data["waived_from"], datetime.time())
        queryset = queryset.filter(created_at__gte=timezone.make_aware(start))
    if data.get("waived_to"):
        end = datetime.datetime.combine(data["waived_to"] + datetime.timedelta(days=1), datetime.time())
        queryset = queryset.filter(created_at__lt=timezone.make_aware(end))
    return queryset


def waiver_rows(*, filters: Mapping[str, Any] | WaiverFilter) -> list[WaiverRow]:
    """Every waiver of the plans the filters select, newest first (customer, provider, waived from/to)."""
    filterset = waiver_filter(filters)
    plans = filterset.qs.values("pk")
    data = filterset.form.cleaned_data
    notes = list(
        _day_range(waivers().filter(invoice__plan_id__in=plans), data).select_related(
            "invoice__provider", "invoice__installment"
        )
    )
    futures = list(
        _day_range(future_waivers().filter(installment__plan_id__in=plans), data).select_related(
            "installment__provider"
        )
    )
    installment_ids = {n.invoice.installment_id for n in notes if n.invoice.installment_id is not None}
    charged = _charged_per_installment(installment_ids | {w.installment_id for w in futures})
    rows = []
    for note in notes:
        penalty = note.invoice
        assert penalty.installment is not None and penalty.plan_id is not None
        rows.append(
            WaiverRow(
                "charged",
                penalty.customer,
                penalty.provider,
                penalty.plan_id,
                penalty.installment,
                penalty,
                charged.get(penalty.installment.pk, ZERO),
                note.amount,
                _who(note.created_by),
                note.created_at,
                note.reason,
                penalty.currency,
            )
        )
    for waiver in futures:
        installment = waiver.installment
        assert installment.plan_id is not None
        rows.append(
            WaiverRow(
                "future",
                installment.customer,
                installment.provider,
                installment.plan_id,
                installment,
                None,
                charged.get(installment.pk, ZERO),
                None,
                _who(waiver.created_by),
                waiver.created_at,
                waiver.reason,
                installment.currency,
            )
        )
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
