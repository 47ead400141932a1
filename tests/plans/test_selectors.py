"""plans.selectors: a plan's schedule and the waiver report's rows, every figure asserted."""

from decimal import Decimal

import pytest

from allocations.services import allocate
from invoices.models import Invoice
from plans.selectors import future_waivers, plan_schedule, previous_outstanding, waivers
from plans.services import assess_penalties, waive_future_penalties, waive_penalty
from tests.factories import make_payment
from tests.plans.helpers import day, installments, pay

pytestmark = pytest.mark.django_db

D = Decimal


def test_the_schedule_shows_each_installment_with_its_penalties(plan, clerk):
    first, second, third = installments(plan)[:3]
    pay(plan, first, "100.00", "2025-03-20")
    assess_penalties(as_of=day("2025-03-31"), by=clerk)  # 1.1, 1.2 and 2.1 at 2.00
    penalty = Invoice.objects.get(installment=first, penalty_period=2)
    waive_penalty(penalty, by=clerk, reason="Goodwill")
    allocate(
        make_payment(customer=plan.customer, amount="2.00"), Invoice.objects.get(installment=second), "2.00", by=clerk
    )
    waive_future_penalties(third, by=clerk, reason="Hardship")

    rows = plan_schedule(plan, today=day("2025-04-01"))

    assert [(r.installment.plan_sequence, r.amount, r.paid) for r in rows[:3]] == [
        (1, D("100.00"), D("100.00")),
        (2, D("100.00"), D("0.00")),
        (3, D("100.00"), D("0.00")),
    ]
    assert [(r.penalty_charged, r.penalty_waived, r.penalty_paid, r.outstanding) for r in rows[:3]] == [
        (D("4.00"), D("2.00"), D("0.00"), D("2.00")),
        (D("2.00"), D("0.00"), D("2.00"), D("100.00")),
        (D("0.00"), D("0.00"), D("0.00"), D("100.00")),
    ]
    assert [r.overdue_days for r in rows[:4]] == [0, 50, 22, 0]
    assert [r.future_penalties_waived for r in rows[:4]] == [False, False, True, False]
    assert len(rows) == 10
    assert previous_outstanding(third) == D("102.00")  # 1.1 (2.00) and installment 2 (100.00)
    assert previous_outstanding(first) == D("0.00")


def test_the_waiver_report_rows(plan, clerk, customer):
    first, second = installments(plan)[:2]
    assess_penalties(as_of=day("2025-02-28"), by=clerk)
    note = waive_penalty(Invoice.objects.get(installment=first), amount="0.50", by=clerk, reason="Half, once")
    waiver = waive_future_penalties(second, by=clerk, reason="Hardship")
    (row,) = waivers(customer_id=customer.pk)
    assert (row.pk, row.amount, row.reason, row.created_by, row.invoice.installment_id) == (
        note.pk,
        D("0.50"),
        "Half, once",
        clerk,
        first.pk,
    )
    assert list(future_waivers(plan_id=plan.pk)) == [waiver]
    assert list(waivers(plan_id=plan.pk + 1000)) == []
