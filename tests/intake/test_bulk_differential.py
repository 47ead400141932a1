"""The set-based write of a chunk of credits writes what the per-entry path writes (issue 10).

The same credits are recorded once with record_and_allocate, one after another, and once
with record_and_allocate_many, each from the same database state (the first run is rolled
back); every row they write (payments, allocations, both status histories, the journal,
invoice, payment and account caches, the queue totals) is captured without ids and
timestamps and compared, and the invariants are checked after each run.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from allocations.services import allocate
from intake.services import NewCredit, booked_at, record_and_allocate, record_and_allocate_many
from orders.services import create_order, invoice_order
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.invariants import assert_invariants

DAY = datetime.date(2026, 11, 2)

_SNAPSHOT = {
    "payments": """
        SELECT p.reference, c.name, p.currency, p.amount, p.method, p.received_at, p.state, p.allocation_status,
               p.allocated_total, p.unallocated, p.refunded_total, p.charged_back_total, p.created_by_id
        FROM payments_payment p JOIN billing_customer c ON c.id = p.customer_id ORDER BY p.reference""",
    "allocations": """
        SELECT p.reference, i.number, a.amount, a.reason, a.reverses_id, a.created_by_id
        FROM allocations_allocation a JOIN payments_payment p ON p.id = a.payment_id
        JOIN invoices_invoice i ON i.id = a.invoice_id ORDER BY p.reference, a.id""",
    "payment history": """
        SELECT p.reference, h.field, h.old, h.new, h.reason, h.created_by_id
        FROM payments_paymentstatuschange h JOIN payments_payment p ON p.id = h.payment_id
        ORDER BY p.reference, h.id""",
    "invoice history": """
        SELECT i.number, h.field, h.old, h.new, h.reason, h.created_by_id
        FROM invoices_invoicestatuschange h JOIN invoices_invoice i ON i.id = h.invoice_id
        ORDER BY i.number, h.id""",
    "journal": """
        SELECT e.kind, e.customer_id, e.account_id, e.currency, e.amount, e.effective_date, i.number, p.reference
        FROM ledger_entry e LEFT JOIN invoices_invoice i ON i.id = e.invoice_id
        LEFT JOIN payments_payment p ON p.id = e.payment_id ORDER BY e.id""",
    "invoices": """
        SELECT number, state, total, credited_total, paid_total, balance_due, payment_status
        FROM invoices_invoice ORDER BY number""",
    "orders": """
        SELECT number, state, billing_status, payment_status, invoiced_total, paid_total, balance_due
        FROM orders_order ORDER BY number""",
    "accounts": "SELECT id, balance_due, open_invoice_count, oldest_due_date FROM billing_account ORDER BY id",
    "plans": "SELECT id, state FROM plans_plan ORDER BY id",
    "plan history": "SELECT plan_id, field, old, new, reason, created_by_id FROM plans_planstatuschange ORDER BY id",
    "invoice queue": """
        SELECT state, payment_status, currency, due_date, SUM(invoices), SUM(balance_due), SUM(total)
        FROM invoices_invoicequeuetotal GROUP BY 1, 2, 3, 4
        HAVING SUM(invoices) <> 0 OR SUM(balance_due) <> 0 OR SUM(total) <> 0 ORDER BY 1, 2, 3, 4""",
    "payment queue": """
        SELECT state, allocation_status, currency, SUM(payments), SUM(amount), SUM(unallocated)
        FROM payments_paymentqueuetotal GROUP BY 1, 2, 3
        HAVING SUM(payments) <> 0 OR SUM(amount) <> 0 OR SUM(unallocated) <> 0 ORDER BY 1, 2, 3""",
}


def snapshot() -> dict[str, list]:
    """Every row the import writes, with payment numbers (P-<id>) spelt by reference."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, reference FROM payments_payment")
        names = {f"P-{pk}": f"P[{reference}]" for pk, reference in cursor.fetchall()}
        found = {}
        for name, sql in _SNAPSHOT.items():
            cursor.execute(sql)
            found[name] = [tuple(_named(value, names) for value in row) for row in cursor.fetchall()]
    return found


