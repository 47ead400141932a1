"""What a reconciliation run says and records about itself: the progress lines the nightly log
shows, the run's stored settings, and how it ends (clean, busy, interrupted, killed, failed).

The admins read these lines in the nightly job's log and on the run page; a figure passed on
wrong or a check whose line goes missing is a report they can no longer trust.
"""

import re
import time
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections

from reconciliation import reconcile
from reconciliation.models import ReconciliationRun
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db


def sql(statement, params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def wrongly_paid(invoice):
    """Drift behind the services' back: the invoice's cached status says paid, its ledger says not."""
    sql("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [invoice.pk])


def wrongly_allocated(payment):
    sql("UPDATE payments_payment SET allocation_status = 'fully_allocated' WHERE id = %s", [payment.pk])


@pytest.fixture
def drifted(customer, provider):
    """Two drifted invoices of one account, a drifted payment of another customer."""
    invoices = [make_invoice(customer=customer, provider=provider, total="100.00") for _ in range(2)]
    payment = make_payment(customer=CustomerFactory(), amount="10.00")
    for invoice in invoices:
        wrongly_paid(invoice)
    wrongly_allocated(payment)
    return invoices, payment


def seconds_masked(lines):
    return [re.sub(r"in \d+\.\d\d s:", "in S s:", line) for line in lines]


CHECKS_CLEAN = [
    "Invoice queue totals: 0 keys drifted.",
    "Payment queue totals: 0 keys drifted.",
    "Order queue totals: 0 keys drifted.",
    "Plan queue totals: 0 keys drifted.",
    "Workshop seats: 0 workshops drifted.",
    "Entry journal: 0 customers or accounts drifted.",
]


def test_a_run_with_fix_says_each_step_in_order_with_its_figures(drifted, clerk):
    said = []
    started = time.monotonic()
    run = reconcile.run_reconciliation(fix=True, batch_size=1, by=clerk, progress=said.append)
    took = time.monotonic() - started

    # The first invoice's batch locks its account and re-checks the account's other drifted invoice
    # with it; the second invoice's batch finds it already repaired.
    assert seconds_masked(said) == [
        f"Reconciliation run {run.pk}: recomputing every invoice, payment and account from the ledger...",
        "Checked 2 invoices, 1 payments, 1 accounts and 0 orders in S s: 3 look drifted.",
        "Batch 1/3: 1 re-checked under lock, 2 drifted, 2 fixed.",
        "Batch 2/3: 1 re-checked under lock, 0 drifted, 0 fixed.",
        "Batch 3/3: 1 re-checked under lock, 1 drifted, 1 fixed.",
        *CHECKS_CLEAN,
    ]
    # The detection's own seconds: no more than the whole run took.
    seconds = Decimal(re.fullmatch(r"Checked .* in (\d+\.\d\d) s: 3 look drifted\.", said[1]).group(1))
    assert 0 <= seconds <= Decimal(str(took)) + Decimal("0.01")
    assert (run.outcome, run.drift_found, run.drift_fixed, run.message) == ("fixed", 3, 3, "")
    assert run.started_by == clerk and run.limit is None and run.fix
    assert_invariants()


def test_a_limited_report_only_run_says_what_it_left_and_stores_its_limit(drifted):
    said = []
    run = reconcile.run_reconciliation(fix=False, limit=1, batch_size=1, progress=said.append)

    assert seconds_masked(said)[1:] == [
        "Checked 2 invoices, 1 payments, 1 accounts and 0 orders in S s: 3 look drifted"
        " (2 left for the next run by --limit 1).",
        "Batch 1/1: 1 re-checked under lock, 2 drifted.",
        *CHECKS_CLEAN,
    ]
    assert (run.limit, run.fix, run.started_by, run.left_for_next_run) == (1, False, None, 2)
    assert (run.outcome, run.drift_found, run.drift_fixed, run.message) == ("drift", 2, 0, "")


def test_a_clean_run_records_no_message(customer, provider):
    make_invoice(customer=customer, provider=provider)
    run = reconcile.run_reconciliation(fix=True)
    assert (run.outcome, run.message) == ("clean", "")
    assert run.finished_at is not None


def test_an_interrupted_run_says_its_committed_batches_are_complete(drifted, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reconcile, "check_workshop_seats", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reconcile.run_reconciliation(fix=True)
    run = ReconciliationRun.objects.get()
    assert run.outcome == "interrupted"
    assert run.message == "Interrupted; committed batches are complete, the rest is left for the next run."


def test_a_run_left_running_by_a_killed_process_is_explained_to_the_admin(customer):
    dead = ReconciliationRun.objects.create(fix=True)
    later = reconcile.run_reconciliation()
    dead.refresh_from_db()
    assert (dead.outcome, later.outcome) == ("interrupted", "clean")
    assert dead.finished_at is not None
    assert dead.message == "The process ended before the run finished (killed?); a later run picks up what was left."


def test_a_run_that_fails_records_the_error_cut_to_the_columns_length(drifted, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("x" * 2500)

    monkeypatch.setattr(reconcile, "check_workshop_seats", broken)
    with pytest.raises(ValueError):
        reconcile.run_reconciliation(fix=True)
    run = ReconciliationRun.objects.get()
    assert run.outcome == "error"
    assert run.message == ("ValueError: " + "x" * 2500)[:2000]
    assert len(run.message) == 2000
    assert run.finished_at is not None


def test_finishing_tries_once_more_on_a_fresh_connection_then_gives_up(customer, monkeypatch):
    run = ReconciliationRun.objects.create()
    attempts = []

    class Broken:
        def update(self, **fields):
            attempts.append(fields)
            raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(reconcile.ReconciliationRun.objects, "filter", lambda **kw: Broken())
    monkeypatch.setattr(connection, "close", lambda: attempts.append("reconnect"))
    with pytest.raises(DatabaseError):
        reconcile._finish(run, "error", "boom")
    assert [a if a == "reconnect" else a["outcome"] for a in attempts] == ["error", "reconnect", "error"]


def test_finishing_after_one_broken_connection_records_the_outcome(customer, monkeypatch):
    run = ReconciliationRun.objects.create()
    real_filter = reconcile.ReconciliationRun.objects.filter
    calls = []

    def filter_once_broken(**kw):
        calls.append(kw)
        if len(calls) == 1:
            raise DatabaseError("server closed the connection unexpectedly")
        return real_filter(**kw)

    monkeypatch.setattr(reconcile.ReconciliationRun.objects, "filter", filter_once_broken)
    monkeypatch.setattr(connection, "close", lambda: None)  # the test's transaction stays open
    reconcile._finish(run, "clean")
    assert len(calls) == 2
    assert (run.outcome, run.message) == ("clean", "")
    assert run.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_rows_busy_in_two_batches_are_counted_in_the_runs_message(monkeypatch):
    """Both drifted invoices sit in an account a clerk holds: two batches time out on its lock."""
    customer, provider = CustomerFactory(), ProviderFactory(code="HELD")
    invoices = [make_invoice(customer=customer, provider=provider, total="100.00") for _ in range(2)]
    for invoice in invoices:
        wrongly_paid(invoice)
    monkeypatch.setattr(reconcile, "LOCK_TIMEOUT", "100ms")
    said = []

    clerk = connections.create_connection("default")
    try:
        clerk.set_autocommit(False)
        with clerk.cursor() as cursor:
            cursor.execute("SELECT id FROM billing_account WHERE id = %s FOR UPDATE", [invoices[0].account_id])
        run = reconcile.run_reconciliation(fix=True, batch_size=1, progress=said.append)
    finally:
        clerk.rollback()
        clerk.close()

    assert said[2:4] == [
        "Batch 1/2: rows busy (locked by clerks); left for the next run.",
        "Batch 2/2: rows busy (locked by clerks); left for the next run.",
    ]
    # Not clean: it could not look at two objects.
    assert (run.outcome, run.left_for_next_run, run.drift_found) == ("partly_fixed", 2, 0)
    assert run.message == "2 objects were busy and left for the next run."
    later = reconcile.run_reconciliation(fix=True)
    assert (later.outcome, later.drift_found, later.drift_fixed) == ("fixed", 2, 2)


@pytest.mark.django_db(transaction=True)
def test_detection_threads_close_their_own_connections():
    """Each side-by-side call runs on a connection of its own thread, closed when the call ends
    (a nightly run would otherwise leave two idle server sessions behind per run)."""
    used = []

    def query():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        used.append(connection)
        return pid

    pids = reconcile.side_by_side(query, query)
    assert [conn.connection for conn in used] == [None, None]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] not in pids
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        assert cursor.fetchone()[0] == 0
