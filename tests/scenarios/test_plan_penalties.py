"""Worked example (DESIGN.md section 10): 10 installments of 100.00, 2% a month after 5 grace days.

Installment k is due on the 10th of month k of 2025; its grace ends on the 15th, and each
full month overdue past grace (the 15th of the following months) costs 2% of what is still
unpaid at the start of that day.
"""

from decimal import Decimal

import pytest

from plans.models import Plan
from plans.services import assess_penalties
from tests.invariants import assert_invariants
from tests.plans.helpers import day, installments, make_plan, pay, penalties_of

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def plan(customer, provider, clerk):
    return make_plan(customer, provider, clerk)


def test_ten_installments_paid_late_charge_two_percent_once_per_month(plan, clerk):
    first, second, third, fourth, *_ = installments(plan)
    assert [i.total for i in installments(plan)] == [D("100.00")] * 10
    assert [i.due_date for i in installments(plan)][:3] == [day("2025-01-10"), day("2025-02-10"), day("2025-03-10")]

    pay(plan, first, "100.00", "2025-03-20")  # paid 69 days late
    issued = assess_penalties(as_of=day("2025-03-31"), by=clerk)

    assert penalties_of(first) == [(1, day("2025-02-15"), D("2.00")), (2, day("2025-03-15"), D("2.00"))]
    assert penalties_of(second) == [(1, day("2025-03-15"), D("2.00"))]
    assert penalties_of(third) == []  # grace ended on 2025-03-15: its first full month ends on 2025-04-15
    assert sorted(i.total for i in issued) == [D("2.00")] * 3
    assert all(i.kind == "penalty" and i.state == "open" and i.plan_id == plan.pk for i in issued)

    # Run again the same day: nothing more (I11).
    assert assess_penalties(as_of=day("2025-03-31"), by=clerk) == []

    # A month later: installment 1 was paid on 2025-03-20, so its April period costs nothing.
    pay(plan, second, "50.00", "2025-04-01")
    assess_penalties(as_of=day("2025-04-30"), by=clerk)
    assert penalties_of(first) == [(1, day("2025-02-15"), D("2.00")), (2, day("2025-03-15"), D("2.00"))]
    assert penalties_of(second) == [(1, day("2025-03-15"), D("2.00")), (2, day("2025-04-15"), D("1.00"))]
    assert penalties_of(third) == [(1, day("2025-04-15"), D("2.00"))]
    assert penalties_of(fourth) == []
    assert Plan.objects.get(pk=plan.pk).state == "active"
    assert_invariants()
