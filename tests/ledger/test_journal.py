"""The entry journal, worked example by worked example (DESIGN.md §8).

Each service that changes what a customer owes or holds appends exactly one entry, with
the sign, date, account and source row given here; allocations append none. The
migration's backfill (ledger.journal_sql) must write exactly what the services wrote.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from allocations.services import allocate, deallocate
from billing.errors import InsufficientFunds
from billing.guards import MAINTENANCE_SQL
from invoices.services import create_invoice, issue_credit_note, void_invoice
from ledger import journal
from ledger.journal_sql import COLUMNS, backfill
from ledger.models import Entry
from ledger.selectors import balance_as_of, journal_entries
from payments.services import (
    cancel_payment,
    correct_payment,
    record_chargeback,
    record_payment,
    refund_payment,
    settle_payment,
)
from tests.factories import make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal
ISSUED = datetime.date(2026, 10, 1)
RECEIVED = datetime.datetime(2026, 10, 5, 9, 30, tzinfo=datetime.UTC)


def entries(**filters) -> list[tuple]:
    """(kind, amount, effective date, account id, source id) in journal order."""
    rows = Entry.objects.filter(**filters).order_by("id")
    return [
        (
            e.kind,
            e.amount,
            e.effective_date,
            e.account_id,
            e.invoice_id or e.credit_note_id or e.payment_id or e.refund_id or e.chargeback_id,
        )
        for e in rows
    ]


@pytest.fixture
def today():
    return timezone.localdate()


def test_issue_counts_the_total_on_the_issue_date(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED, by=clerk)
    assert entries() == [("invoice", D("100.00"), ISSUED, invoice.account_id, invoice.pk)]
    entry = Entry.objects.get()
    assert (entry.customer_id, entry.currency) == (customer.pk, "EUR")


def test_a_draft_is_not_money_and_discarding_it_writes_nothing(customer, provider, clerk):
    draft = make_invoice(customer=customer, provider=provider, total="100.00", issue=False)
    void_invoice(draft, by=clerk, reason="typo")
    assert entries() == []


def test_credit_note_lowers_what_is_owed_on_its_date(customer, provider, clerk, today):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    note = issue_credit_note(invoice, amount="30.00", by=clerk, reason="discount")
    assert entries()[1:] == [("credit_note", D("-30.00"), today, invoice.account_id, note.pk)]


def test_void_takes_back_what_the_invoice_still_counted(customer, provider, clerk, today):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    issue_credit_note(invoice, amount="30.00", by=clerk, reason="discount")
    payment = make_payment(customer=customer, amount="50.00", received_at=RECEIVED)
    allocate(payment, invoice, "50.00", by=clerk)  # reversed by the void: no entry either way
    void_invoice(invoice, by=clerk, reason="issued in error")
    assert [row[:3] for row in entries(account=invoice.account)] == [
        ("invoice", D("100.00"), ISSUED),
        ("credit_note", D("-30.00"), today),
        ("void", D("-70.00"), today),
    ]
    # The invoice now owes nothing; the payment's 50.00 is the customer's credit.
    assert balance_as_of(customer=customer, currency="EUR", as_of=today) == D("-50.00")
    assert_invariants()


def test_payment_counts_on_the_day_it_was_received(customer, clerk):
    payment = make_payment(customer=customer, amount="80.00", received_at=RECEIVED, by=clerk)
    assert entries() == [("payment", D("-80.00"), RECEIVED.date(), None, payment.pk)]
    # Recording the same reference again returns the payment already recorded: no second entry.
    again = make_payment(customer=customer, amount="80.00", received_at=RECEIVED, reference="R-1")
    make_payment(customer=customer, amount="80.00", received_at=RECEIVED, reference="R-1")
    assert [row[4] for row in entries()] == [payment.pk, again.pk]


def test_pending_payment_counts_when_it_settles_and_not_when_canceled_before(customer, clerk):
    pending = record_payment(
        customer=customer, amount="40.00", currency="EUR", method="card", received_at=RECEIVED, pending=True, by=clerk
    )
    never = record_payment(customer=customer, amount="25.00", currency="EUR", method="card", pending=True, by=clerk)
    assert entries() == []
    settle_payment(pending, by=clerk)
    cancel_payment(never, by=clerk, reason="never arrived")
    assert entries() == [("payment", D("-40.00"), RECEIVED.date(), None, pending.pk)]


def test_allocations_and_deallocations_write_no_entry(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    payment = make_payment(customer=customer, amount="100.00", received_at=RECEIVED)
    before = entries()
    allocate(payment, invoice, "60.00", by=clerk)
    deallocate(payment, invoice, "10.00", by=clerk, reason="wrong invoice")
    assert entries() == before
    # Invoice 100 less payment 100: the customer owes nothing, whatever is allocated where.
    assert balance_as_of(customer=customer, currency="EUR", as_of=RECEIVED.date()) == D("0.00")


def test_refund_and_chargeback_raise_what_is_owed_again(customer, clerk, today):
    payment = make_payment(customer=customer, amount="100.00", received_at=RECEIVED)
    refund = refund_payment(payment, amount="30.00", by=clerk, reason="paid twice")
    chargeback = record_chargeback(payment, amount="20.00", by=clerk, reason="disputed")
    assert entries() == [
        ("payment", D("-100.00"), RECEIVED.date(), None, payment.pk),
        ("refund", D("30.00"), today, None, refund.pk),
        ("chargeback", D("20.00"), today, None, chargeback.pk),
    ]
    assert_invariants()


def test_cancel_takes_back_what_the_payment_still_counted(customer, clerk, today):
    payment = make_payment(customer=customer, amount="100.00", received_at=RECEIVED)
    refund_payment(payment, amount="15.00", by=clerk, reason="overpaid")
    cancel_payment(payment, by=clerk, reason="recorded twice")
    assert [row[:2] for row in entries()] == [
        ("payment", D("-100.00")),
        ("refund", D("15.00")),
        ("payment_canceled", D("85.00")),
    ]
    assert entries()[-1] == ("payment_canceled", D("85.00"), today, None, payment.pk)
    assert balance_as_of(customer=customer, currency="EUR", as_of=today) == D("0.00")


def test_correcting_a_payment_is_a_new_payment_and_the_old_one_taken_back_on_its_value_date(
    customer, provider, clerk, today
):
    """correct_payment (DESIGN.md section 10): the replacement counts from its own value date and
    the corrected payment is taken back on its own, so no date counts both."""
    invoice = make_invoice(customer=customer, provider=provider, total="90.00", issue_date=ISSUED)
    wrong = make_payment(customer=customer, amount="100.00", received_at=RECEIVED)
    allocate(wrong, invoice, "90.00", by=clerk)
    right = correct_payment(wrong, amount="90.00", by=clerk, reason="amount mistyped")
    assert [row[:3] for row in entries(customer=customer, account__isnull=True)] == [
        ("payment", D("-100.00"), RECEIVED.date()),
        ("payment", D("-90.00"), RECEIVED.date()),
        ("payment_canceled", D("100.00"), RECEIVED.date()),
    ]
    assert entries()[-1][-1] == wrong.pk and entries()[-2][-1] == right.pk
    assert balance_as_of(customer=customer, currency="EUR", as_of=RECEIVED.date()) == D("0.00")
    assert balance_as_of(customer=customer, currency="EUR", as_of=today) == D("0.00")
    assert_invariants()


def test_a_refused_call_writes_no_entry(customer, clerk):
    payment = make_payment(customer=customer, amount="10.00", received_at=RECEIVED)
    before = entries()
    with pytest.raises(InsufficientFunds):
        refund_payment(payment, amount="11.00", by=clerk, reason="too much")
    assert entries() == before


def test_an_entry_is_written_only_inside_the_transaction_of_its_row(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="10.00")
    # pytest-django wraps the test in a transaction; leave it to be outside any atomic block.
    atomic = connection.in_atomic_block
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError, match="transaction"):
            journal.invoice_issued(invoice)
    finally:
        connection.in_atomic_block = atomic


def test_balance_as_of_any_date(customer, provider, other_provider, clerk):
    acme = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    bolt = make_invoice(
        customer=customer, provider=other_provider, total="50.00", issue_date=ISSUED + datetime.timedelta(days=3)
    )
    make_invoice(customer=customer, provider=provider, total="7.00", currency="USD", issue_date=ISSUED)
    make_payment(customer=customer, amount="60.00", received_at=RECEIVED)

    def balance(day: int, **kwargs) -> Decimal:
        return balance_as_of(customer=customer, currency="EUR", as_of=ISSUED + datetime.timedelta(days=day), **kwargs)

    assert [balance(day) for day in (-1, 0, 3, 4, 30)] == [D("0.00"), D("100"), D("150"), D("90"), D("90")]
    assert balance(30, account=acme.account) == D("100.00")
    assert balance(2, account=bolt.account) == D("0.00")
    assert balance_as_of(customer=customer, currency="USD", as_of=ISSUED) == D("7.00")
    with pytest.raises(ValueError):
        balance_as_of(customer=customer, currency="USD", as_of=ISSUED, account=acme.account)


def test_journal_entries_in_journal_order_with_filters(customer, provider, clerk):
    late = make_invoice(customer=customer, provider=provider, total="20.00", issue_date=ISSUED)
    early = make_invoice(
        customer=customer, provider=provider, total="10.00", issue_date=ISSUED - datetime.timedelta(days=5)
    )
    payment = make_payment(customer=customer, amount="5.00", received_at=RECEIVED)
    # Journal order is the order of writing, not of effective dates.
    assert [e.invoice_id or e.payment_id for e in journal_entries(customer=customer)] == [
        late.pk,
        early.pk,
        payment.pk,
    ]
    assert [e.invoice_id for e in journal_entries(customer=customer, start=ISSUED, end=ISSUED)] == [late.pk]
    assert [e.kind for e in journal_entries(customer=customer, account=late.account)] == ["invoice", "invoice"]
    assert list(journal_entries(customer=customer, currency="USD")) == []


def _journal_rows() -> list[tuple]:
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM ledger_entry ORDER BY effective_date, id")
        return cursor.fetchall()


def test_backfill_writes_exactly_what_the_services_wrote(customer, provider, other_provider, clerk):
    """What the migration writes for old rows equals what the services write for new ones."""
    a = make_invoice(customer=customer, provider=provider, total="100.00", issue_date=ISSUED)
    b = make_invoice(customer=customer, provider=other_provider, total="60.00", issue_date=ISSUED)
    issue_credit_note(a, amount="10.00", by=clerk, reason="discount")
    issue_credit_note(b, amount="5.00", by=clerk, reason="discount")
    void_invoice(b, by=clerk, reason="error")
    draft = create_invoice(
        customer=customer, provider=provider, currency="EUR", lines=[("x", "1", "5")], due_date=ISSUED, by=clerk
    )
    void_invoice(draft, by=clerk, reason="discarded")
    paid = make_payment(customer=customer, amount="100.00", received_at=RECEIVED)
    allocate(paid, a, "90.00", by=clerk)
    refund_payment(paid, amount="10.00", by=clerk, reason="extra")
    charged = make_payment(customer=customer, amount="30.00", received_at=RECEIVED)
    record_chargeback(charged, amount="30.00", by=clerk, reason="dispute")
    canceled = make_payment(customer=customer, amount="20.00", received_at=RECEIVED)
    cancel_payment(canceled, by=clerk, reason="twice")
    never = record_payment(customer=customer, amount="9.00", currency="EUR", method="cash", pending=True, by=clerk)
    cancel_payment(never, by=clerk, reason="never came")
    record_payment(customer=customer, amount="8.00", currency="EUR", method="cash", pending=True, by=clerk)
    corrected = make_payment(customer=customer, amount="40.00", received_at=RECEIVED)
    correct_payment(corrected, amount="45.00", received_at=RECEIVED - datetime.timedelta(days=3), by=clerk, reason="x")
    written = _journal_rows()
    assert len(written) == 14

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred key checks TRUNCATE waits on
            cursor.execute(MAINTENANCE_SQL)  # the owner's flush hatch (billing/guards.py)
            # Export items name entries (exports.ExportItem): TRUNCATE takes both tables (none exported here).
            cursor.execute("TRUNCATE ledger_entry, exports_exportitem")
            assert backfill(cursor) == 14
    assert sorted(_journal_rows(), key=repr) == sorted(written, key=repr)
    # Backfilled positions follow the effective dates.
    dates = list(Entry.objects.order_by("id").values_list("effective_date", flat=True))
    assert dates == sorted(dates)
    # The sequence continues after the backfilled ids.
    make_payment(customer=customer, amount="1.00")
    assert Entry.objects.order_by("-id").first().kind == "payment"
    with connection.cursor() as cursor, pytest.raises(RuntimeError, match="already has entries"):
        backfill(cursor)
