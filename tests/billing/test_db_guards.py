"""I7 without loopholes: every known way around the ledger guards is refused (issue 8, item 2).

Two kinds of session try every bypass on every ledger table:
- the tables' owner (the test database's superuser, as in development), through Django's
  connection: pgtrigger.ignore, session_replication_role = replica and settle.maintenance
  do not let UPDATE, DELETE or TRUNCATE through (only TRUNCATE with settle.maintenance,
  the documented flush hatch of billing/guards.py, passes for the owner);
- real non-superuser login roles made for the test, connecting with psycopg over the
  embedded server's socket: one granted exactly like the production application role
  (`manage.py db_roles`), and a carelessly granted one (ALL on every table) that only the
  triggers stop.
"""

from __future__ import annotations

import datetime
import re
import secrets
from decimal import Decimal
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from allocations.services import allocate, deallocate
from billing.guards import LEDGER_TABLES, MAINTENANCE_SQL, grants_sql, roles_sql
from documents.models import Delivery, DocumentPdf
from documents.services import issue_statement
from dunning.models import CollectionNote
from exports.models import Delivery as ExportDelivery
from exports.services import export_batch
from intake.models import BankEntry
from invoices.services import issue_credit_note
from orders.services import create_order, invoice_order, record_delivery
from payments.services import record_chargeback, refund_payment
from plans.services import assess_penalties, create_plan, waive_future_penalties
from reconciliation.models import ReconciliationDifference, ReconciliationRun
from registrations.services import cancel_registration, create_workshop, register
from tests.factories import make_invoice, make_payment

# A change to each guarded table's rows (bank entries: one of the bank's facts).
CHANGES = {
    "allocations_allocation": "amount = amount + 1",
    "payments_refund": "reason = reason || ' (edited)'",
    "payments_chargeback": "reason = reason || ' (edited)'",
    "invoices_creditnote": "amount = amount + 1",
    "invoices_creditnoteline": "quantity = quantity + 1",
    "invoices_invoicestatuschange": "reason = reason || ' (edited)'",
    "payments_paymentstatuschange": "reason = reason || ' (edited)'",
    "orders_orderstatuschange": "reason = reason || ' (edited)'",
    "orders_orderlinemovement": "quantity = quantity + 1",
    "registrations_registrationchange": "new = 'confirmed'",
    "billing_collectionnote": "text = text || ' (edited)'",
    "reconciliation_reconciliationdifference": "ledger_value = '0.00'",
    "payments_bankentry": "amount = amount + 1",
    "ledger_entry": "amount = amount + 1",
    "documents_document": "html = html || ' (edited)'",
    "documents_documentpdf": "pdf = pdf || 'x'::bytea",
    "documents_delivery": "result = 'ok'",
    "plans_penaltyrule": "grace_days = grace_days + 1",
    "plans_penaltyassessment": "candidates = candidates + 1",
    "plans_penaltywaiver": "reason = reason || ' (edited)'",
    "plans_planstatuschange": "reason = reason || ' (edited)'",
    "exports_exportbatch": "sha256 = repeat('0', 64)",
    "exports_exportchunk": "data = data || 'x'::bytea",
    "exports_exportitem": "profile = profile || 'x'",
    "exports_exportbalance": "opening = opening + 1, closing = closing + 1",
    "exports_delivery": "result = 'ok'",
}
GUARDED = sorted(CHANGES)


def test_every_ledger_table_is_covered():
    assert set(LEDGER_TABLES) | {"payments_bankentry"} == set(CHANGES)


