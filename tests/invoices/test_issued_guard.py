"""An issued invoice cannot change below the forms (issue 8, item 3; DESIGN.md sections 2 and 3).

The database itself refuses: a new total, currency, party, number or date of an open or
void invoice, its return to draft, its deletion, and any insert, update or delete of its
lines, through the ORM or raw SQL, whatever the session sets. A draft stays editable,
and issuing, paying and voiding still work.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from allocations.services import allocate
from billing.models import Customer, Provider
from invoices.models import Invoice, InvoiceLine
from invoices.services import issue_invoice, void_invoice
from tests.factories import make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

ISSUED = "an issued invoice never changes"
LINES = "an issued invoice's lines never change"


@contextmanager
def refused(match: str) -> Iterator[None]:
    """pytest.raises around a savepoint, so the test's transaction stays usable."""
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        yield


@pytest.fixture
def open_invoice(customer, provider):
    return make_invoice(customer=customer, provider=provider, total="100.00")


def test_save_with_a_new_total_is_refused(open_invoice):
    open_invoice.total = Decimal("150.00")
    open_invoice.balance_due = Decimal("150.00")
    with refused(ISSUED):
        open_invoice.save()
    assert Invoice.objects.get(pk=open_invoice.pk).total == Decimal("100.00")


@pytest.mark.parametrize(
    "change",
    [
        "total = 150, balance_due = 150",
        "currency = 'USD'",
        "customer_id = %(other_customer)s",
        "provider_id = %(other_provider)s",
        "number = 'ACME-999999'",
        "sequence = 999999",
        "issue_date = issue_date - 1",
        "due_date = due_date + 30",
        "state = 'draft'",
    ],
)
def test_raw_sql_cannot_change_what_was_issued(open_invoice, change):
    other_customer = Customer.objects.create(name="Someone Else")
    other_provider = Provider.objects.create(name="Other", code="OTHER")
    params = {"other_customer": other_customer.pk, "other_provider": other_provider.pk, "id": open_invoice.pk}
    for session_setting in ["SELECT 1", "SET LOCAL session_replication_role = replica"]:
        with refused(ISSUED), connection.cursor() as cursor:
            cursor.execute(session_setting)
            cursor.execute(f"UPDATE invoices_invoice SET {change} WHERE id = %(id)s", params)  # noqa: S608


def test_an_issued_invoice_cannot_be_deleted(open_invoice):
    with refused(ISSUED), connection.cursor() as cursor:
        cursor.execute("DELETE FROM invoices_invoice WHERE id = %s", [open_invoice.pk])


def test_lines_of_an_open_invoice_cannot_be_saved_deleted_or_added(open_invoice):
    line = open_invoice.lines.get()
    line.amount = line.unit_price = Decimal("150.00")
    with refused(LINES):
        line.save()
    with refused(LINES):
        InvoiceLine.objects.filter(pk=line.pk).update(description="Something else")
    with refused(LINES):
        InvoiceLine.objects.filter(pk=line.pk).delete()
    with refused(LINES):
        InvoiceLine.objects.create(
            invoice=open_invoice,
            position=2,
            description="Extra",
            quantity=1,
            unit_price=Decimal("5.00"),
            amount=Decimal("5.00"),
        )
    with refused(LINES):  # a bulk insert mixing a draft's line with an issued invoice's
        draft = make_invoice(customer=open_invoice.customer, provider=open_invoice.provider, issue=False)
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(invoice=draft, position=2, description="ok", quantity=1, unit_price=1, amount=1),
                InvoiceLine(invoice=open_invoice, position=3, description="no", quantity=1, unit_price=1, amount=1),
            ]
        )
    line = open_invoice.lines.get()
    assert (line.amount, line.description) == (Decimal("100.00"), "Services")


def test_a_draft_can_still_be_edited_then_issued(customer, provider):
    draft = make_invoice(customer=customer, provider=provider, total="100.00", issue=False)
    line = draft.lines.get()
    line.amount = line.unit_price = Decimal("80.00")
    line.save()
    InvoiceLine.objects.create(
        invoice=draft, position=2, description="Extra", quantity=1, unit_price=Decimal("20.00"), amount=Decimal("20.00")
    )
    InvoiceLine.objects.filter(invoice=draft, position=2).delete()
    InvoiceLine.objects.create(
        invoice=draft, position=2, description="Extra", quantity=2, unit_price=Decimal("10.00"), amount=Decimal("20.00")
    )
    draft.due_date = draft.due_date + datetime.timedelta(days=7)
    draft.save()
    issued = issue_invoice(draft, by=None)
    assert issued.state == "open" and issued.number
    assert_invariants()


def test_paying_and_voiding_an_issued_invoice_still_work(open_invoice):
    payment = make_payment(customer=open_invoice.customer, amount="100.00")
    allocate(payment, open_invoice, "40.00", by=None)
    voided = void_invoice(open_invoice, reason="issued in error", by=None)
    assert (voided.state, voided.total, voided.paid_total) == ("void", Decimal("100.00"), Decimal("0.00"))
    assert_invariants()
    # A void invoice is as fixed as an open one, and does not come back.
    with refused(ISSUED), connection.cursor() as cursor:
        cursor.execute("UPDATE invoices_invoice SET state = 'open' WHERE id = %s", [voided.pk])
    with refused(LINES):
        voided.lines.update(amount=0)
