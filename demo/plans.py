"""Demo installment plans (issue 13): late payments, penalties assessed, a waiver, a rule change,
a waiver of future penalties and a notice, only through the services.

Seeded after the orders (demo.books.build), in one transaction in the main process, dated
back from today so the assessment of today finds the same lateness on any day. Like the
rest of the demo it is deterministic (the same books for the same customers) and its
payments carry references (DEMO-PLAN-001...), which record_payment treats as idempotent; a
second run over books that already have the demo plans adds nothing.

Plans are in euros, for customers whose books are in euros (the first ones if none).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from allocations.services import allocate
from billing.models import Customer, Provider
from documents.services import issue_installment_notice
from invoices.models import Invoice, InvoiceKind
from payments.models import Payment
from payments.services import record_payment
from plans.models import Plan
from plans.penalties import add_months
from plans.services import (
    assess_penalties,
    change_penalty_rule,
    create_plan,
    waive_future_penalties,
    waive_penalty,
)

D = Decimal
CURRENCY = "EUR"
DESCRIPTION_PREFIX = "Demo plan: "


class PlanBooks:
    """The demo's plans; `events` counts what was done, as demo.books.Counts does."""

    def __init__(self, customers: list[Customer], providers: list[Provider]) -> None:
        euro = [c for c in customers if not Invoice.objects.filter(customer=c).exclude(currency=CURRENCY).exists()]
        self.customers = (euro or customers)[::-1]  # from the last: the orders took the first ones
        self.providers = sorted(providers, key=lambda p: p.code)
        self.today = timezone.localdate()
        self.turn = 0
        self.references = 0
        self.events: dict[str, int] = {}
        self.invoices = 0
        self.payments = 0

    def note(self, event: str, times: int = 1) -> None:
        self.events[event] = self.events.get(event, 0) + times

    def months_ago(self, months: int, day: int = 10) -> datetime.date:
        first = add_months(self.today.replace(day=1), -months)
        return first.replace(day=min(day, 28))

    def plan(self, description: str, **terms) -> Plan:
        customer = self.customers[self.turn % len(self.customers)]
        provider = self.providers[self.turn % len(self.providers)]
        self.turn += 1
        plan = create_plan(
            customer=customer,
            provider=provider,
            currency=CURRENCY,
            description=DESCRIPTION_PREFIX + description,
            by=None,
            **terms,
        )
        self.invoices += plan.installment_count
        self.note("plan made")
        return plan

    def pay(self, plan: Plan, sequence: int, amount: str | None = None, *, on: datetime.date) -> Payment:
        """A payment received on `on` (its value date), allocated to installment `sequence`."""
        installment = Invoice.objects.get(plan=plan, plan_sequence=sequence)
        value = installment.balance_due if amount is None else D(amount)
        self.references += 1
        self.payments += 1
        payment = record_payment(
            customer=Customer.objects.get(pk=plan.customer_id),
            amount=value,
            currency=CURRENCY,
            method="bank_transfer",
            reference=f"DEMO-PLAN-{self.references:03d}",
            received_at=timezone.make_aware(datetime.datetime.combine(on, datetime.time(11))),
            by=None,
        )
        allocate(payment, installment, value, note=f"Installment {sequence} of plan {plan.pk}", by=None)
        return payment

    # The worked examples.

    def sofa_paid_late(self) -> Plan:
        """10 x 120.00, 2% a month of the overdue balance after 5 grace days: the first paid on time,
        the second 20 days late, half of the third, the rest not; one penalty waived; a notice."""
        start = self.months_ago(7, day=1)
        plan = self.plan(
            "sofa, 10 months",
            principal="1200.00",
            installments=10,
            issue_date=start,
            first_due_date=start + datetime.timedelta(days=9),
            penalty={"kind": "percent", "rate": D("2"), "grace_days": 5, "frequency": "monthly"},
        )
        due = [i.due_date for i in plan.installments]
        self.pay(plan, 1, on=due[0] - datetime.timedelta(days=2))
        self.pay(plan, 2, on=due[1] + datetime.timedelta(days=20))
        self.pay(plan, 3, "60.00", on=due[2] + datetime.timedelta(days=3))
        self.note("installment paid late", 2)
        return plan

    def laptop_rule_changed(self) -> Plan:
        """6 x 200.00, a fixed 15.00 once after 3 grace days, changed three months in to 1.5% a month;
        future penalties of one installment waived (hardship)."""
        start = self.months_ago(6, day=5)
        plan = self.plan(
            "laptop, 6 months",
            principal="1200.00",
            installments=6,
            issue_date=start,
            first_due_date=start + datetime.timedelta(days=10),
            penalty={"kind": "fixed", "amount": D("15.00"), "grace_days": 3, "frequency": "once"},
        )
        change_penalty_rule(
            plan,
            effective_from=add_months(start, 3),
            kind="percent",
            rate=D("1.5"),
            grace_days=3,
            frequency="monthly",
            cap=D("40.00"),
            by=None,
        )
        self.note("penalty rule changed")
        due = [i.due_date for i in plan.installments]
        self.pay(plan, 1, on=due[0] + datetime.timedelta(days=12))
        self.pay(plan, 2, on=due[1])
        self.note("installment paid late")
        installment = Invoice.objects.get(plan=plan, plan_sequence=4)
        waive_future_penalties(installment, by=None, reason="Hardship: customer in hospital, agreed by phone")
        self.note("future penalties waived")
        return plan

    def paid_off(self) -> Plan:
        start = self.months_ago(4, day=3)
        plan = self.plan(
            "bicycle, 3 months",
            principal="450.00",
            installments=3,
            issue_date=start,
            first_due_date=start + datetime.timedelta(days=7),
            penalty={"kind": "fixed", "amount": D("10.00"), "grace_days": 7, "frequency": "once"},
        )
        for sequence, installment in enumerate(plan.installments, start=1):
            self.pay(plan, sequence, on=installment.due_date - datetime.timedelta(days=1))
        self.note("plan paid off")
        return plan

    def not_yet_due(self) -> Plan:
        plan = self.plan(
            "washing machine, every 2 months",
            principal="800.00",
            installments=4,
            every_months=2,
            issue_date=self.today,
            first_due_date=self.today + datetime.timedelta(days=20),
            penalty={"kind": "percent", "rate": D("1"), "grace_days": 10, "frequency": "monthly"},
        )
        return plan

    def run(self) -> None:
        sofa = self.sofa_paid_late()
        laptop = self.laptop_rule_changed()
        self.paid_off()
        self.not_yet_due()
        documents = assess_penalties(by=None)
        charged = [d for d in documents if isinstance(d, Invoice)]
        self.invoices += len(charged)
        self.note("penalty charged", len(charged))
        first_penalty = Invoice.objects.filter(plan=sofa, kind=InvoiceKind.PENALTY).order_by("issue_date", "id").first()
        if first_penalty is not None:
            waive_penalty(first_penalty, by=None, reason="Goodwill: first time late, customer called in advance")
            self.note("penalty waived")
        for plan in (sofa, laptop):
            late = Invoice.objects.filter(plan=plan, plan_sequence__isnull=False, balance_due__gt=0).order_by(
                "plan_sequence"
            )
            installment = late.filter(due_date__lt=self.today).last() or late.first()
            if installment is not None:
                issue_installment_notice(installment, by=None)
                self.note("installment notice issued")


def seed_plans(customers: list[Customer], providers: list[Provider]) -> PlanBooks:
    """Seed the demo plans in one transaction; returns what was done (nothing when they exist)."""
    books = PlanBooks(customers, providers)
    if not books.customers or Plan.objects.filter(description__startswith=DESCRIPTION_PREFIX).exists():
        return books
    with transaction.atomic():
        books.run()
    return books