def make_ledger(customer, provider) -> None:
    """At least one row in every guarded table, made the ordinary way."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "60.00", by=None)
    deallocate(payment, invoice, "10.00", by=None, reason="Correction")
    refund_payment(payment, amount="5.00", by=None, reason="Goodwill")
    record_chargeback(payment, amount="5.00", by=None, reason="Dispute")
    issue_credit_note(invoice, amount="10.00", by=None, reason="Discount")
    by_quantity = make_invoice(customer=customer, provider=provider, total="20.00")
    issue_credit_note(by_quantity, lines={by_quantity.lines.get(): "0.5"}, by=None, reason="Half returned")
    order = create_order(
        customer=customer, provider=provider, currency="EUR", lines=[("A", 1, "5")], invoicing="delivered", by=None
    )
    record_delivery(order, quantities={order.lines.get(): 1}, by=None)
    invoice_order(order, by=None)
    # A registration's history row (registered, then canceled).
    workshop = create_workshop(
        provider=provider,
        title="Guards",
        starts_at=timezone.now() + datetime.timedelta(days=30),
        capacity=1,
        price="5.00",
        currency="EUR",
        by=None,
    )
    cart = register(customer=customer, workshops=[workshop], by=None)
    cancel_registration(cart.registrations.get(), by=None, reason="Changed plans")
    # A plan with a rule version, a waiver and a status change (paid off).
    plan = create_plan(
        customer=customer,
        provider=provider,
        currency="EUR",
        principal="10.00",
        installments=1,
        first_due_date=datetime.date.today() + datetime.timedelta(days=30),
        penalty={"kind": "fixed", "amount": "1.00"},
        by=None,
    )
    installment = plan.installments.get()
    waive_future_penalties(installment, by=None, reason="Hardship")
    allocate(make_payment(customer=customer, amount="10.00"), installment, "10.00", by=None)
    assess_penalties(by=None)
    CollectionNote.objects.create(account=invoice.account, outcome="reached", text="Will pay Friday.")
    run = ReconciliationRun.objects.create()
    ReconciliationDifference.objects.create(
        run=run,
        object_kind="invoice",
        object_id=invoice.pk,
        object_label="x",
        field="paid_total",
        cached_value="1.00",
        ledger_value="2.00",
    )
    BankEntry.objects.create(
        bank_reference="NB-1",
        booking_date="2026-01-05",
        amount=Decimal("100.00"),
        currency="EUR",
        credit=True,
        source_position="line 1",
        status="recorded",
        payment=payment,
        customer=customer,
    )
    # An export batch (its items, balances and payload chunk) and a failed delivery of it.
    batch = export_batch(profile="agency", by=None)
    ExportDelivery.objects.create(
        batch=batch,
        result="failed",
        to="/nowhere",
        idempotency_key=batch.idempotency_key,
        sha256=batch.sha256,
        error="Disk full",
    )
    # A statement, a PDF and a delivery, without WeasyPrint or SMTP (their tests are tests/documents/).
    document = issue_statement(customer, by=None)
    DocumentPdf.objects.create(document=document, pdf=b"%PDF-1.7 not a real one", sha256="0" * 64)
    Delivery.objects.create(
        document=document,
        channel="email",
        to="a@example.com",
        sent_at="2026-01-05T10:00Z",
        result="failed",
        sha256=document.sha256,
    )


def settle_pending_checks() -> None:
    """Run the deferred foreign-key checks now: TRUNCATE refuses a table with pending trigger events."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def contents(table: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {table} t ORDER BY id")  # noqa: S608 - fixed names
        return [row[0] for row in cursor.fetchall()]


def attempts(table: str) -> dict[str, list[str]]:
    """Each bypass as the statements one session runs, in one transaction."""
    # What pgtrigger.ignore() sets: "{table:trigger,...}" naming every trigger of the table (it
    # switched the old pgtrigger Protect triggers off, for any role).
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table])
        names = ",".join(f"{table}:{name}" for (name,) in cursor.fetchall())
    ignore = f"SELECT set_config('pgtrigger.ignore', '{{{names}}}', true)"
    update = f"UPDATE {table} SET {CHANGES[table]}"  # noqa: S608
    delete = f"DELETE FROM {table}"  # noqa: S608
    return {
        "update": [update],
        "delete": [delete],
        "pgtrigger.ignore + update": [ignore, update],
        "pgtrigger.ignore + delete": [ignore, delete],
        "truncate": [f"TRUNCATE {table}"],
        "truncate cascade": [f"TRUNCATE {table} CASCADE"],
        "truncate a parent, cascading": ["TRUNCATE billing_customer CASCADE"],
        "replica + update": ["SET LOCAL session_replication_role = replica", update],
        "replica + delete": ["SET LOCAL session_replication_role = replica", delete],
        "replica + truncate": ["SET LOCAL session_replication_role = replica", f"TRUNCATE {table} CASCADE"],
        "maintenance + update": [MAINTENANCE_SQL, update],
        "maintenance + delete": [MAINTENANCE_SQL, delete],
        "maintenance + truncate": [MAINTENANCE_SQL, f"TRUNCATE {table} CASCADE"],
        "disable trigger": [f"ALTER TABLE {table} DISABLE TRIGGER ALL", update],
        "drop trigger": [f"DROP TRIGGER settle_no_truncate ON {table}", f"TRUNCATE {table}"],
    }


