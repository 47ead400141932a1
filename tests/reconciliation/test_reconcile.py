"""reconcile_statuses finds exactly the drift injected behind the services' back, and repairs it.

Drift is injected with raw SQL. The invoice and payment rows have CHECK constraints tying
balance_due and unallocated to the totals, so the injected values look consistent on
the row and are only wrong against the ledger rows.
"""

import datetime
import os
import signal
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from allocations.services import allocate
from invoices.models import Invoice, InvoiceStatusChange
from ledger import journal
from payments.models import PaymentStatusChange
from payments.services import refund_payment
from reconciliation import reconcile, selectors
from reconciliation.models import ReconciliationDifference, ReconciliationRun
from tests.factories import make_invoice, make_payment
from tests.guards import below_the_guards
from tests.invariants import assert_invariants, violations

pytestmark = pytest.mark.django_db

D = Decimal
ISSUED = datetime.date(2026, 10, 1)


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def reconcile_command(*args):
    """Run the command; return (exit code, stdout)."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("reconcile_statuses", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def diffs(run):
    return {
        (d.object_kind, d.object_id, d.field, d.cached_value, d.ledger_value)
        for d in ReconciliationDifference.objects.filter(run=run)
    }


@pytest.fixture
def ledger(customer, provider, other_provider, clerk):
    """A small clean ledger, then drift of every kind injected with raw SQL."""
    o = {}
    o["A"] = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    o["B"] = make_invoice(customer=customer, provider=provider, total="80.00", issue_date=ISSUED)
    o["C"] = make_invoice(customer=customer, provider=provider, total="60.00", issue_date=ISSUED)
    o["D"] = make_invoice(customer=customer, provider=provider, total="50.00", issue_date=ISSUED)
    o["E"] = make_invoice(
        customer=customer, provider=provider, total="70.00", issue_date=ISSUED - datetime.timedelta(days=20)
    )
    o["F"] = make_invoice(customer=customer, provider=other_provider, total="90.00", issue_date=ISSUED)
    o["P1"] = make_payment(customer=customer, amount="100.00")
    o["P2"] = make_payment(customer=customer, amount="50.00")
    o["P3"] = make_payment(customer=customer, amount="40.00")
    o["P4"] = make_payment(customer=customer, amount="50.00")
    o["P5"] = make_payment(customer=customer, amount="40.00")
    o["clean"] = make_payment(customer=customer, amount="10.00")
    allocate(o["P1"], o["A"], "100.00", by=clerk)
    allocate(o["P2"], o["B"], "30.00", by=clerk)
    allocate(o["P4"], o["D"], "50.00", by=clerk)
    refund_payment(o["P5"], amount="10.00", by=clerk, reason="paid twice")
    assert_invariants()

    # Invoice A: wrong paid total (balance due moved with it, as the CHECK demands).
    sql("UPDATE invoices_invoice SET paid_total = 90, balance_due = 10 WHERE id = %s", [o["A"].pk])
    # Invoice C: wrong status.
    sql("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [o["C"].pk])
    # Invoice D: voided by a buggy path that reversed the allocation but refreshed nothing.
    original = o["D"].allocations.get().pk
    sql(
        "INSERT INTO allocations_allocation (created_at, reason, amount, invoice_id, payment_id, reverses_id)"
        " VALUES (now(), 'buggy void', -50, %s, %s, %s)",
        [o["D"].pk, o["P4"].pk, original],
    )
    sql("UPDATE invoices_invoice SET state = 'void', voided_at = now() WHERE id = %s", [o["D"].pk])
    # Invoice E: voided without refreshing its account (the account still counts it as owed).
    # A void invoice owes nothing: the CHECK demands balance_due 0 with the state.
    sql("UPDATE invoices_invoice SET state = 'void', voided_at = now(), balance_due = 0 WHERE id = %s", [o["E"].pk])
    # Both buggy voids did write their journal entries: this ledger is about the caches
    # (the journal's own drift is tested in tests/reconciliation/test_journal.py).
    with transaction.atomic():
        for name in ("D", "E"):
            journal.invoice_voided(Invoice.objects.get(pk=o[name].pk))
    # Payment P2: wrong allocated total; P3: wrong status; P5: refund missing from its cache.
    sql("UPDATE payments_payment SET allocated_total = 20, unallocated = 30 WHERE id = %s", [o["P2"].pk])
    sql("UPDATE payments_payment SET allocation_status = 'fully_allocated' WHERE id = %s", [o["P3"].pk])
    sql("UPDATE payments_payment SET refunded_total = 0, unallocated = 40 WHERE id = %s", [o["P5"].pk])
    # Account of F (other provider): wrong cached balance.
    sql("UPDATE billing_account SET balance_due = 95 WHERE id = %s", [o["F"].account_id])
    o["acme"] = o["A"].account_id
    o["bolt"] = o["F"].account_id
    return o


def expected_differences(o):
    oldest_left = min(o["B"].due_date, o["C"].due_date).isoformat()
    return {
        ("invoice", o["A"].pk, "paid_total", "90.00", "100.00"),
        ("invoice", o["A"].pk, "balance_due", "10.00", "0.00"),
        ("invoice", o["C"].pk, "payment_status", "paid", "unpaid"),
        ("invoice", o["D"].pk, "paid_total", "50.00", "0.00"),
        ("invoice", o["D"].pk, "payment_status", "paid", "unpaid"),
        ("payment", o["P2"].pk, "allocated_total", "20.00", "30.00"),
        ("payment", o["P2"].pk, "unallocated", "30.00", "20.00"),
        ("payment", o["P3"].pk, "allocation_status", "fully_allocated", "unallocated"),
        ("payment", o["P4"].pk, "allocated_total", "50.00", "0.00"),
        ("payment", o["P4"].pk, "unallocated", "0.00", "50.00"),
        ("payment", o["P4"].pk, "allocation_status", "fully_allocated", "unallocated"),
        ("payment", o["P5"].pk, "refunded_total", "0.00", "10.00"),
        ("payment", o["P5"].pk, "unallocated", "40.00", "30.00"),
        ("account", o["acme"], "balance_due", "180.00", "110.00"),
        ("account", o["acme"], "open_invoice_count", "3", "2"),
        ("account", o["acme"], "oldest_due_date", o["E"].due_date.isoformat(), oldest_left),
        ("account", o["bolt"], "balance_due", "95.00", "90.00"),
    }


def test_check_only_reports_exactly_the_injected_drift_and_changes_nothing(ledger):
    before = violations()
    code, out = reconcile_command()

    run = ReconciliationRun.objects.get()
    assert code == 1
    assert diffs(run) == expected_differences(ledger)
    assert (run.outcome, run.fix, run.drift_found, run.drift_fixed) == ("drift", False, 9, 0)
    assert run.objects_checked == 6 + 6 + 2
    assert not ReconciliationDifference.objects.filter(fixed=True).exists()
    assert violations() == before
    assert f"reconcile run {run.pk}: drift found; checked 14 objects, drift found 9 (" in out.splitlines()[-1]


def test_check_only_in_small_batches_counts_each_object_once(ledger):
    """A batch re-checks its invoices' account and that account's other invoices: no double counting."""
    code, _ = reconcile_command("--batch-size", "1")
    run = ReconciliationRun.objects.get()
    assert (code, run.drift_found) == (1, 9)
    assert run.differences.count() == len(expected_differences(ledger)) == 17
    assert diffs(run) == expected_differences(ledger)


def test_fix_repairs_everything_through_refresh_with_history(ledger):
    code, out = reconcile_command("--fix")

    run = ReconciliationRun.objects.get()
    assert code == 1  # drift was found: cron alerts even though it is repaired
    assert diffs(run) == expected_differences(ledger)
    assert (run.outcome, run.drift_found, run.drift_fixed) == ("fixed", 9, 9)
    assert set(ReconciliationDifference.objects.values_list("fixed", flat=True)) == {True}
    assert_invariants()
    cause = f"reconciliation run {run.pk}"
    assert set(InvoiceStatusChange.objects.filter(reason=cause).values_list("invoice_id", "old", "new")) == {
        (ledger["C"].pk, "paid", "unpaid"),
        (ledger["D"].pk, "paid", "unpaid"),
    }
    assert set(PaymentStatusChange.objects.filter(reason=cause).values_list("payment_id", "old", "new")) == {
        (ledger["P3"].pk, "fully_allocated", "unallocated"),
        (ledger["P4"].pk, "fully_allocated", "unallocated"),
    }
    ledger["D"].refresh_from_db()
    assert (ledger["D"].state, ledger["D"].payment_status, ledger["D"].paid_total) == ("void", "unpaid", D("0.00"))

    code, out = reconcile_command("--fix")
    assert code == 0
    assert ReconciliationRun.objects.first().outcome == "clean"
    assert out.splitlines()[-1].startswith(f"reconcile run {run.pk + 1}: no drift; checked 14 objects, drift found 0")


def test_clean_ledger_exits_zero(customer, provider):
    make_invoice(customer=customer, provider=provider)
    make_payment(customer=customer)
    code, out = reconcile_command("--fix")
    assert code == 0
    run = selectors.latest_run()
    assert (run.outcome, run.drift_found, run.objects_checked) == ("clean", 0, 3)
    assert not run.differences.exists()


def test_small_batches_and_limit_leave_the_rest_for_the_next_run(ledger):
    code, _ = reconcile_command("--fix", "--limit", "2", "--batch-size", "1")
    first = ReconciliationRun.objects.get()
    assert code == 1
    assert first.candidates == 9
    # Invoices A and C; C's batch locks and refreshes the shared account of A-E.
    assert {(d.object_kind, d.object_id) for d in first.differences.all()} == {
        ("invoice", ledger["A"].pk),
        ("invoice", ledger["C"].pk),
        ("account", ledger["acme"]),
    }
    assert (first.drift_found, first.drift_fixed, first.left_for_next_run, first.outcome) == (3, 3, 7, "partly_fixed")

    reconcile_command("--fix", "--batch-size", "2")
    second = ReconciliationRun.objects.first()
    assert (second.candidates, second.drift_found, second.drift_fixed, second.outcome) == (6, 6, 6, "fixed")
    assert diffs(first) | diffs(second) == expected_differences(ledger)
    assert_invariants()


def test_invoice_total_disagreeing_with_its_lines_is_reported_never_rewritten(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    with below_the_guards():  # the database refuses this to everyone else (tests/invoices/test_issued_guard.py)
        sql("UPDATE invoices_invoice SET total = 105, balance_due = 105 WHERE id = %s", [invoice.pk])
    sql("UPDATE billing_account SET balance_due = 105 WHERE id = %s", [invoice.account_id])

    code, _ = reconcile_command("--fix")

    run = ReconciliationRun.objects.get()
    assert code == 1
    # The journal counted the invoice as issued (100.00): it disagrees with the rewritten total too.
    assert diffs(run) == {
        ("invoice", invoice.pk, "total", "105.00", "100.00"),
        ("journal_customer", customer.pk, "invoice", "100.00", "105.00"),
        ("journal_account", invoice.account_id, "invoice", "100.00", "105.00"),
    }
    assert (run.drift_found, run.drift_fixed, run.outcome) == (3, 0, "partly_fixed")
    assert not run.differences.filter(fixed=True).exists()
    invoice.refresh_from_db()
    assert invoice.total == D("105.00")


def test_lines_and_total_rewritten_together_below_the_guards_are_reported(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    line = invoice.lines.get()
    with below_the_guards():
        # An issued invoice rewritten under the forms: its line raised to 130.00, a second line of
        # 20.00 added, and the total (with the cached balance and account) moved to 140.00.
        sql("UPDATE invoices_invoiceline SET unit_price = 130, amount = 130 WHERE id = %s", [line.pk])
        sql(
            "INSERT INTO invoices_invoiceline (invoice_id, position, description, quantity, unit_price, amount)"
            " VALUES (%s, 2, 'Extra', 1, 20, 20)",
            [invoice.pk],
        )
        sql("UPDATE invoices_invoice SET total = 140, balance_due = 140 WHERE id = %s", [invoice.pk])
    sql("UPDATE billing_account SET balance_due = 140 WHERE id = %s", [invoice.account_id])

    code, _ = reconcile_command("--fix")

    run = ReconciliationRun.objects.get()
    assert code == 1
    # Only the lines tell: every cached figure agrees with the rewritten total. Reported, never "fixed".
    # The journal still says what was issued (100.00), so it tells too.
    assert diffs(run) == {
        ("invoice", invoice.pk, "total", "140.00", "150.00"),
        ("journal_customer", customer.pk, "invoice", "100.00", "140.00"),
        ("journal_account", invoice.account_id, "invoice", "100.00", "140.00"),
    }
    assert not run.differences.filter(fixed=True).exists()
    invoice.refresh_from_db()
    assert invoice.total == D("140.00")


def test_interrupt_mid_run_keeps_committed_batches_and_next_run_finishes(ledger, monkeypatch):
    real = reconcile.refresh_payment

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reconcile, "refresh_payment", interrupted)
    code, out = reconcile_command("--fix", "--batch-size", "1")
    assert code == 2
    assert "interrupted" in out
    run = ReconciliationRun.objects.get()
    assert run.outcome == "interrupted" and run.finished_at is not None
    # The three invoice batches (and the account they share) committed; the first payment batch rolled back.
    assert {d.object_kind for d in run.differences.all()} == {"invoice", "account"}
    assert (run.drift_found, run.drift_fixed) == (4, 4)
    assert not PaymentStatusChange.objects.filter(reason=f"reconciliation run {run.pk}").exists()
    assert {v.split(":")[0] for v in violations()} == {"I1 payment totals", "I2 payment status", "I1 account cache"}

    monkeypatch.setattr(reconcile, "refresh_payment", real)
    code, _ = reconcile_command("--fix")
    assert code == 1
    assert ReconciliationRun.objects.first().outcome == "fixed"
    assert_invariants()


def test_sigterm_is_recorded_as_interrupted(ledger, monkeypatch):
    real = reconcile.refresh_invoice

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile, "refresh_invoice", terminated)
    previous = signal.getsignal(signal.SIGTERM)
    code, _ = reconcile_command("--fix")
    assert code == 2
    assert ReconciliationRun.objects.get().outcome == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(customer):
    dead = ReconciliationRun.objects.create(fix=True)
    reconcile_command()
    dead.refresh_from_db()
    assert dead.outcome == "interrupted" and "killed" in dead.message


def test_only_one_run_at_a_time(customer):
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [reconcile.ADVISORY_LOCK_KEY])
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="Another reconciliation run is in progress") as exc:
            call_command("reconcile_statuses")
        assert exc.value.returncode == 2
    finally:
        other.close()
    assert not ReconciliationRun.objects.exists()


def test_drift_repaired_by_a_clerk_before_the_batch_is_not_reported(ledger, clerk):
    """The snapshot flagged invoice B's payment; a clerk's allocation refreshed it before the re-check."""
    counts, candidates = reconcile.detect()
    assert ledger["P2"].pk in {c.id for c in candidates if c.kind == "payment"}
    allocate(ledger["P2"], ledger["B"], "20.00", by=clerk)  # refresh_payment repairs P2 on the way

    run = ReconciliationRun.objects.create(fix=True)
    batch = [c for c in candidates if c.kind == "payment" and c.id == ledger["P2"].pk]
    result = reconcile.process_batch(run, batch, fix=True)
    assert (result.found, result.fixed) == (0, 0)
    assert not run.differences.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_detection_runs_on_its_own_connections_and_finds_the_same(ledger, customer, monkeypatch):
    """The command's detection: invoices/accounts/orders, payments and the journal each on a
    connection of its own, at once; what it finds is what the one-connection run above finds."""
    # A settled payment written behind the journal's back (its own caches consistent).
    sql(
        "INSERT INTO payments_payment (customer_id, currency, amount, method, reference, received_at,"
        " refunded_total, charged_back_total, allocated_total, unallocated, state, allocation_status,"
        " created_at, cancel_reason)"
        " VALUES (%s, 'EUR', 5, 'cash', NULL, now(), 0, 0, 0, 5, 'settled', 'unallocated', now(), '')",
        [customer.pk],
    )
    seen = []
    for name in ("find_drifted_by_invoice", "find_journal_drift"):
        real = getattr(reconcile, name)

        def spy(*args, _real=real, _name=name):
            seen.append((_name, threading.current_thread().name.startswith("reconcile"), connection.in_atomic_block))
            return _real(*args)

        monkeypatch.setattr(reconcile, name, spy)
    assert not connection.in_atomic_block

    code, _ = reconcile_command()

    run = ReconciliationRun.objects.get()
    assert code == 1
    assert sorted(seen) == [("find_drifted_by_invoice", True, False), ("find_journal_drift", True, False)]
    assert diffs(run) == expected_differences(ledger) | {
        ("journal_customer", customer.pk, "payment", "-290.00", "-295.00"),
        ("journal_customer", customer.pk, "payment entries", "6", "7"),
    }
    assert (run.outcome, run.drift_found) == ("drift", 10)


# The drift queries themselves (issue 18: only the run's batches reached them, never the whole-table
# form): over a whole table, among ids, and find_drifted_by_invoice's one statement find the same.


def _table_ids(kind):
    from billing.models import Account
    from payments.models import Payment

    model = {"invoice": Invoice, "payment": Payment, "account": Account}[kind]
    return list(model.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("kind", ["invoice", "payment", "account"])
def test_find_drift_over_a_whole_table_and_among_ids_finds_exactly_the_injected_fields(ledger, kind):
    from reconciliation.drift import find_drift

    whole = find_drift(kind)
    assert whole == find_drift(kind, _table_ids(kind))
    found = {(kind, pk, f.field, f.cached_text, f.ledger_text) for pk, drift in whole.items() for f in drift.fields}
    assert found == {d for d in expected_differences(ledger) if d[0] == kind}
    if kind == "invoice":  # the account its figures feed, which the run locks first
        accounts = dict(Invoice.objects.values_list("pk", "account_id"))
        assert {pk: drift.account_id for pk, drift in whole.items()} == {pk: accounts[pk] for pk in whole}
    assert find_drift(kind, []) == {}
    some = sorted(whole)[:1]
    assert find_drift(kind, some) == {pk: whole[pk] for pk in some}


def test_the_one_statement_finds_the_drifted_invoices_and_accounts_with_their_accounts(ledger):
    from reconciliation.drift import find_drifted_by_invoice

    expected = {(kind, pk) for kind, pk, *_ in expected_differences(ledger) if kind in ("invoice", "account")}
    found = find_drifted_by_invoice()
    assert {(kind, pk) for kind, pk, _account in found} == expected
    accounts = dict(Invoice.objects.values_list("pk", "account_id"))
    for kind, pk, account in found:
        assert account == (accounts[pk] if kind == "invoice" else pk)
    assert found == sorted(found, key=lambda row: (row[0], row[1]))


def test_each_difference_names_its_object_as_a_clerk_knows_it(ledger):
    run = reconcile.run_reconciliation()
    labels = {(d.object_kind, d.object_id): d.object_label for d in ReconciliationDifference.objects.filter(run=run)}
    assert labels[("invoice", ledger["A"].pk)] == ledger["A"].number
    assert labels[("payment", ledger["P2"].pk)] == ledger["P2"].display_number
    assert labels[("account", ledger["acme"])] == "Ada Lovelace / Acme Cleaning (EUR)"
    assert labels[("account", ledger["bolt"])] == "Ada Lovelace / Bolt Repairs (EUR)"


def test_a_repair_a_clerk_asked_for_is_recorded_as_theirs(ledger, clerk):
    run = reconcile.run_reconciliation(fix=True, by=clerk)
    cause = f"reconciliation run {run.pk}"
    for model in (InvoiceStatusChange, PaymentStatusChange):
        assert set(model.objects.filter(reason=cause).values_list("created_by", flat=True)) == {clerk.pk}


def batch_of_one(kind, row, *, fix, by=None):
    """process_batch on one drifted object alone (no `seen` from a run): its run and what it found."""
    run = ReconciliationRun.objects.create(fix=fix)
    candidate = reconcile.Candidate(kind, row.pk, getattr(row, "account_id", None))
    return run, reconcile.process_batch(run, [candidate], fix=fix, by=by)


def test_one_batch_rechecks_its_own_objects_only(ledger):
    # The payment P2 alone; the other drifted payments, invoices and accounts of the ledger are not this batch's.
    run, result = batch_of_one("payment", ledger["P2"], fix=False)
    assert (result.found, result.fixed) == (1, 0)
    assert {(d[0], d[1]) for d in diffs(run)} == {("payment", ledger["P2"].pk)}
