"""What an installment notice prints (DESIGN.md §10, §11), derived as of the notice date.

Nothing here is stored on the plan: "previous outstanding" in particular is computed on the
day asked, from the rows' own dates, as every "as of" balance is (DESIGN.md §5):

- an invoice (installment or penalty) counts from its issue date, a void one counts nothing;
- a credit note counts from the local day it was written;
- a payment counts from its value date (`received_at`, local day), as the penalty
  assessment counts it (plans.penalties), whenever it was allocated; a reversal row carries
  its payment's value date, so a reversed allocation nets out.

Figures for one installment k of a plan, as of D:

- amount: the installment's total less its credit notes;
- paid: what was allocated to it;
- outstanding: amount less paid;
- penalty: its penalty invoices' totals less every credit note on them (recalculations and
  waivers): charged less credited; penalty paid and penalty outstanding likewise;
- previous outstanding: what installments 1..k-1 and their penalties still owe;
- total receivable: outstanding + penalty outstanding + previous outstanding.

Amounts are strings of the Decimals (I6).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Max
from django.utils import timezone

from allocations.models import Allocation
from invoices.models import CreditNote, Invoice, InvoiceState
from ledger.models import Entry

ZERO = Decimal("0.00")


@dataclass
class Owed:
    amount: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.paid


def owed_as_of(invoices: list[Invoice], as_of: datetime.date) -> dict[int, Owed]:
    """Per invoice id: its amount (total less credit notes) and what paid it, both as of `as_of`."""
    owed = {
        invoice.pk: Owed(amount=invoice.total)
        for invoice in invoices
        if invoice.state == InvoiceState.OPEN and invoice.issue_date is not None and invoice.issue_date <= as_of
    }
    ids = list(owed)
    if not ids:
        return owed
    notes = CreditNote.objects.filter(invoice_id__in=ids).values_list("invoice_id", "amount", "created_at")
    for invoice_id, amount, created_at in notes:
        if timezone.localdate(created_at) <= as_of:
            owed[invoice_id].amount -= amount
    paid = Allocation.objects.filter(invoice_id__in=ids).values_list("invoice_id", "amount", "payment__received_at")
    for invoice_id, amount, received_at in paid:
        if timezone.localdate(received_at) <= as_of:
            owed[invoice_id].paid += amount
    return owed


def notice_figures(installment: Invoice, *, as_of: datetime.date, today: datetime.date) -> tuple[dict[str, Any], int]:
    """(figures, journal position): everything an installment notice prints, as of `as_of`."""
    plan = installment.plan
    assert plan is not None and installment.plan_sequence is not None
    sequence = installment.plan_sequence
    invoices = list(
        Invoice.objects.filter(plan_id=plan.pk).exclude(state=InvoiceState.DRAFT).select_related("installment")
    )
    owed = owed_as_of(invoices, as_of)
    # Which installment each invoice belongs to: itself, or the one a penalty is for.
    sequence_of: dict[int, int | None] = {}
    for invoice in invoices:
        if invoice.plan_sequence is not None:
            sequence_of[invoice.pk] = invoice.plan_sequence
        elif invoice.installment is not None:
            sequence_of[invoice.pk] = invoice.installment.plan_sequence
    this = owed.get(installment.pk, Owed())
    penalty = Owed()
    previous: dict[int, Owed] = defaultdict(Owed)
    penalties = []
    for invoice in sorted(invoices, key=lambda i: (i.penalty_period or 0, i.pk)):
        figure = owed.get(invoice.pk)
        if figure is None:
            continue
        belongs = sequence_of.get(invoice.pk)
        if belongs == sequence and invoice.installment_id == installment.pk:
            penalty.amount += figure.amount
            penalty.paid += figure.paid
            if figure.amount or figure.paid:
                penalties.append(
                    {
                        "number": str(invoice),
                        "period": invoice.penalty_period,
                        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else "",
                        "amount": str(figure.amount),
                        "paid": str(figure.paid),
                    }
                )
        elif belongs is not None and belongs < sequence:
            previous[belongs].amount += figure.amount
            previous[belongs].paid += figure.paid
    previous_outstanding = sum((o.outstanding for o in previous.values()), ZERO)
    total = this.outstanding + penalty.outstanding + previous_outstanding
    customer, provider = plan.customer, plan.provider
    figures = {
        "customer": {"name": customer.name, "email": customer.email, "reference": customer.reference or ""},
        "provider": {"name": provider.name, "code": provider.code},
        "currency": plan.currency,
        "as_of": as_of.isoformat(),
        "issued_on": today.isoformat(),
        "plan": {
            "id": plan.pk,
            "description": plan.description,
            "principal": str(plan.principal),
            "installments": plan.installment_count,
        },
        "installment": {
            "id": installment.pk,
            "number": str(installment),
            "sequence": sequence,
            "due_date": installment.due_date.isoformat(),
        },
        "amount": str(this.amount),
        "paid": str(this.paid),
        "outstanding": str(this.outstanding),
        "penalty": str(penalty.amount),
        "penalty_paid": str(penalty.paid),
        "penalty_outstanding": str(penalty.outstanding),
        "penalties": penalties,
        "previous": [
            {"sequence": k, "outstanding": str(previous[k].outstanding)}
            for k in sorted(previous)
            if previous[k].outstanding
        ],
        "previous_outstanding": str(previous_outstanding),
        "total_receivable": str(total),
    }
    # Payments' entries belong to the customer, not the account: the position is the customer's in the currency.
    entries = Entry.objects.filter(customer_id=plan.customer_id, currency=plan.currency)
    position = entries.aggregate(top=Max("id"))["top"] or 0
    return figures, position


# The figures a notice page compares with today's, in the order printed.
COMPARED = [
    ("amount", "Installment amount"),
    ("paid", "Paid"),
    ("penalty", "Penalty to date"),
    ("penalty_paid", "Penalty paid"),
    ("previous_outstanding", "Previous outstanding"),
    ("total_receivable", "Total receivable"),
]