# The owner may drop its own triggers (DESIGN.md section 2 keeps the application from being the owner),
# and TRUNCATE with settle.maintenance is the flush hatch (tested below).
OWNER_MAY = {"disable trigger", "drop trigger", "maintenance + truncate"}


# --- as the owner (development's single superuser) -------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("table", GUARDED)
def test_no_session_setting_lets_the_owner_rewrite_the_ledger(customer, provider, table):
    make_ledger(customer, provider)
    settle_pending_checks()
    before = contents(table)
    assert before, f"{table} has no row to protect"
    for name, statements in attempts(table).items():
        if name in OWNER_MAY:
            continue
        # Plain TRUNCATE of a table others reference stops at the foreign key; with CASCADE, at the guard.
        refusal = r"Cannot (update or delete rows from|truncate) \w+ table|cannot truncate a table referenced"
        with pytest.raises(DatabaseError, match=refusal):
            with transaction.atomic(), connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
            pytest.fail(f"{name} went through on {table}")
        assert contents(table) == before, name


@pytest.mark.django_db
def test_the_maintenance_hatch_truncates_for_the_owner_only_inside_its_transaction(customer, provider):
    make_ledger(customer, provider)
    settle_pending_checks()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(MAINTENANCE_SQL)
            cursor.execute("TRUNCATE allocations_allocation, billing_collectionnote")
        assert contents("allocations_allocation") == []
        transaction.set_rollback(True)
    assert contents("allocations_allocation")
    # SET LOCAL ended with that transaction: the next TRUNCATE is refused again.
    with pytest.raises(DatabaseError, match="Cannot truncate"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE billing_collectionnote")


# --- as real non-superuser roles ---------------------------------------------------------


def _role(grant: str):
    name = f"settle_test_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s NOSUPERUSER NOCREATEDB NOCREATEROLE", [password])
        cursor.execute(f"GRANT CONNECT ON DATABASE {connection.settings_dict['NAME']} TO {name}")
        cursor.execute(grant.format(role=name))
    return name, password


