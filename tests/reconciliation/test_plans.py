"""Reconciliation checks a plan's cached state (I2) and repairs it through ledger.plans."""

from decimal import Decimal

import pytest

from plans.models import Plan, PlanStatusChange
from reconciliation import reconcile
from reconciliation.drift import find_drift
from reconciliation.models import ObjectKind
from tests.invariants import assert_invariants, violations
from tests.plans.helpers import installments, make_plan, pay
from tests.reconciliation.test_reconcile import batch_of_one, diffs, sql

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def plans(customer, provider, clerk):
    paid = make_plan(customer, provider, clerk, principal="200.00", installments=2, penalty=None)
    for invoice in installments(paid):
        pay(paid, invoice, "100.00", invoice.due_date.isoformat())
    running = make_plan(customer, provider, clerk, principal="300.00", installments=3)
    assert [Plan.objects.get(pk=p.pk).state for p in (paid, running)] == ["paid_off", "active"]
    assert_invariants()
    return paid, running


def test_a_clean_ledger_with_plans_has_no_plan_drift(plans):
    assert find_drift(ObjectKind.PLAN) == {}
    run = reconcile.run_reconciliation()
    assert (run.outcome, run.drift_found) == ("clean", 0)


def test_a_drifted_plan_state_is_reported_and_repaired(plans):
    paid, running = plans
    sql("UPDATE plans_plan SET state = 'active' WHERE id = %s", [paid.pk])
    sql("UPDATE plans_plan SET state = 'paid_off' WHERE id = %s", [running.pk])
    assert any(v.startswith("I2 plan state") for v in violations())

    run = reconcile.run_reconciliation(fix=True)

    found = diffs(run)
    assert ("plan", paid.pk, "state", "active", "paid_off") in found
    assert ("plan", running.pk, "state", "paid_off", "active") in found
    assert (run.outcome, run.drift_fixed) == ("fixed", run.drift_found)
    assert find_drift(ObjectKind.PLAN) == {}
    assert list(Plan.objects.get(pk=paid.pk).status_changes.values_list("old", "new", "reason"))[-1] == (
        "active",
        "paid_off",
        f"reconciliation run {run.pk}",
    )
    assert_invariants()


def test_drifted_plan_figures_are_reported_and_repaired(plans):
    paid, running = plans
    first_due = installments(running)[0].due_date
    sql("UPDATE plans_plan SET balance_due = 10.00, oldest_due_date = %s WHERE id = %s", [first_due, paid.pk])
    sql("UPDATE plans_plan SET balance_due = 250.00, oldest_due_date = NULL WHERE id = %s", [running.pk])
    assert any(v.startswith("I1 plan cache") for v in violations())

    run = reconcile.run_reconciliation(fix=True)

    found = diffs(run)
    assert ("plan", paid.pk, "balance_due", "10.00", "0.00") in found
    assert ("plan", paid.pk, "oldest_due_date", first_due.isoformat(), "") in found
    assert ("plan", running.pk, "balance_due", "250.00", "300.00") in found
    assert ("plan", running.pk, "oldest_due_date", "", first_due.isoformat()) in found
    assert (run.outcome, run.drift_fixed) == ("fixed", run.drift_found)
    assert [(p.balance_due, p.oldest_due_date) for p in Plan.objects.filter(pk__in=[paid.pk, running.pk])] == [
        (D("300.00"), first_due),  # newest first
        (D("0.00"), None),
    ]
    assert_invariants()


def test_the_plan_list_totals_of_a_plan_owing_nothing_are_not_drift(plans):
    # A paid-off plan has no oldest due date: its kept totals sit under a NULL key, which the
    # comparison must match with the live plans' NULL key rather than report both as drift.
    from reconciliation.queue_totals import QUEUES, find_queue_total_drift

    (queue,) = [q for q in QUEUES if q.kind == ObjectKind.PLAN_TOTALS]
    assert find_queue_total_drift(queue, fix=False) == []
    sql(
        "INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)"
        " VALUES ('paid_off', 'EUR', NULL, 1, 0, 0)"
    )
    (drift,) = find_queue_total_drift(queue, fix=True)
    assert (drift.key, drift.cached["plans"], drift.ledger["plans"]) == (
        {"state": "paid_off", "currency": "EUR", "oldest_due_date": None},
        2,
        1,
    )
    assert find_queue_total_drift(queue, fix=False) == []
    assert_invariants()


def test_a_batch_rechecks_its_own_plan_not_every_drifted_one(plans, clerk):
    paid, running = plans
    sql("UPDATE plans_plan SET state = 'active' WHERE id = %s", [paid.pk])
    sql("UPDATE plans_plan SET state = 'paid_off' WHERE id = %s", [running.pk])
    run, result = batch_of_one("plan", paid, fix=True, by=clerk)
    assert (result.found, result.fixed) == (1, 1)
    assert {(kind, pk) for kind, pk, *_ in diffs(run)} == {("plan", paid.pk)}
    assert set(find_drift(ObjectKind.PLAN)) == {running.pk}
    repaired = PlanStatusChange.objects.filter(plan=paid, reason=f"reconciliation run {run.pk}")
    assert set(repaired.values_list("field", "new", "created_by")) == {("state", "paid_off", clerk.pk)}
