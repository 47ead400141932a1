"""I7: ledger rows are never updated or deleted, enforced by the database itself.

Raw SQL through django.db.connection bypasses every Python guard; the always-enabled
trigger of billing.guards must still refuse it (tests/billing/test_db_guards.py tries
every bypass, as the owner and as a real non-superuser role). Each refused statement runs in its own
savepoint so the test transaction stays usable.
"""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from allocations.services import allocate, deallocate
from billing.guards import APPEND_ONLY_TRIGGER, NO_TRUNCATE_TRIGGER
from billing.guards import LEDGER_TABLES as GUARDED_LEDGER
from invoices.services import issue_credit_note
from orders.services import create_order, invoice_order
from payments.services import record_chargeback, refund_payment
from reconciliation.models import ReconciliationDifference, ReconciliationRun
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db

LEDGER_TABLES = {
    "allocations_allocation": "amount",
    "payments_refund": "amount",
    "payments_chargeback": "amount",
    "invoices_creditnote": "amount",
    "invoices_invoicestatuschange": "new",
    "payments_paymentstatuschange": "new",
    "orders_orderstatuschange": "new",
    "ledger_entry": "amount",
}


@pytest.fixture
def ledger(customer, provider):
    """At least one row in every ledger table, made through the services."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "60.00", by=None)
    deallocate(payment, invoice, "10.00", by=None, reason="Correction")
    refund_payment(payment, amount="5.00", by=None, reason="Goodwill")
    record_chargeback(payment, amount="5.00", by=None, reason="Dispute")
    issue_credit_note(invoice, amount="10.00", by=None, reason="Discount")
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 1, "5")], by=None)
    invoice_order(order, by=None)  # not_invoiced -> invoiced: a row of order history
    return {"invoice": invoice, "payment": payment, "order": order}


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - fixed names
        return cursor.fetchone()[0]


def refused(sql: str, params=()) -> str:
    """Run sql in a savepoint; return the database's error message (fail if it succeeds)."""
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(excinfo.value)


@pytest.mark.parametrize("table", sorted(LEDGER_TABLES))
def test_update_is_refused_by_the_database(ledger, table):
    column = LEDGER_TABLES[table]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {table} ORDER BY id")  # noqa: S608
        before = cursor.fetchall()
    assert before, f"{table} has no row to protect"
    new_value = "'x'" if column == "new" else f"{column} + 1"
    message = refused(f"UPDATE {table} SET {column} = {new_value}")  # noqa: S608
    assert f"Cannot update or delete rows from {table} table" in message
    # Also a harmless-looking update of the reason only.
    refused(f"UPDATE {table} SET reason = 'edited' WHERE id = %s", [before[0][0]])  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {table} ORDER BY id")  # noqa: S608
        assert cursor.fetchall() == before


@pytest.mark.parametrize("table", sorted(LEDGER_TABLES))
def test_delete_is_refused_by_the_database(ledger, table):
    rows = count(table)
    message = refused(f"DELETE FROM {table}")  # noqa: S608
    assert f"Cannot update or delete rows from {table} table" in message
    assert count(table) == rows


def test_orm_update_and_delete_are_refused_too(ledger):
    from allocations.models import Allocation

    # A reversal row: nothing references it, so only the trigger can stop its deletion.
    row = Allocation.objects.filter(amount__lt=0).first()
    with pytest.raises(DatabaseError, match="Cannot update or delete rows"), transaction.atomic():
        Allocation.objects.filter(pk=row.pk).update(amount=Decimal("1.00"))
    with pytest.raises(DatabaseError, match="Cannot update or delete rows"), transaction.atomic():
        row.delete()
    assert Allocation.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("table", sorted(LEDGER_TABLES))
