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


def test_a_night_of_assessment_holds_each_batchs_locks_only_while_that_batch_runs(customer, provider, monkeypatch):
    """Each batch commits on its own: while the run waits on one customer's account, another
    customer's, written by an earlier batch, is free for a clerk and its penalties are there."""
    import threading
    import time

    import psycopg
    from django.db import connection

    from plans import assessment
    from tests.factories import CustomerFactory

    monkeypatch.setattr(assessment, "BATCH", 1)  # a batch per installment
    early = make_plan(customer, provider, None, installments=2)
    late = make_plan(CustomerFactory(name="Late Larry"), provider, None, installments=2)
    params = connection.get_connection_params()
    with psycopg.connect(**params) as holder, psycopg.connect(**params) as clerk:
        holder.execute("SELECT id FROM billing_account WHERE id = %s FOR UPDATE", [late.account_id])
        done: list = []

        def night() -> None:
            try:
                done.append(assess_penalties(as_of=day("2025-05-31"), by=None))
            except Exception as error:  # shown by the assertion below
                done.append(error)
            finally:
                connection.close()

        run = threading.Thread(target=night)
        run.start()
        deadline = time.monotonic() + 30
        waiting = "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        while not clerk.execute(waiting).fetchone():
            clerk.rollback()  # pg_stat_activity is a snapshot per transaction: look again in a new one
            assert time.monotonic() < deadline and not done, f"the run never reached the held account: {done}"
            time.sleep(0.05)
        clerk.rollback()
        # The run now waits on the late customer's account; the early one's batches are committed.
        clerk.execute("SET lock_timeout = '1s'")
        assert clerk.execute("SELECT id FROM billing_account WHERE id = %s FOR UPDATE", [early.account_id]).fetchone()
        (charged,) = clerk.execute(
            "SELECT count(*) FROM invoices_invoice WHERE kind = 'penalty' AND plan_id = %s", [early.pk]
        ).fetchone()
        clerk.rollback()
        holder.rollback()  # let the run go on
        run.join(30)
    assert not run.is_alive() and len(done) == 1 and isinstance(done[0], list)
    assert charged > 0 and Invoice.objects.filter(kind="penalty", plan=early).count() == charged
    assert Invoice.objects.filter(kind="penalty", plan=late).count() == charged  # the same terms
    assert_invariants()
