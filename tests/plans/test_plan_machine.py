"""Stateful property test of plans (I11): plans, payments with random value dates allocated to
random installments, rule changes, assessments on random increasing days, waivers.

The penalty rule is written again here, plainly, from DESIGN.md section 10 and the
docstring of plans.penalties (not by calling it): `expected_charges`. The machine keeps its
own book of every penalty invoice (period, revision, what it charged, what recalculation and
waiver credit notes took off) and updates it at each assessment by the rule's difference: a
period charged less than it should cost gets an invoice for the difference (revision 0, 1,
...; none once future penalties are waived); a period charged more is credited the excess,
newest revision first, at most what is left to credit on each. After every step the
database's penalty invoices and credit notes equal that book, and tests/invariants.py finds
nothing.
"""

from __future__ import annotations

import calendar
import datetime
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from allocations.models import Allocation
from allocations.services import allocate, auto_allocate, deallocate
from billing.errors import InvalidInput, InvalidState
from invoices.models import Invoice
from payments.models import Payment, PaymentState
from payments.services import correct_payment
from plans import assessment
from plans.services import assess_penalties, change_penalty_rule, create_plan, waive_future_penalties, waive_penalty
from tests.factories import CustomerFactory, ProviderFactory, UserFactory, make_payment
from tests.invariants import violations

D = Decimal
START = datetime.date(2025, 1, 1)
LAST_DAY = datetime.date(2026, 11, 30)  # every assessment and value date is before the tests' today

RULES = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("percent"),
            "rate": st.sampled_from([D("1"), D("2"), D("2.5"), D("10")]),
            "grace_days": st.integers(0, 20),
            "frequency": st.sampled_from(["monthly", "monthly", "once"]),
            "cap": st.sampled_from([None, None, D("5.00"), D("12.00")]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("fixed"),
            "amount": st.sampled_from([D("3.00"), D("10.00")]),
            "grace_days": st.integers(0, 20),
            "frequency": st.sampled_from(["monthly", "once"]),
            "cap": st.sampled_from([None, D("25.00")]),
        }
    ),
)


@dataclass(frozen=True)
class Version:
    effective_from: datetime.date
    rule: dict


@dataclass
class Booked:
    """One penalty period in the machine's book: its invoice's total and the credits on it."""

    total: Decimal
    recalculated: Decimal = D("0.00")
    waived: Decimal = D("0.00")


@dataclass
class PlanModel:
    pk: int
    versions: list[Version]
    installments: list[int] = field(default_factory=list)


def month_later(day: datetime.date, months: int) -> datetime.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def version_on(versions: list[Version], day: datetime.date) -> Version | None:
    dated = [v for v in versions if v.effective_from <= day]
    return max(dated, key=lambda v: v.effective_from) if dated else None


def expected_charges(
    amount: Decimal, due: datetime.date, paid: list[tuple[datetime.date, Decimal]], versions: list[Version], as_of
) -> dict[int, Decimal]:
    """What each period due by as_of should cost, from DESIGN.md section 10 written plainly."""
    if not versions:
        return {}
    schedule = version_on(versions, due) or min(versions, key=lambda v: v.effective_from)
    end_of_grace = due + datetime.timedelta(days=schedule.rule["grace_days"])
    if schedule.rule["frequency"] == "once":
        dates = [(1, end_of_grace + datetime.timedelta(days=1))]
    else:
        dates = [(k, month_later(end_of_grace, k)) for k in range(1, 40)]
    charges: dict[int, Decimal] = {}
    so_far = D("0.00")
    for k, day in dates:
        if day > as_of:
            break
        owed = amount - sum((value for value_date, value in paid if value_date < day), D("0.00"))
        version = version_on(versions, day)
        cost = D("0.00")
        if version is not None and owed > 0:
            rule = version.rule
            if rule["kind"] == "percent":
                cost = (owed * rule["rate"] / 100).quantize(D("0.01"), rounding=ROUND_HALF_UP)
            else:
                cost = rule["amount"]
            if rule["cap"] is not None and so_far + cost > rule["cap"]:
                cost = max(D("0.00"), rule["cap"] - so_far)
        so_far += cost
        charges[k] = cost
    return charges


# Every penalty invoice with what recalculation and waiver credit notes took off it.
BOOK_SQL = """
    SELECT i.installment_id, i.penalty_period, i.penalty_revision, i.total,
           COALESCE(SUM(c.amount) FILTER (WHERE c.reason_code = 'recalculation'), 0),
           COALESCE(SUM(c.amount) FILTER (WHERE c.reason_code = 'waiver'), 0)
    FROM invoices_invoice i LEFT JOIN invoices_creditnote c ON c.invoice_id = i.id
    WHERE i.kind = 'penalty' GROUP BY i.id
"""
COUNTS: Counter[str] = Counter()


class PlanMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.clerk = UserFactory()
        self.customer = CustomerFactory()
        self.provider = ProviderFactory()
        self.plans: list[PlanModel] = []
        self.book: dict[tuple[int, int, int], Booked] = {}  # (installment id, period, revision) -> its invoice
        self.waived_future: set[int] = set()
        self.day = START  # the last assessment's day
        # Every run after the first looks only at what changed since the previous one started:
        # without the margin for slow clerks' transactions, so the machine sees it skip.
        self._margin = assessment.SINCE_MARGIN
        assessment.SINCE_MARGIN = datetime.timedelta(0)

    def teardown(self) -> None:
        assessment.SINCE_MARGIN = self._margin
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- helpers ------------------------------------------------------------------------------

    def installment_ids(self) -> list[int]:
        return [pk for plan in self.plans for pk in plan.installments]

    def paid(self, installment_id: int) -> list[tuple[datetime.date, Decimal]]:
        """The installment's allocation rows at their payments' value dates, read plainly."""
        return [
            (row.payment.received_at.date(), row.amount)
            for row in Allocation.objects.filter(invoice_id=installment_id).select_related("payment")
        ]

    # --- rules ----------------------------------------------------------------------------------

    @precondition(lambda self: len(self.plans) < 3)
    @rule(
        count=st.integers(1, 5),
        principal=st.sampled_from(["100.00", "250.00", "999.99", "1000.00"]),
        first_due=st.integers(0, 200),
        every=st.sampled_from([1, 1, 2]),
        penalty=RULES,
    )
    def new_plan(self, count, principal, first_due, every, penalty):
        plan = create_plan(
            customer=self.customer,
            provider=self.provider,
            currency="EUR",
            principal=principal,
            installments=count,
            first_due_date=START + datetime.timedelta(days=first_due),
            every_months=every,
            issue_date=START,
            penalty=penalty,
            by=self.clerk,
        )
        ids = list(plan.installments.values_list("pk", flat=True))
        assert sum(Invoice.objects.filter(pk__in=ids).values_list("total", flat=True)) == D(principal)
        self.plans.append(PlanModel(plan.pk, [Version(START, dict(penalty))], ids))

    @precondition(lambda self: self.plans)
    @rule(
        index=st.integers(0, 100),
        share=st.sampled_from(["all", "half", "10"]),
        value_day=st.integers(0, (LAST_DAY - START).days),
    )
    def pay_an_installment(self, index, share, value_day):
        ids = self.installment_ids()
        installment = Invoice.objects.get(pk=ids[index % len(ids)])
        left = installment.balance_due
        if left <= 0:
            return
        amount = {"all": left, "half": (left / 2).quantize(D("0.01")), "10": min(left, D("10.00"))}[share]
        if amount <= 0:
            return
        received = datetime.datetime.combine(START + datetime.timedelta(days=value_day), datetime.time(9))
        payment = make_payment(customer=self.customer, amount=amount, received_at=received.replace(tzinfo=datetime.UTC))
        allocate(payment, installment, amount, by=self.clerk)

    @precondition(lambda self: self.plans)
    @rule(index=st.integers(0, 1000))
    def take_a_payment_back(self, index):
        """A payment taken off an installment (it was meant for something else): the periods
        it covered come to more, and the next assessment charges the difference."""
        pairs = sorted(
            Allocation.objects.filter(invoice_id__in=self.installment_ids())
            .values_list("payment_id", "invoice_id")
            .annotate(net=Sum("amount"))
            .filter(net__gt=0)
            .values_list("payment_id", "invoice_id")
        )
        if not pairs:
            return
        payment_id, invoice_id = pairs[index % len(pairs)]
        deallocate(
            Payment.objects.get(pk=payment_id), Invoice.objects.get(pk=invoice_id), by=self.clerk, reason="Misapplied"
        )
        COUNTS["taken back"] += 1

    @precondition(lambda self: self.plans)
    @rule(index=st.integers(0, 1000), value_day=st.integers(0, (LAST_DAY - START).days), smaller=st.booleans())
    def correct_a_payment(self, index, value_day, smaller):
        """The bank says a payment on the plan came another day (or was less): correct_payment
        replaces it, its allocations move to the replacement where they fit, and the next
        assessment charges or credits the difference (DESIGN.md section 10)."""
        ids = Allocation.objects.filter(invoice_id__in=self.installment_ids()).values_list("payment_id", flat=True)
        payments = list(
            Payment.objects.filter(
                pk__in=ids, state=PaymentState.SETTLED, corrected_by__isnull=True, refunded_total=0
            ).order_by("pk")
        )
        if not payments:
            return
        payment = payments[index % len(payments)]
        received = datetime.datetime.combine(START + datetime.timedelta(days=value_day), datetime.time(9))
        amount = (payment.amount / 2).quantize(D("0.01")) if smaller and payment.amount >= D("0.02") else None
        try:
            correct_payment(
                payment,
                amount=amount,
                received_at=received.replace(tzinfo=datetime.UTC),
                by=self.clerk,
                reason="The bank's value date",
            )
        except InvalidInput:  # the same day and amount: nothing to correct
            return
        COUNTS["corrected"] += 1

    @precondition(lambda self: self.plans)
    @rule(amount=st.sampled_from(["5.00", "102.00", "300.00"]), value_day=st.integers(0, (LAST_DAY - START).days))
    def pay_automatically(self, amount, value_day):
        received = datetime.datetime.combine(START + datetime.timedelta(days=value_day), datetime.time(9))
        payment = make_payment(customer=self.customer, amount=amount, received_at=received.replace(tzinfo=datetime.UTC))
        auto_allocate(payment, by=self.clerk)

    @precondition(lambda self: self.plans and self.day < LAST_DAY)
    @rule(days=st.integers(1, 120), one_plan=st.integers(0, 5))
    def assess(self, days, one_plan):
        self.day = min(LAST_DAY, self.day + datetime.timedelta(days=days))
        plans = self.plans if one_plan >= len(self.plans) else [self.plans[one_plan]]
        plan = None if len(plans) > 1 or one_plan >= len(self.plans) else plans[0]
        from plans.models import Plan

        assess_penalties(as_of=self.day, plan=Plan.objects.get(pk=plan.pk) if plan else None, by=self.clerk)
        for model in plans:
            for installment_id in model.installments:
                installment = Invoice.objects.get(pk=installment_id)
                should = expected_charges(
                    installment.total - installment.credited_total,
                    installment.due_date,
                    self.paid(installment_id),
                    model.versions,
                    self.day,
                )
                for period, cost in should.items():
                    revisions = sorted(r for (i, k, r) in self.book if (i, k) == (installment_id, period))
                    invoices = [self.book[(installment_id, period, r)] for r in revisions]
                    charged = sum((b.total - b.recalculated for b in invoices), D("0.00"))
                    if cost > charged:
                        if installment_id not in self.waived_future:
                            self.book[(installment_id, period, len(revisions))] = Booked(cost - charged)
                        continue
                    excess = charged - cost
                    for booked in reversed(invoices):
                        take = min(excess, booked.total - booked.recalculated - booked.waived)
                        if take > 0:
                            booked.recalculated += take
                            excess -= take

    @precondition(lambda self: self.plans)
    @rule(index=st.integers(0, 100), days=st.integers(1, 90), kind=st.sampled_from(["fixed", "percent"]))
    def change_rule(self, index, days, kind):
        model = self.plans[index % len(self.plans)]
        effective = min(LAST_DAY, self.day + datetime.timedelta(days=days))
        if effective <= self.day:
            return
        rule = (
            {"kind": "fixed", "amount": D("4.00"), "grace_days": 3, "frequency": "monthly", "cap": None}
            if kind == "fixed"
            else {"kind": "percent", "rate": D("3"), "grace_days": 0, "frequency": "monthly", "cap": None}
        )
        from plans.models import Plan

        plan = Plan.objects.get(pk=model.pk)
        if any(v.effective_from == effective for v in model.versions):
            with pytest.raises(InvalidInput):
                change_penalty_rule(plan, effective_from=effective, by=self.clerk, **rule)
            return
        change_penalty_rule(plan, effective_from=effective, by=self.clerk, **rule)
        model.versions.append(Version(effective, rule))

    @precondition(lambda self: self.book)
    @rule(index=st.integers(0, 1000), part=st.booleans())
    def waive_a_penalty(self, index, part):
        keys = sorted(self.book)
        installment_id, period, revision = keys[index % len(keys)]
        booked = self.book[(installment_id, period, revision)]
        penalty = Invoice.objects.get(installment_id=installment_id, penalty_period=period, penalty_revision=revision)
        left = booked.total - booked.recalculated - booked.waived
        if left <= 0:
            with pytest.raises(InvalidState):
                waive_penalty(penalty, by=self.clerk, reason="Goodwill")
            return
        amount = min(left, D("0.50")) if part else None
        waive_penalty(penalty, amount=amount, by=self.clerk, reason="Goodwill")
        booked.waived += amount if amount is not None else left

    @precondition(lambda self: self.plans)
    @rule(index=st.integers(0, 100))
    def waive_future(self, index):
        ids = self.installment_ids()
        installment = Invoice.objects.get(pk=ids[index % len(ids)])
        if installment.pk in self.waived_future:
            with pytest.raises(InvalidState):
                waive_future_penalties(installment, by=self.clerk, reason="Hardship")
            return
        waive_future_penalties(installment, by=self.clerk, reason="Hardship")
        self.waived_future.add(installment.pk)

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def penalties_are_what_the_book_says(self):
        with connection.cursor() as cursor:
            cursor.execute(BOOK_SQL)
            found = {
                (inst, period, revision): (total, recalc, waived)
                for inst, period, revision, total, recalc, waived in cursor.fetchall()
            }
        assert found == {key: (b.total, b.recalculated, b.waived) for key, b in self.book.items()}
        COUNTS["penalties"] = max(COUNTS["penalties"], len(found))
        COUNTS["recalculated"] = max(COUNTS["recalculated"], sum(1 for b in self.book.values() if b.recalculated))
        COUNTS["waived"] = max(COUNTS["waived"], sum(1 for b in self.book.values() if b.waived))
        COUNTS["revised"] = max(COUNTS["revised"], sum(1 for key in self.book if key[2] > 0))

    @invariant()
    def the_ledger_invariants_hold(self):
        assert violations() == []


