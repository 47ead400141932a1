"""Reconciliation checks the trigger-kept queue totals (issue 8): a key whose kept sums
differ from the live invoices or payments is reported per figure and, with --fix,
corrected by one delta row, after which the lists' totals are right again."""

import datetime

import pytest
from django.core.management import call_command
from django.db import connection

from allocations.services import allocate
from invoices.models import InvoiceQueueTotal
from payments.models import PaymentQueueTotal
from reconciliation import reconcile
from reconciliation.models import ReconciliationDifference, ReconciliationRun
from reconciliation.queue_totals import QUEUES, find_queue_total_drift
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db

ISSUED = datetime.date(2026, 10, 1)
DUE = datetime.date(2026, 11, 1)


@pytest.fixture
def books(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED, due_date=DUE)
    make_invoice(customer=customer, provider=provider, total="40.00", issue_date=ISSUED, due_date=DUE)
    payment = make_payment(customer=customer, amount="60.00")
    allocate(payment, invoice, "60.00", by=None)
    return invoice, payment


def _tamper(table: str, columns: str, values: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})")


def test_a_clean_ledger_has_no_queue_total_drift(books):
    for queue in QUEUES:
        assert find_queue_total_drift(queue, fix=False) == []
    run = reconcile.run_reconciliation()
    assert run.outcome == "clean"
    assert not ReconciliationDifference.objects.filter(run=run).exists()


def test_drifted_queue_totals_are_reported_then_corrected(books):
    # One invoice key loses 7.00 of its balance due; one payment key counts a payment too many.
    _tamper(
        "invoices_invoicequeuetotal",
        "state, payment_status, currency, due_date, invoices, balance_due, total",
        f"'open', 'unpaid', 'EUR', DATE '{DUE.isoformat()}', 0, -7.00, 0",
    )
    _tamper(
        "payments_paymentqueuetotal",
        "state, allocation_status, currency, payments, amount, unallocated",
        "'settled', 'fully_allocated', 'EUR', 1, 0, 0",
    )
    run = reconcile.run_reconciliation()
    assert run.outcome == "drift" and run.drift_found == 2
    found = {
        (d.object_kind, d.object_label, d.field, d.cached_value, d.ledger_value, d.fixed)
        for d in ReconciliationDifference.objects.filter(run=run)
    }
    assert found == {
        ("invoice_totals", f"open / unpaid / EUR / {DUE.isoformat()}", "balance_due", "33.00", "40.00", False),
        ("payment_totals", "settled / fully_allocated / EUR", "payments", "2", "1", False),
    }

    fixed = reconcile.run_reconciliation(fix=True)
    assert fixed.outcome == "fixed" and fixed.drift_found == fixed.drift_fixed == 2
    assert all(d.fixed for d in ReconciliationDifference.objects.filter(run=fixed))
    for queue in QUEUES:
        assert find_queue_total_drift(queue, fix=False) == []
    assert reconcile.run_reconciliation().outcome == "clean"
    # The lists read the corrected sums.
    unpaid = InvoiceQueueTotal.objects.filter(state="open", payment_status="unpaid", currency="EUR")
    assert sum(row.balance_due for row in unpaid) == 40
    assert sum(row.invoices for row in unpaid) == 1
    settled = PaymentQueueTotal.objects.filter(state="settled", allocation_status="fully_allocated")
    assert sum(row.payments for row in settled) == 1


def test_a_key_missing_from_the_kept_totals_is_found(books):
    # All the kept rows of a key gone (e.g. a botched manual compaction): the live key has no kept side.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM invoices_invoicequeuetotal WHERE payment_status = 'partially_paid'")
    (drift,) = find_queue_total_drift(QUEUES[0], fix=True)
    assert drift.key["payment_status"] == "partially_paid"
    assert drift.cached == {"invoices": 0, "balance_due": 0, "total": 0}
    assert drift.ledger["invoices"] == 1 and drift.ledger["balance_due"] == 40
    assert find_queue_total_drift(QUEUES[0], fix=False) == []


def test_compaction_then_reconciliation_finds_nothing(books):
    call_command("compact_queue_totals", stdout=None)
    for queue in QUEUES:
        assert find_queue_total_drift(queue, fix=False) == []


def test_the_check_counts_and_says_what_drifted_per_queue(books):
    _tamper(
        "invoices_invoicequeuetotal",
        "state, payment_status, currency, due_date, invoices, balance_due, total",
        f"'open', 'unpaid', 'EUR', DATE '{DUE.isoformat()}', 0, -7.00, 0",
    )
    _tamper(
        "invoices_invoicequeuetotal",
        "state, payment_status, currency, due_date, invoices, balance_due, total",
        f"'open', 'partially_paid', 'EUR', DATE '{DUE.isoformat()}', 1, 0, 0",
    )
    said: list[str] = []
    run = ReconciliationRun.objects.create()
    assert reconcile.check_queue_totals(run, fix=False, progress=said.append) == 2
    run.refresh_from_db()
    assert (run.drift_found, run.drift_fixed) == (2, 0)
    assert set(ReconciliationDifference.objects.filter(run=run).values_list("object_id", flat=True)) == {0}
    plurals = [str(queue.model._meta.verbose_name_plural).capitalize() for queue in QUEUES]
    assert said == [f"{plurals[0]}: 2 keys drifted."] + [f"{plural}: 0 keys drifted." for plural in plurals[1:]]

    said.clear()
    fixed = ReconciliationRun.objects.create(fix=True)
    assert reconcile.check_queue_totals(fixed, fix=True, progress=said.append) == 2
    fixed.refresh_from_db()
    assert (fixed.drift_found, fixed.drift_fixed) == (2, 2)
    assert said[0] == f"{plurals[0]}: 2 keys drifted (corrected)."
    assert said[1:] == [f"{plural}: 0 keys drifted." for plural in plurals[1:]]
