"""Reconciliation alongside clerks: real threads, real transactions, real row locks (I8).

While clerks allocate and deallocate, runs with --fix neither deadlock nor block them
for long, and report no drift that is not there: only the drift injected on rows the
clerks never touch, plus, at most, the drift injected on rows they do touch (a clerk's
own refresh may repair it first, and then the re-check under lock sees it repaired).
"""

import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from allocations.services import allocate, deallocate
from billing.errors import BillingError
from ledger.core import pair_net
from reconciliation.models import ReconciliationDifference
from reconciliation.reconcile import run_reconciliation
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)

CLERKS = 4
SECONDS = 2.5


def sql(statement, params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def clerk_loop(invoices, payments, stop: threading.Event, errors: list, done: list, seed: int):
    """One clerk; `done` collects how long each successful action took (seconds)."""
    rng = random.Random(seed)
    try:
        while not stop.is_set():
            invoice, payment = rng.choice(invoices), rng.choice(payments)
            started = time.monotonic()
            try:
                if rng.random() < 0.6:
                    allocate(payment, invoice, Decimal("10.00"), note="clerk", by=None)
                elif pair_net(payment.pk, invoice.pk) > 0:
                    deallocate(payment, invoice, Decimal("10.00"), reason="clerk changed mind", by=None)
                done.append(time.monotonic() - started)
            except BillingError:
                pass  # nothing left to allocate or deallocate: a normal refusal
    except Exception as exc:  # deadlocks, lock timeouts, anything unexpected
        errors.append(exc)
    finally:
        connection.close()


def test_runs_alongside_clerks_neither_deadlock_nor_report_false_drift():
    provider = ProviderFactory(code="HOT")
    busy = CustomerFactory(name="Busy customer")
    quiet = CustomerFactory(name="Quiet customer")
    hot_invoices = [make_invoice(customer=busy, provider=provider, total="100.00") for _ in range(6)]
    hot_payments = [make_payment(customer=busy, amount="100.00") for _ in range(6)]
    cold_invoice = make_invoice(customer=quiet, provider=provider, total="100.00")
    cold_payment = make_payment(customer=quiet, amount="60.00")
    allocate(cold_payment, cold_invoice, "60.00", by=None)

    # Drift on rows no clerk touches: must be reported exactly.
    sql("UPDATE invoices_invoice SET paid_total = 50, balance_due = 50 WHERE id = %s", [cold_invoice.pk])
    sql("UPDATE payments_payment SET allocation_status = 'unallocated' WHERE id = %s", [cold_payment.pk])
    cold = {
        ("invoice", cold_invoice.pk, "paid_total"),
        ("invoice", cold_invoice.pk, "balance_due"),
        ("payment", cold_payment.pk, "allocation_status"),
    }
    # Drift on rows the clerks work on: reported only if still there under lock.
    sql("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [hot_invoices[0].pk])
    sql("UPDATE payments_payment SET allocation_status = 'overallocated' WHERE id = %s", [hot_payments[0].pk])
    hot = {
        ("invoice", hot_invoices[0].pk, "payment_status"),
        ("payment", hot_payments[0].pk, "allocation_status"),
        ("account", hot_invoices[0].account_id, "balance_due"),
        ("account", hot_invoices[0].account_id, "open_invoice_count"),
        ("account", hot_invoices[0].account_id, "oldest_due_date"),
    }

    stop, errors, done = threading.Event(), [], []
    threads = [
        threading.Thread(target=clerk_loop, args=(hot_invoices, hot_payments, stop, errors, done, seed))
        for seed in range(CLERKS)
    ]
    for thread in threads:
        thread.start()
    runs = []
    try:
        time.sleep(0.2)
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline or len(runs) < 3:
            runs.append(run_reconciliation(fix=True, batch_size=1))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        close_old_connections()
    assert not any(thread.is_alive() for thread in threads), "a clerk is stuck (deadlock?)"
    assert errors == []
    assert len(done) > 20, "the clerks must actually have worked during the runs"
    assert max(done) < 3.0, "a clerk waited long for a lock"

    first, later = runs[0], runs[1:]
    reported = {(d.object_kind, d.object_id, d.field) for d in ReconciliationDifference.objects.filter(run=first)}
    assert cold <= reported <= cold | hot
    assert first.outcome == "fixed" and first.drift_fixed == first.drift_found
    for run in later:
        assert (run.outcome, run.candidates, run.drift_found) == ("clean", 0, 0), "false drift while clerks work"
    assert_invariants()


def test_rows_a_clerk_keeps_locked_are_left_for_the_next_run(monkeypatch):
    """The run waits at most LOCK_TIMEOUT for a clerk's row lock, then moves on; the next run repairs."""
    from django.db import connections

    from reconciliation import reconcile

    customer, provider = CustomerFactory(), ProviderFactory(code="BUSY")
    busy_invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    free_payment = make_payment(customer=CustomerFactory(), amount="10.00")
    sql("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [busy_invoice.pk])
    sql("UPDATE payments_payment SET allocation_status = 'fully_allocated' WHERE id = %s", [free_payment.pk])
    monkeypatch.setattr(reconcile, "LOCK_TIMEOUT", "200ms")

    clerk = connections.create_connection("default")
    try:
        clerk.set_autocommit(False)
        with clerk.cursor() as cursor:  # a clerk's transaction holding the account, as allocate does
            cursor.execute("SELECT id FROM billing_account WHERE id = %s FOR UPDATE", [busy_invoice.account_id])
        started = time.monotonic()
        blocked = run_reconciliation(fix=True, batch_size=1)
        assert time.monotonic() - started < 5
    finally:
        clerk.rollback()
        clerk.close()

    assert (blocked.outcome, blocked.drift_found, blocked.drift_fixed, blocked.left_for_next_run) == (
        "partly_fixed",
        1,
        1,
        1,
    )
    assert "busy" in blocked.message
    later = run_reconciliation(fix=True)
    assert (later.outcome, later.drift_found, later.drift_fixed) == ("fixed", 1, 1)
    assert_invariants()