def _drop_role(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {name}")
        cursor.execute(f"DROP ROLE {name}")


def _connect(name: str, password: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or None,
        dbname=settings["NAME"],
        user=name,
        password=password,
        autocommit=True,
    )


@pytest.fixture(params=["app role", "role granted everything"])
def role(request, transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    if request.param == "app role":
        name, password = _role("SELECT 1")
        # Granted by the production command itself (its --execute path), as the owner would run it.
        call_command("db_roles", "--owner", owner, "--app", name, "--grants-only", "--execute", stdout=StringIO())
    else:
        name, password = _role("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    with _connect(name, password) as session:
        yield request.param, session
    _drop_role(name)


@pytest.mark.parametrize("table", GUARDED)
def test_a_non_superuser_role_cannot_rewrite_the_ledger_by_any_means(role, table, customer, provider):
    kind, session = role
    make_ledger(customer, provider)  # committed: transactional_db
    with session.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[1] is False
    before = contents(table)
    for name, statements in attempts(table).items():
        with pytest.raises(psycopg.Error) as refused:
            with session.transaction(), session.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
            pytest.fail(f"{name} went through on {table} as the {kind}")
        assert contents(table) == before, name
        # Each refusal is by privilege (the app role), ownership, superuser-only setting, or the guard itself
        # (or, for a plain TRUNCATE of a table others reference, the foreign key: CASCADE meets the guard).
        assert isinstance(refused.value, psycopg.errors.InsufficientPrivilege | psycopg.errors.RaiseException) or (
            "referenced in a foreign key" in str(refused.value)
        ), f"{name}: {refused.value!r}"
    # The carelessly granted role holds the privileges: only the triggers stopped it.
    if kind == "role granted everything":
        with pytest.raises(psycopg.errors.RaiseException), session.transaction(), session.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {CHANGES[table]}")  # noqa: S608


def test_the_app_role_still_does_its_work(role, customer, provider):
    kind, session = role
    make_ledger(customer, provider)
    with session.transaction(), session.cursor() as cursor:
        cursor.execute("SELECT account_id FROM invoices_invoice LIMIT 1")
        (account_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO billing_collectionnote (account_id, outcome, text, created_at) VALUES (%s, 'reached', 'x', now())",
            [account_id],
        )
        cursor.execute("UPDATE billing_customer SET phone = '+44 1234'")
        cursor.execute("UPDATE payments_bankentry SET note = 'checked'")  # the status side of a bank entry moves on
    assert CollectionNote.objects.count() == 2


def test_a_temporary_table_cannot_stand_in_for_the_invoices(role, customer, provider):
    """pg_temp comes first on a default search_path: the guards look tables up with it last."""
    kind, session = role
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    with pytest.raises(psycopg.errors.RaiseException, match="lines never change"):
        with session.transaction(), session.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE invoices_invoice (id bigint, number text, state text)")
            cursor.execute("INSERT INTO invoices_invoice VALUES (%s, NULL, 'draft')", [invoice.pk])
            cursor.execute(
                "UPDATE public.invoices_invoiceline SET amount = 1, unit_price = 1 WHERE invoice_id = %s", [invoice.pk]
            )
    assert invoice.lines.get().amount == Decimal("100.00")


def test_db_roles_command_prints_owner_and_app_roles(capsys):
    call_command("db_roles", "--owner", "acme_owner", "--app", "acme_app")
    sql = capsys.readouterr().out
    assert "CREATE ROLE acme_owner LOGIN" in sql and "CREATE ROLE acme_app LOGIN" in sql
    assert "ALTER SCHEMA public OWNER TO acme_owner" in sql
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE acme_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE" in sql
    assert not re.search(r"GRANT [^;]*TRUNCATE", sql)  # never granted, anywhere


def test_db_roles_refuses_the_owner_as_app_role():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="must not be the owner"):
        call_command("db_roles", "--owner", "settle", "--app", "settle")


def test_the_roles_sql_makes_an_owner_and_an_app_role_that_owns_nothing(db):
    """The whole script, on a scratch database whose tables a superuser made (an existing install)."""
    settings = connection.settings_dict
    suffix = secrets.token_hex(4)
    database, owner, app = f"settle_roles_{suffix}", f"settle_owner_{suffix}", f"settle_app_{suffix}"

    def connect(dbname, user=settings["USER"]):
        return psycopg.connect(
            host=settings["HOST"], port=settings["PORT"] or None, dbname=dbname, user=user, autocommit=True
        )

    with connect(settings["NAME"]) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        with connect(database) as scratch:
            scratch.execute(
                "CREATE TABLE allocations_allocation (id bigint GENERATED BY DEFAULT AS IDENTITY, amount numeric)"
            )
            scratch.execute("CREATE TABLE billing_customer (id bigint GENERATED BY DEFAULT AS IDENTITY, name text)")
            scratch.execute("INSERT INTO allocations_allocation (amount) VALUES (1)")
            scratch.execute(roles_sql(owner, app, database) + grants_sql(owner, app))
            scratch.execute(roles_sql(owner, app, database) + grants_sql(owner, app))  # idempotent
            owners = scratch.execute(
                "SELECT relname, relowner::regrole::text FROM pg_class WHERE relname IN"
                " ('allocations_allocation', 'billing_customer')"
            ).fetchall()
            assert {table: role for table, role in owners} == {
                "allocations_allocation": owner,
                "billing_customer": owner,
            }
            rights = scratch.execute(
                "SELECT has_table_privilege(%(app)s, 'allocations_allocation', 'INSERT'),"
                " has_table_privilege(%(app)s, 'allocations_allocation', 'UPDATE'),"
                " has_table_privilege(%(app)s, 'allocations_allocation', 'DELETE'),"
                " has_table_privilege(%(app)s, 'billing_customer', 'UPDATE'),"
                " has_table_privilege(%(app)s, 'billing_customer', 'TRUNCATE'),"
                " (SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = %(app)s)",
                {"app": app},
            ).fetchone()
            assert rights == (True, False, False, True, False, False)
        with connect(database, user=app) as session:
            session.execute("INSERT INTO allocations_allocation (amount) VALUES (2)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                session.execute("UPDATE allocations_allocation SET amount = 0")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                session.execute("CREATE TABLE sneaky (id int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                session.execute("CREATE TEMP TABLE invoices_invoice (id bigint, state text)")
        with connect(database, user=owner) as session:  # tables made by later migrations: default privileges
            session.execute("CREATE TABLE later_table (id bigint GENERATED BY DEFAULT AS IDENTITY)")
        with connect(database, user=app) as session:
            session.execute("INSERT INTO later_table DEFAULT VALUES")
    finally:
        with connect(settings["NAME"]) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            for role in (app, owner):
                admin.execute(f"DROP ROLE IF EXISTS {role}")