def _named(value, names):
    if isinstance(value, str):
        return re.sub(r"P-\d+", lambda m: names.get(m.group(0), m.group(0)), value)
    return value


def _outcomes(results) -> list:
    return [
        (p.reference, [(line.invoice_number, line.amount, line.reason) for line in lines], note)
        for p, lines, note in results
    ]


def run_both(credits: list[NewCredit], by=None):
    """Per entry, then (from the same state) set-based: their snapshots and reported outcomes."""
    found = []
    for bulk in (False, True):
        with transaction.atomic():
            if bulk:
                results = record_and_allocate_many(credits, by=by)
            else:
                results = [
                    record_and_allocate(
                        c.reference,
                        customer=c.customer,
                        amount=c.amount,
                        currency=c.currency,
                        booked=c.booked,
                        remittance_text=c.remittance_text,
                        by=by,
                        recorded_before=False,
                    )
                    for c in credits
                ]
            assert_invariants()
            found.append((snapshot(), _outcomes(results)))
            transaction.set_rollback(True)
    return found


def credit(reference, customer, amount, currency="EUR", text="", day=DAY):
    return NewCredit(reference, customer, Decimal(amount), currency, booked_at(day), text)


def assert_same(found):
    (per_entry, per_entry_outcomes), (bulk, bulk_outcomes) = found
    for table in _SNAPSHOT:
        assert bulk[table] == per_entry[table], table
    assert bulk_outcomes == per_entry_outcomes


@pytest.mark.django_db(transaction=False)
def test_a_chunk_writes_what_the_entries_write_one_by_one(clerk):
    acme, bolt = ProviderFactory(code="ACME"), ProviderFactory(code="BOLT")
    ada, bob, cy, dee = (CustomerFactory(name=name) for name in ("Ada", "Bob", "Cy", "Dee"))
    old = datetime.date(2026, 8, 1)
    a1 = make_invoice(customer=ada, provider=acme, total="100.00", issue_date=old)
    a2 = make_invoice(customer=ada, provider=bolt, total="250.00", issue_date=old + datetime.timedelta(days=5))
    make_invoice(customer=ada, provider=acme, total="40.00")
    make_invoice(customer=ada, provider=acme, total="75.00", currency="USD")
    b1 = make_invoice(customer=bob, provider=acme, total="500.00")
    make_invoice(customer=dee, provider=bolt, total="5000", currency="JPY")
    make_invoice(customer=dee, provider=acme, total="89.99", currency="GBP")
    # Paid in part before the chunk: the chunk's history starts from partially_paid.
    allocate(make_payment(customer=ada, amount="20.00", reference="EARLIER"), a1, "20.00", by=clerk)
    # Invoices of orders: the chunk's payments refresh their orders through ledger.bulk.
    cy_order = create_order(customer=cy, provider=acme, currency="EUR", lines=[("Lamp", 2, "15.00")], by=clerk)
    invoice_order(cy_order, by=clerk)
    bob_order = create_order(customer=bob, provider=bolt, currency="EUR", lines=[("Desk", 1, "80.00")], by=clerk)
    invoice_order(bob_order, by=clerk)
    credits = [
        credit("R1", ada, "100.00", text=f"invoice {a2.number}"),  # named, part of it
        credit("R2", ada, "220.00"),  # what is left: oldest first over a1, a2, a3
        credit("R3", ada, "75.00", "USD"),  # exact match in another currency
        credit("R4", bob, "200.00", text=f"{b1.number} part"),
        credit("R5", bob, "400.00"),  # over-payment: 100.00 stays unallocated
        credit("R6", cy, "50.00"),  # only its order's invoice (30.00): 20.00 stays unallocated
        credit("R7", dee, "5000", "JPY"),
        credit("R8", dee, "100.00", "GBP", day=DAY - datetime.timedelta(days=3)),
        credit("R9", ada, "30.00", text=f"{b1.number}"),  # names another customer's invoice; nothing left
        credit("R10", bob, "10.00"),
    ]
    found = run_both(credits, by=clerk)
    assert_same(found)
    per_entry = found[0][0]
    assert len(per_entry["allocations"]) >= 8
    assert any(row[0] == a2.number for row in per_entry["invoice history"])
    assert ("O-ACME-000001", "closed", "invoiced", "paid") in [row[:4] for row in per_entry["orders"]]


