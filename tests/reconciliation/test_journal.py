"""reconcile_statuses checks the entry journal against the rows it mirrors (I1) and never rewrites it.

Rows are written behind the journal's back with raw SQL (as a buggy code path would),
keeping every cache on the row consistent, so that only the journal tells.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection

from allocations.services import allocate
from invoices.services import issue_credit_note, void_invoice
from payments.services import cancel_payment, record_chargeback, refund_payment
from reconciliation import reconcile
from reconciliation.journal import find_journal_drift
from reconciliation.models import ReconciliationRun
from tests.factories import CustomerFactory, make_invoice, make_payment
from tests.invariants import violations
from tests.reconciliation.test_reconcile import diffs, reconcile_command

pytestmark = pytest.mark.django_db

D = Decimal
ISSUED = datetime.date(2026, 10, 1)


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def insert_payment_behind_the_journal(customer, amount: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payments_payment (customer_id, currency, amount, method, reference, received_at,"
            " refunded_total, charged_back_total, allocated_total, unallocated, state, allocation_status,"
            " created_at, cancel_reason)"
            " VALUES (%s, 'EUR', %s, 'cash', NULL, now(), 0, 0, 0, %s, 'settled', 'unallocated', now(), '')"
            " RETURNING id",
            [customer.pk, amount, amount],
        )
        return cursor.fetchone()[0]


def test_every_service_keeps_the_journal_in_step(customer, provider, other_provider, clerk):
    a = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    b = make_invoice(customer=customer, provider=other_provider, total="40.00", issue_date=ISSUED)
    issue_credit_note(a, amount="10.00", by=clerk, reason="discount")
    void_invoice(b, by=clerk, reason="error")
    paid = make_payment(customer=customer, amount="120.00")
    allocate(paid, a, "90.00", by=clerk)
    refund_payment(paid, amount="30.00", by=clerk, reason="extra")
    record_chargeback(make_payment(customer=customer, amount="15.00"), amount="5.00", by=clerk, reason="dispute")
    cancel_payment(make_payment(customer=customer, amount="7.00"), by=clerk, reason="twice")

    assert find_journal_drift() == []
    code, out = reconcile_command()
    assert code == 0
    assert "Entry journal: 0 customers or accounts drifted." in out


def test_a_payment_written_behind_the_journals_back_is_reported(customer, clerk):
    make_payment(customer=customer, amount="100.00")
    insert_payment_behind_the_journal(customer, "50.00")
    assert [name.split(":")[0] for name in violations()] == ["I1 entry journal per customer"]

    code, out = reconcile_command()

    run = ReconciliationRun.objects.get()
    assert code == 1
    assert diffs(run) == {
        ("journal_customer", customer.pk, "payment", "-100.00", "-150.00"),
        ("journal_customer", customer.pk, "payment entries", "1", "2"),
    }
    assert (run.outcome, run.drift_found) == ("drift", 1)
    assert run.differences.first().object_label == f"{customer} (EUR)"
    assert "Entry journal: 1 customers or accounts drifted (reported, never rewritten" in out


def test_journal_drift_is_never_fixed_and_stays_reported(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    # A credit note written behind the journal's back (the invoice's caches moved with it).
    sql(
        "INSERT INTO invoices_creditnote (invoice_id, amount, created_at, reason) VALUES (%s, 25, now(), 'raw')",
        [invoice.pk],
    )
    sql("UPDATE invoices_invoice SET credited_total = 25, balance_due = 75 WHERE id = %s", [invoice.pk])
    sql("UPDATE billing_account SET balance_due = 75 WHERE id = %s", [invoice.account_id])

    code, _ = reconcile_command("--fix")

    run = ReconciliationRun.objects.get()
    assert code == 1
    assert diffs(run) == {
        ("journal_customer", customer.pk, "credit_note", "0.00", "-25.00"),
        ("journal_customer", customer.pk, "credit_note entries", "0", "1"),
        ("journal_account", invoice.account_id, "credit_note", "0.00", "-25.00"),
        ("journal_account", invoice.account_id, "credit_note entries", "0", "1"),
    }
    assert (run.outcome, run.drift_found, run.drift_fixed) == ("partly_fixed", 2, 0)
    assert not run.differences.filter(fixed=True).exists()

    code, _ = reconcile_command("--fix")
    assert code == 1
    assert ReconciliationRun.objects.first().drift_found == 2


def test_an_entry_for_the_wrong_customer_shows_on_both(customer, provider, clerk):
    other = CustomerFactory()
    make_invoice(customer=customer, provider=provider, total="10.00", issue_date=ISSUED)
    # A buggy path recorded other's payment and wrote its entry to the wrong customer.
    payment_id = insert_payment_behind_the_journal(other, "10.00")
    sql(
        "INSERT INTO ledger_entry (kind, customer_id, currency, amount, effective_date, payment_id, created_at)"
        " VALUES ('payment', %s, 'EUR', -10, current_date, %s, now())",
        [customer.pk, payment_id],
    )
    found = {(d.kind, d.id): d.fields for d in find_journal_drift()}
    assert found == {
        ("journal_customer", customer.pk): [("payment", D("-10.00"), D("0")), ("payment entries", 1, 0)],
        ("journal_customer", other.pk): [("payment", D("0"), D("-10.00")), ("payment entries", 0, 1)],
    }
    assert "I5 entry party differs from its source" in {name.split(":")[0] for name in violations()}


def test_the_journal_check_on_its_own_finds_the_drift_and_cuts_a_long_label(customer, clerk):
    # 199 characters of name: the 201st of the label is not a space (PostgreSQL cuts trailing spaces to fit).
    customer.name = "J" * 199
    customer.save()
    make_payment(customer=customer, amount="100.00")
    insert_payment_behind_the_journal(customer, "50.00")
    run = ReconciliationRun.objects.create()

    assert reconcile.check_journal(run) == 1  # it looks for the drift itself when not given it

    labels = set(run.differences.values_list("object_label", "fixed"))
    assert labels == {(("J" * 199 + " (EUR)")[:200], False)}
