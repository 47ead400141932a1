"""The invariant checker itself: each check must notice the corruption it exists for."""

import pytest
from django.db import connection, transaction

from allocations.services import allocate
from invoices.services import issue_credit_note
from tests.factories import make_invoice, make_payment
from tests.guards import below_the_guards
from tests.invariants import assert_invariants, violations

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    allocate(payment, invoice, "60.00", by=None)
    assert_invariants()
    return invoice, payment


def corrupt(sql: str, params=()) -> list[str]:
    """Apply sql in a savepoint, return the violations found, roll back."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        found = violations()
        transaction.set_rollback(True)
    assert violations() == []
    return found


def names(found: list[str]) -> set[str]:
    return {item.split(":")[0] for item in found}


def test_clean_books_have_no_violation(books):
    assert violations() == []


def test_cached_totals_and_statuses_are_checked(books):
    invoice, payment = books
    assert "I1 invoice totals" in names(
        corrupt("UPDATE invoices_invoice SET paid_total = 50, balance_due = 50 WHERE id = %s", [invoice.pk])
    )
    assert "I1 payment totals" in names(
        corrupt("UPDATE payments_payment SET allocated_total = 10, unallocated = 90 WHERE id = %s", [payment.pk])
    )
    assert "I2 invoice status" in names(
        corrupt("UPDATE invoices_invoice SET payment_status = 'paid' WHERE id = %s", [invoice.pk])
    )
    assert "I1 account cache" in names(corrupt("UPDATE billing_account SET open_invoice_count = 7"))


def test_overpaid_and_overallocated_need_a_cause(books):
    invoice, payment = books
    found = names(corrupt("UPDATE invoices_invoice SET payment_status = 'overpaid' WHERE id = %s", [invoice.pk]))
    assert {"I2 invoice status", "I4 overpaid without a credit note"} <= found
    found = names(
        corrupt("UPDATE payments_payment SET allocation_status = 'overallocated' WHERE id = %s", [payment.pk])
    )
    assert "I4 overallocated without a chargeback or refund" in found
    issue_credit_note(invoice, amount="50.00", by=None, reason="Discount")
    invoice.refresh_from_db()
    assert invoice.payment_status == "overpaid"
    assert_invariants()


def test_minor_units_are_checked(books):
    invoice, _ = books
    with below_the_guards():  # an issued invoice's currency and total are guarded too
        found = names(
            corrupt(
                "UPDATE invoices_invoice SET currency = 'JPY', total = 100.50, balance_due = 40.50 WHERE id = %s",
                [invoice.pk],
            )
        )
    assert "I6 amount finer than the currency's minor unit" in found


def test_pair_nets_and_parties_are_checked(books, provider):
    invoice, payment = books
    found = names(
        corrupt(
            "INSERT INTO allocations_allocation (created_at, reason, payment_id, invoice_id, amount, reverses_id) "
            "SELECT now(), 'x', payment_id, invoice_id, -70, id FROM allocations_allocation WHERE id = "
            "(SELECT MIN(id) FROM allocations_allocation)"
        )
    )
    assert "I3 pair net negative" in found
    other = make_invoice(provider=provider, total="10.00")
    found = names(
        corrupt(
            "INSERT INTO allocations_allocation (created_at, reason, payment_id, invoice_id, amount) "
            "VALUES (now(), 'x', %s, %s, 1)",
            [payment.pk, other.pk],
        )
    )
    assert "I5 party mismatch" in found


def test_a_disabled_append_only_trigger_is_noticed(books):
    found = names(corrupt("ALTER TABLE payments_refund DISABLE TRIGGER USER"))
    assert "I7 append-only trigger missing" in found


def test_order_caches_and_i9_are_checked(customer, provider, other_provider):
    from orders.models import OrderLine
    from orders.services import create_order, invoice_order

    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Mug", 4, "5")], by=None)
    invoice = invoice_order(order, quantities={OrderLine.objects.get(order=order): 2}, by=None)
    issue_credit_note(invoice, lines={invoice.lines.get(): 1}, by=None, reason="Returned")
    assert violations() == []
    line = OrderLine.objects.get(order=order)
    assert "I1 order line quantities" in names(
        corrupt("UPDATE orders_orderline SET invoiced_quantity = 1, invoiceable_quantity = 3 WHERE id = %s", [line.pk])
    )
    assert "I1 order figures" in names(
        corrupt("UPDATE orders_order SET paid_total = 5, balance_due = invoiced_total - 5 WHERE id = %s", [order.pk])
    )
    assert "I2 order statuses" in names(
        corrupt("UPDATE orders_order SET billing_status = 'invoiced' WHERE id = %s", [order.pk])
    )
    # Nothing delivered under a "delivered" policy, yet 2 invoiced: I9.
    assert "I9 order line invoiced beyond what may be invoiced" in names(
        corrupt("UPDATE orders_order SET invoicing = 'delivered' WHERE id = %s", [order.pk])
    )
    assert "I5 order invoice party differs from its order" in names(
        corrupt("UPDATE orders_order SET provider_id = %s WHERE id = %s", [other_provider.pk, order.pk])
    )
    # Credit note lines are append-only: the guard is switched off inside the rolled-back savepoint.
    unguarded = (
        "SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE invoices_creditnoteline DISABLE TRIGGER settle_append_only; "
    )
    assert "I9 credited more quantity than invoiced" in names(
        corrupt(unguarded + "UPDATE invoices_creditnoteline SET quantity = 3")
    )
    assert "I1 credit note lines add up to the credit note" in names(
        corrupt(unguarded + "UPDATE invoices_creditnoteline SET amount = amount + 1")
    )
