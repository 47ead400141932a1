"""I11 and I8 for plans: assessments at once charge once; clerks paying meanwhile never deadlock.

Real threads against PostgreSQL (tests/ledger/test_concurrency.py's harness).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from allocations.services import allocate, auto_allocate
from invoices.models import Invoice
from plans.services import assess_penalties, change_penalty_rule
from tests.factories import make_payment
from tests.invariants import assert_invariants
from tests.ledger.test_concurrency import assert_no_deadlock_or_crash, outcomes, run_together
from tests.plans.helpers import day, installments, make_plan, paid_on

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_two_assessments_at_once_charge_once(customer, provider):
    plan = make_plan(customer, provider, None)
    results = run_together([lambda: assess_penalties(as_of=day("2025-05-31"), by=None)] * 2)
    assert outcomes(results) == ["ok", "ok"]
    issued = sorted(len(value) for _, value in results)
    assert issued == [0, 10]  # one run charged everything, the other waited and found nothing
    assert Invoice.objects.filter(kind="penalty", plan=plan).count() == 10
    assert sum(Invoice.objects.filter(kind="penalty").values_list("total", flat=True)) == D("20.00")
    assert_invariants()


def test_assessments_rule_changes_and_clerks_paying_at_once(customer, provider):
    plan = make_plan(customer, provider, None)
    first, second, third = installments(plan)[:3]
    payments = [make_payment(customer=customer, amount="100.00", received_at=paid_on("2025-03-01")) for _ in range(3)]
    jobs = [
        lambda: assess_penalties(as_of=day("2025-04-30"), by=None),
        lambda: assess_penalties(as_of=day("2025-04-30"), plan=plan, by=None),
        lambda: allocate(payments[0], Invoice.objects.get(pk=first.pk), "100.00", by=None),
        lambda: allocate(payments[1], Invoice.objects.get(pk=third.pk), "50.00", by=None),
        lambda: auto_allocate(payments[2], by=None),
        lambda: change_penalty_rule(plan, effective_from=day("2025-06-01"), kind="fixed", amount="3", by=None),
    ]
    results = run_together(jobs)
    assert_no_deadlock_or_crash(results)
    assert "ok" in outcomes(results)
    # Whatever the order, one more run makes what was charged what the rule says: running it
    # twice more changes nothing the second time.
    assess_penalties(as_of=day("2025-04-30"), by=None)
    assert assess_penalties(as_of=day("2025-04-30"), by=None) == []
    for installment in (first, second):
        periods = list(
            Invoice.objects.filter(installment=installment).order_by("penalty_period").values_list("penalty_period")
        )
        assert periods == sorted(set(periods))  # one invoice per period
    assert_invariants()