@pytest.mark.django_db
def test_random_plans_payments_assessments_and_waivers_charge_what_the_rule_says():
    COUNTS.clear()
    # The repo's profile (tests/conftest.py: dev or ci), with shorter runs: each step assesses
    # every plan against PostgreSQL, and the stateful tests must stay well under a minute.
    run_state_machine_as_test(PlanMachine, settings=settings(stateful_step_count=30))
    assert COUNTS["penalties"], COUNTS  # random runs charge penalties; the scripted run below does the rest


@pytest.mark.django_db
def test_scripted_run_recalculates_after_a_back_dated_payment_and_waives():
    """The machine driven by hand down the paths a random run may miss."""
    COUNTS.clear()
    machine = PlanMachine()
    try:
        rule = {"kind": "percent", "rate": D("2"), "grace_days": 5, "frequency": "monthly", "cap": None}
        steps = [
            lambda: machine.new_plan(count=3, principal="999.99", first_due=9, every=1, penalty=rule),
            lambda: machine.assess(days=120, one_plan=0),  # 2025-05-01: 1.1 .. 1.3, 2.1, 2.2 and 3.1
            lambda: machine.pay_an_installment(index=0, share="all", value_day=40),  # back-dated to 2025-02-10
            lambda: machine.pay_an_installment(index=1, share="half", value_day=60),
            lambda: machine.assess(days=1, one_plan=9),  # credits 1.1 .. 1.3 in full, half of 2.1 and 2.2
            lambda: machine.waive_a_penalty(index=3, part=True),  # 2.1: 0.50 of what is left
            lambda: machine.waive_a_penalty(index=3, part=False),  # the rest
            lambda: machine.waive_a_penalty(index=3, part=False),  # nothing left: refused
            lambda: machine.waive_future(index=2),
            lambda: machine.waive_future(index=2),  # already waived: refused
            lambda: machine.change_rule(index=0, days=10, kind="fixed"),
            lambda: machine.pay_automatically(amount="300.00", value_day=10),
            lambda: machine.assess(days=200, one_plan=0),
            lambda: machine.take_a_payment_back(index=0),  # installment 1's back-dated 333.33
            lambda: machine.assess(days=1, one_plan=0),  # 1.1 .. 1.3 charged again, as revision 1
            # Installment 2's half payment came on 2025-01-06 after all, before anything was due:
            # corrected, and the next assessment credits what its periods were charged for it.
            lambda: machine.correct_a_payment(index=1, value_day=5, smaller=False),
            lambda: machine.assess(days=1, one_plan=0),
        ]
        for step in steps:
            step()
            machine.penalties_are_what_the_book_says()
            machine.the_ledger_invariants_hold()
        assert COUNTS["penalties"] >= 6 and COUNTS["recalculated"] >= 2 and COUNTS["waived"] >= 1, COUNTS
        assert COUNTS["revised"] >= 3 and COUNTS["corrected"] == 1, COUNTS
    finally:
        machine.teardown()
