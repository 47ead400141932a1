"""I8 for orders: clerks invoicing, crediting, paying and cancelling the same order at once.

Real threads against PostgreSQL (tests/ledger/test_concurrency.py's harness): never
more invoiced than may be invoiced (I9), never a deadlock, the caches right afterwards.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from allocations.services import allocate
from billing.errors import ExceedsBalance
from invoices.models import Invoice, InvoiceLine
from invoices.services import issue_credit_note, void_invoice
from orders.models import Order, OrderLine
from orders.services import add_order_line, cancel_order_lines, create_order, invoice_order, record_delivery
from payments.models import Payment
from tests.factories import make_payment
from tests.invariants import assert_invariants
from tests.ledger.test_concurrency import assert_no_deadlock_or_crash, outcomes, run_together

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_eight_clerks_invoice_the_same_lines_never_more_than_may_be_invoiced(customer, provider):
    order = create_order(
        customer=customer, provider=provider, currency="EUR", lines=[("Crate", 10, "5"), ("Pallet", 3, "40")], by=None
    )
    crate, pallet = OrderLine.objects.filter(order=order).order_by("position")

    def job():
        fresh = Order.objects.get(pk=order.pk)
        lines = {line.position: line for line in OrderLine.objects.filter(order=fresh)}
        return invoice_order(fresh, quantities={lines[1]: 3, lines[2]: 1}, by=None)

    results = run_together([job] * 8)

    assert_no_deadlock_or_crash(results)
    assert outcomes(results).count("ok") == 3  # 3 pallets: the fourth invoice would bill a pallet too many
    assert all(isinstance(value, ExceedsBalance) for outcome, value in results if outcome == "refused")
    crate.refresh_from_db()
    pallet.refresh_from_db()
    assert (crate.invoiced_quantity, crate.invoiceable_quantity) == (D("9"), D("1"))
    assert (pallet.invoiced_quantity, pallet.invoiceable_quantity) == (D("3"), D("0"))
    assert Order.objects.get(pk=order.pk).invoiced_total == D("165.00")
    assert_invariants()


def test_invoicing_crediting_paying_and_cancelling_one_order_at_once(customer, provider):
    order = create_order(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Desk", 6, "100"), ("Chair", 12, "30")],
        invoicing="delivered",
        by=None,
    )
    desk, chair = OrderLine.objects.filter(order=order).order_by("position")
    record_delivery(order, quantities={desk: 4, chair: 8}, by=None)
    first = invoice_order(order, quantities={desk: 2, chair: 4}, by=None)
    payments = [make_payment(customer=customer, amount="150.00") for _ in range(3)]

    def fresh_order():
        return Order.objects.get(pk=order.pk)

    def line(position: int) -> OrderLine:
        return OrderLine.objects.get(order=order, position=position)

    jobs = [
        lambda: invoice_order(fresh_order(), by=None),
        lambda: invoice_order(fresh_order(), apply_credit=True, by=None),
        lambda: record_delivery(fresh_order(), quantities={line(1): 2}, by=None),
        lambda: issue_credit_note(
            Invoice.objects.get(pk=first.pk),
            lines={InvoiceLine.objects.get(invoice=first, position=1): 1},
            by=None,
            reason="Re-ship one desk",
            reopen_quantity=True,
        ),
        lambda: allocate(Payment.objects.get(pk=payments[0].pk), Invoice.objects.get(pk=first.pk), "100.00", by=None),
        lambda: cancel_order_lines(fresh_order(), quantities={line(2): 4}, by=None, reason="Out of stock"),
        lambda: add_order_line(fresh_order(), description="Delivery", quantity=1, unit_price="25", by=None),
        lambda: void_invoice(Invoice.objects.get(pk=first.pk), by=None, reason="Wrong address"),
    ]
    for _round in range(2):
        results = run_together(jobs)
        # Each call either succeeded or was refused with a BillingError (money gone, nothing
        # left to invoice, invoice already void): never a deadlock, an integrity error or I9 broken.
        assert_no_deadlock_or_crash(results)
        assert "ok" in outcomes(results)
        assert_invariants()