amounts = st.integers(min_value=1, max_value=400).map(lambda n: Decimal(n) * Decimal("2.50"))


@pytest.mark.django_db(transaction=False)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    invoices=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["EUR", "USD"]), amounts), max_size=8),
    credits=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from(["EUR", "USD"]),
            amounts,
            st.lists(st.integers(0, 7), max_size=2),
            # The amount as drawn, or what the named invoices total, or half of it: a payment
            # that its named invoices take whole never reads its customer's other invoices.
            st.sampled_from(["drawn", "named", "half"]),
        ),
        min_size=1,
        max_size=8,
    ),
)
@example(  # found by this test: an unnamed payment must not be planned on another payment's named invoice alone
    invoices=[(0, "EUR", Decimal("5.00")), (0, "EUR", Decimal("2.50"))],
    credits=[(0, "EUR", Decimal("2.50"), [], "drawn"), (0, "EUR", Decimal("2.50"), [0], "drawn")],
)
def test_any_chunk_writes_what_the_entries_write(invoices, credits):
    with transaction.atomic():
        provider = ProviderFactory(code="HYPO")
        customers = [CustomerFactory(name=f"C{n}") for n in range(3)]
        made = [
            make_invoice(
                customer=customers[who],
                provider=provider,
                total=total,
                currency=currency,
                issue_date=DAY - datetime.timedelta(days=60 - n % 3),
            )
            for n, (who, currency, total) in enumerate(invoices)
        ]
        chunk = []
        for n, (who, currency, amount, named, how) in enumerate(credits):
            chosen = [made[i] for i in dict.fromkeys(named) if i < len(made)]
            named_total = sum((invoice.total for invoice in chosen), Decimal("0.00"))
            if how != "drawn" and named_total > 0:
                amount = (
                    named_total if how == "named" else max(Decimal("0.01"), (named_total / 2).quantize(Decimal("0.01")))
                )
            text = " ".join(invoice.number for invoice in chosen)
            chunk.append(credit(f"H{n}", customers[who], amount, currency, text=text))
        assert_same(run_both(chunk))
        transaction.set_rollback(True)


def _import_snapshot(results) -> tuple[dict[str, list], list]:
    found = snapshot()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, reference FROM payments_payment")
        names = {f"P-{pk}": f"P[{reference}]" for pk, reference in cursor.fetchall()}
        cursor.execute(
            "SELECT b.bank_reference, b.status, b.note, b.customer_id, p.reference FROM payments_bankentry b"
            " LEFT JOIN payments_payment p ON p.id = b.payment_id ORDER BY b.bank_reference"
        )
        found["bank entries"] = [tuple(_named(v, names) for v in row) for row in cursor.fetchall()]
    reported = [
        (
            r.position,
            r.outcome,
            _named(r.message, names),
            r.payment.reference if r.payment else None,
            r.bank_entry.bank_reference if r.bank_entry else None,
            [(line.invoice_number, line.amount, line.reason) for line in r.allocations],
        )
        for r in results
    ]
    return found, reported


