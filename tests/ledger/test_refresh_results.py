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


@pytest.mark.django_db(transaction=True)
def test_locking_invoices_with_orders_returns_the_orders_of_those_invoices_locked(customer, provider, clerk):
    """lock_rows_with_orders: the orders given and those of the invoices (reconciliation re-checks
    them; a writer locks them before the invoices, the one lock order)."""
    from django.db import connections, transaction

    from ledger.core import lock_rows_with_orders
    from orders.services import create_order, invoice_order

    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Chair", 1, "25.00")], by=clerk)
    invoice = invoice_order(order, by=clerk)
    other = connections.create_connection("default")
    try:
        with transaction.atomic():
            _, orders, invoices, _ = lock_rows_with_orders(invoices=[invoice.pk])
            assert (list(orders), list(invoices)) == ([order.pk], [invoice.pk])
            with other.cursor() as cursor:
                cursor.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE SKIP LOCKED", [order.pk])
                assert cursor.fetchall() == [], "the invoice's order was not locked"
    finally:
        other.close()
