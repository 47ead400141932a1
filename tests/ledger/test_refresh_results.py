"""The refresh routines say whether they changed anything: True after drift, False on a row that agrees.

Reconciliation's and the services' callers may skip work on False, so a refresh that always
answered one way would hide drift or waste a write.
"""

import pytest
from django.db import connection

from ledger.core import lock_rows, refresh_account, refresh_invoice, refresh_payment
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db


def sql(statement, params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refreshed(account_id, invoice_id, payment_id):
    """Each refresh's answer on the rows locked afresh, and the rows."""
    accounts, invoices, payments = lock_rows(accounts=[account_id], invoices=[invoice_id], payments=[payment_id])
    account, invoice, payment = accounts[account_id], invoices[invoice_id], payments[payment_id]
    answers = (
        refresh_invoice(invoice, cause="test", by=None),
        refresh_payment(payment, cause="test", by=None),
        refresh_account(account),
    )
    return answers, (account, invoice, payment)


def test_each_refresh_answers_whether_it_changed_the_row(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="40.00")
    ids = (invoice.account_id, invoice.pk, payment.pk)
    assert refreshed(*ids)[0] == (False, False, False)

    sql("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [invoice.pk])
    sql("UPDATE payments_payment SET allocation_status = 'fully_allocated' WHERE id = %s", [payment.pk])
    sql("UPDATE billing_account SET open_invoice_count = 7 WHERE id = %s", [invoice.account_id])
    answers, (account, invoice, payment) = refreshed(*ids)
    assert answers == (True, True, True)
    assert (invoice.payment_status, payment.allocation_status, account.open_invoice_count) == (
        "unpaid",
        "unallocated",
        1,
    )
