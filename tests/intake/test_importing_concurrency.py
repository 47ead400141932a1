"""Two clerks import the same statement at the same moment: nothing is recorded twice (real threads)."""

import contextlib
import threading
from pathlib import Path

import pytest
from django.db import connection

from allocations.models import Allocation
from intake.importing import Outcome, import_statement
from intake.models import BankEntry
from payments.models import Chargeback, Payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db(transaction=True)

STATEMENT = (Path(__file__).resolve().parent / "samples" / "statement.csv").read_bytes()


def test_simultaneous_imports_of_one_file_record_each_entry_once(world):
    start, reports, errors = threading.Barrier(3), [], []

    def clerk():
        try:
            start.wait()
            reports.append(import_statement(STATEMENT, source_name="statement.csv", by=None))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=clerk) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert (Payment.objects.count(), BankEntry.objects.count(), Chargeback.objects.count()) == (5, 7, 1)
    assert Allocation.objects.filter(amount__gt=0).count() == 8  # 1 + 3 + 1 + 2 + 1
    for position in ("line 2", "line 3", "line 4", "line 6", "line 8", "line 10", "line 12"):
        outcomes = sorted(next(r for r in report.results if r.position == position).outcome for report in reports)
        assert outcomes.count(Outcome.ALREADY_IMPORTED) == 2, (position, outcomes)
    assert_invariants()


def test_a_clerk_allocating_while_an_import_runs_never_deadlocks(world):
    """The import's chunk holds its customers' account locks from its start (intake.pipeline),
    so a clerk allocating to the same customers waits instead of deadlocking."""
    from decimal import Decimal

    from allocations.services import allocate
    from invoices.models import Invoice
    from payments.services import record_payment

    clerk_payments = [
        record_payment(customer=world[name], amount="1.00", currency=currency, method="cash", by=None)
        for name, currency in (("echo", "EUR"), ("acme", "EUR"), ("bolt", "USD"))
    ]
    start, errors = threading.Barrier(2), []

    def importer():
        try:
            start.wait()
            import_statement(STATEMENT, source_name="statement.csv", by=None)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def clerk():
        try:
            start.wait()
            for payment, number in zip(clerk_payments, ("ECHO-000121", "ACME-000042", "BOLT-000009"), strict=True):
                allocate(payment, Invoice.objects.get(number=number), Decimal("1.00"), by=None)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=importer), threading.Thread(target=clerk)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [type(e).__name__ for e in errors if "deadlock" in str(e).lower()] == []
    assert BankEntry.objects.count() == 7
    assert_invariants()


@contextlib.contextmanager
def _holding_reference_locks(references):
    """Another connection in the middle of an import: it holds the advisory locks of `references`
    until the block ends (then rolls back, as an import that failed)."""
    from django.db import connections

    from intake.pipeline import LOCK_NAMESPACE

    other = connections.create_connection("default")
    other.set_autocommit(False)
    try:
        with other.cursor() as cursor:
            for reference in references:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, reference])
        yield
    finally:
        other.rollback()
        other.close()


def _import_in_thread(done: list):
    def run():
        try:
            done.append(import_statement(STATEMENT, source_name="statement.csv", by=None))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_reimport_does_not_wait_for_another_import_of_the_same_references(world):
    """What is found imported needs no lock: a re-import goes through while an overlapping import
    holds its references' locks (it waited for that import's whole chunk before)."""
    first = import_statement(STATEMENT, source_name="statement.csv", by=None)
    references = sorted({r.bank_reference for r in first.results if r.bank_reference})
    done: list = []
    with _holding_reference_locks(references):
        thread = _import_in_thread(done)
        thread.join(timeout=10)
        assert not thread.is_alive(), "the re-import waited for the other import's locks"
    thread.join(timeout=30)
    outcomes = {r.outcome for r in done[0].results if r.bank_reference}
    assert outcomes == {Outcome.ALREADY_IMPORTED}


def test_a_new_reference_still_waits_for_the_import_holding_its_lock(world):
    """References not found imported are locked before they are read again: the second import
    waits for the first, then finds what it committed (here: nothing, it rolled back) and records
    each entry once."""
    reference = "NB240304-0001"  # the statement's first credit (tests/intake/samples/statement.csv)
    assert reference.encode() in STATEMENT
    done: list = []
    with _holding_reference_locks([reference]):
        thread = _import_in_thread(done)
        thread.join(timeout=2)
        assert thread.is_alive(), "the import read a new reference without waiting for its lock"
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert BankEntry.objects.filter(bank_reference=reference).count() == 1
    assert_invariants()