def test_insert_still_works(ledger, table, clerk):
    rows = count(table)
    invoice, payment = ledger["invoice"], ledger["payment"]
    inserts = {
        "allocations_allocation": (
            "INSERT INTO allocations_allocation (created_at, reason, payment_id, invoice_id, amount) "
            "VALUES (now(), 'raw', %s, %s, 1.00)",
            [payment.pk, invoice.pk],
        ),
        "payments_refund": (
            "INSERT INTO payments_refund (created_at, reason, payment_id, amount) VALUES (now(), 'raw', %s, 1.00)",
            [payment.pk],
        ),
        "payments_chargeback": (
            "INSERT INTO payments_chargeback (created_at, reason, payment_id, amount) VALUES (now(), 'raw', %s, 1.00)",
            [payment.pk],
        ),
        "invoices_creditnote": (
            "INSERT INTO invoices_creditnote (created_at, reason, invoice_id, amount) VALUES (now(), 'raw', %s, 1.00)",
            [invoice.pk],
        ),
        "invoices_invoicestatuschange": (
            "INSERT INTO invoices_invoicestatuschange (created_at, reason, field, old, new, invoice_id, created_by_id) "
            "VALUES (now(), 'raw', 'state', 'open', 'open', %s, %s)",
            [invoice.pk, clerk.pk],
        ),
        "payments_paymentstatuschange": (
            "INSERT INTO payments_paymentstatuschange (created_at, reason, field, old, new, payment_id) "
            "VALUES (now(), 'raw', 'state', 'settled', 'settled', %s)",
            [payment.pk],
        ),
        "orders_orderstatuschange": (
            "INSERT INTO orders_orderstatuschange (created_at, reason, field, old, new, order_id) "
            "VALUES (now(), 'raw', 'state', 'open', 'open', %s)",
            [ledger["order"].pk],
        ),
        "ledger_entry": (
            "INSERT INTO ledger_entry (kind, customer_id, currency, amount, effective_date, payment_id, created_at) "
            "VALUES ('payment_canceled', %s, 'EUR', 1.00, current_date, %s, now())",
            [payment.customer_id, payment.pk],
        ),
    }
    sql, params = inserts[table]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert count(table) == rows + 1


def test_the_triggers_are_installed_and_always_enabled():
    # 'A': ENABLE ALWAYS, so session_replication_role = replica does not silence them either.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE t.tgname IN (%s, %s) AND t.tgenabled = 'A'
            """,
            [APPEND_ONLY_TRIGGER, NO_TRUNCATE_TRIGGER],
        )
        installed = set(cursor.fetchall())
    expected = {(table, name) for table in GUARDED_LEDGER for name in (APPEND_ONLY_TRIGGER, NO_TRUNCATE_TRIGGER)}
    assert expected <= installed
    assert set(LEDGER_TABLES) | OTHER_APPEND_ONLY_TABLES == set(GUARDED_LEDGER)


# Append-only too, though not money: collection notes (tests/dunning/test_views.py checks
# UPDATE and DELETE fail), reconciliation differences (checked below) and the documents sent
# to customers, their PDFs and deliveries (tests/documents/ and tests/billing/test_db_guards.py),
# and credit note lines (no reason column of their own: tests/billing/test_db_guards.py); the
# plans' rule versions, waivers and status history (tests/plans/test_services.py); the orders'
# deliveries and cancellations and the registrations' history (tests/billing/test_db_guards.py); the
# export batches, their payload chunks, items, balances and deliveries (tests/exports/ and
# tests/billing/test_db_guards.py).
OTHER_APPEND_ONLY_TABLES = {
    "exports_exportbatch",
    "exports_exportchunk",
    "exports_exportitem",
    "exports_exportbalance",
    "exports_delivery",
    "plans_penaltyassessment",
    "plans_penaltyrule",
    "plans_penaltywaiver",
    "plans_planstatuschange",
    "orders_orderlinemovement",
    "registrations_registrationchange",
    "invoices_creditnoteline",
    "billing_collectionnote",
    "reconciliation_reconciliationdifference",
    "documents_document",
    "documents_documentpdf",
    "documents_delivery",
}


def test_reconciliation_differences_cannot_be_rewritten(ledger):
    run = ReconciliationRun.objects.create()
    difference = ReconciliationDifference.objects.create(
        run=run,
        object_kind="invoice",
        object_id=ledger["invoice"].pk,
        object_label="x",
        field="paid_total",
        cached_value="1.00",
        ledger_value="2.00",
    )
    with pytest.raises(DatabaseError, match="Cannot update or delete rows"), transaction.atomic():
        ReconciliationDifference.objects.filter(pk=difference.pk).update(ledger_value="1.00")
    with pytest.raises(DatabaseError, match="Cannot update or delete rows"), transaction.atomic():
        difference.delete()
    assert ReconciliationDifference.objects.get(pk=difference.pk).ledger_value == "2.00"