def test_an_imported_chunk_is_the_same_set_based_or_entry_by_entry(world, monkeypatch):
    """intake.runner.run_chunk (set-based credits) against run_carefully (record_and_allocate per entry)."""
    from intake.runner import run_carefully, run_chunk
    from tests.intake.test_pipeline import credit as entry

    entries = [
        entry("DIFF-1", "1250.00", "Payment ACME-000042", position="entry 1"),
        entry("DIFF-2", "50.00", "BOLT-000007 part", position="entry 2", currency="USD"),
        entry("DIFF-3", "300.00", "BOLT-000007 BOLT-000008", position="entry 3", currency="USD"),
        entry("DIFF-2", "50.00", "BOLT-000007 part", position="entry 4", currency="USD"),  # repeated in the chunk
        entry("DIFF-5", "2000.00", "ECHO-000121 and the rest", position="entry 5"),
        entry("DIFF-6", "5000", "ACME-000044", position="entry 6", currency="JPY"),
        entry("DIFF-7", "12.00", "nothing we know", position="entry 7", counterparty_name="Nobody"),
        entry("DIFF-8", "99.00", "GOLF-000077", position="entry 8"),
        entry("DIFF-9", "700.00", "GOLF-000077 rest", position="entry 9"),
    ]
    from intake import pipeline

    written: list[int] = []

    def spy(credits, *, by):
        written.append(len(credits))
        return record_and_allocate_many(credits, by=by)

    monkeypatch.setattr(pipeline, "record_and_allocate_many", spy)
    found = []
    for run in (run_carefully, run_chunk):
        with transaction.atomic():
            results = run(entries, source_name="diff.xml", by=None)
            assert_invariants()
            found.append(_import_snapshot(results))
            transaction.set_rollback(True)
    (careful, careful_reported), (chunked, chunked_reported) = found
    for table in careful:
        assert chunked[table] == careful[table], table
    assert chunked_reported == careful_reported
    assert [row[1] for row in careful_reported].count("recorded") >= 6
    assert sum(written) == 7  # every new credit of a known customer went through the set-based write


def _statement():
    from tests.intake.test_pipeline import SAMPLES

    return (SAMPLES / "statement.csv").read_bytes()


def test_a_deadlock_in_the_set_based_write_retries_the_chunk(world, monkeypatch):
    import psycopg
    from django.db import OperationalError

    from intake import pipeline
    from intake.importing import Outcome, import_statement
    from payments.models import Payment

    calls = []

    def deadlocked_once(credits, *, by):
        calls.append(len(credits))
        if len(calls) == 1:
            try:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            except psycopg.errors.DeadlockDetected as cause:
                raise OperationalError("deadlock detected") from cause
        return record_and_allocate_many(credits, by=by)

    monkeypatch.setattr(pipeline, "record_and_allocate_many", deadlocked_once)
    report = import_statement(_statement(), source_name="statement.csv", by=None)
    assert report.stopped == ""
    assert report.count(Outcome.RECORDED) == 5 and Payment.objects.count() == 5
    assert calls[1] == calls[0]  # the same credits again, after the deadlock
    assert_invariants()


def test_a_lost_connection_in_the_set_based_write_keeps_nothing_of_the_chunk(world, monkeypatch):
    from django.db import OperationalError

    from intake import pipeline
    from intake.importing import Outcome, import_statement
    from intake.models import BankEntry
    from payments.models import Payment

    def lost(credits, *, by):
        raise OperationalError("connection lost")

    monkeypatch.setattr(pipeline, "record_and_allocate_many", lost)
    report = import_statement(_statement(), source_name="statement.csv", by=None)
    assert report.exit_code == 2
    assert "stopped at" in report.stopped
    assert not Payment.objects.exists() and not BankEntry.objects.exists()

    monkeypatch.setattr(pipeline, "record_and_allocate_many", record_and_allocate_many)
    finished = import_statement(_statement(), source_name="statement.csv", by=None)
    assert finished.count(Outcome.RECORDED) == 5 and Payment.objects.count() == 5
    assert_invariants()


def test_a_refused_set_based_write_is_done_again_entry_by_entry(world, monkeypatch):
    from billing.errors import InvalidState
    from intake import pipeline
    from intake.importing import Outcome, import_statement
    from payments.models import Payment

    def refused(credits, *, by):
        record_and_allocate_many(credits, by=by)  # written, then refused: the chunk is rolled back
        raise InvalidState("refused")

    monkeypatch.setattr(pipeline, "record_and_allocate_many", refused)
    report = import_statement(_statement(), source_name="statement.csv", by=None)
    assert report.stopped == ""
    assert report.count(Outcome.RECORDED) == 5 and Payment.objects.count() == 5
    assert all(r.payment is not None for r in report.results if r.outcome == Outcome.RECORDED)
    assert_invariants()
