"""Helpers of the plan tests (also used by tests/scenarios): a plan of 10 x 100.00 with 2% a month after 5 grace days."""

from __future__ import annotations

import datetime
from decimal import Decimal

from allocations.services import allocate
from invoices.models import Invoice
from plans.models import Plan
from plans.services import create_plan
from tests.factories import make_payment

D = Decimal
UTC = datetime.UTC

TWO_PERCENT = {"kind": "percent", "rate": D("2"), "grace_days": 5, "frequency": "monthly"}


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def paid_on(text: str) -> datetime.datetime:
    """A payment's value date: noon UTC of that day."""
    return datetime.datetime.combine(day(text), datetime.time(12), tzinfo=UTC)


def installments(plan: Plan) -> list[Invoice]:
    return list(plan.installments)


def pay(plan: Plan, invoice: Invoice, amount: str, on: str, *, by=None):
    """A payment received on `on`, allocated to `invoice` (today, whatever its value date)."""
    payment = make_payment(customer=plan.customer, amount=amount, received_at=paid_on(on))
    allocate(payment, Invoice.objects.get(pk=invoice.pk), amount, by=by)
    return payment


def penalties_of(invoice: Invoice) -> list[tuple[int, datetime.date, Decimal]]:
    """(period, date, total) of the installment's penalty invoices, by period and revision."""
    return [
        (p.penalty_period, p.issue_date, p.total)
        for p in Invoice.objects.filter(installment_id=invoice.pk).order_by("penalty_period", "penalty_revision")
    ]


def make_plan(customer, provider, clerk, **overrides) -> Plan:
    terms = dict(
        customer=customer,
        provider=provider,
        currency="EUR",
        principal="1000.00",
        installments=10,
        first_due_date=day("2025-01-10"),
        issue_date=day("2025-01-01"),
        penalty=TWO_PERCENT,
        description="Sofa, 10 months",
        by=clerk,
    )
    terms.update(overrides)
    return create_plan(**terms)
