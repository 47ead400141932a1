"""Worked examples of orders billed by immutable invoices (DESIGN.md section 9, issue 12)."""

from decimal import Decimal

import pytest

from allocations.services import allocate, allocate_many
from invoices.models import InvoiceLine
from invoices.services import issue_credit_note
from orders.models import Order, OrderLine
from orders.services import add_order_line, create_order, invoice_order, record_delivery
from tests.factories import make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def line_of(order: Order, position: int = 1) -> OrderLine:
    return OrderLine.objects.get(order=order, position=position)


def statuses(order: Order) -> tuple[str, str, str]:
    order = fresh(order)
    return order.state, order.billing_status, order.payment_status


def test_pay_the_items_then_a_fee_appears_and_a_second_payment_pays_it(customer, provider, clerk):
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Chair", 2, "50.00")], by=clerk)
    assert statuses(order) == ("open", "not_invoiced", "unpaid")
    first = invoice_order(order, by=clerk)
    assert first.total == D("100.00") and first.kind == "standard"
    allocate(make_payment(customer=customer, amount="100.00"), first, "100.00", by=clerk)
    assert statuses(order) == ("closed", "invoiced", "paid")

    fee = add_order_line(order, description="Bulky item fee", quantity=1, unit_price="15.00", by=clerk)
    assert statuses(order) == ("open", "partially_invoiced", "paid")
    assert fee.invoiceable_quantity == D("1")

    second = invoice_order(order, by=clerk)
    assert [(line.description, line.amount) for line in second.lines.all()] == [("Bulky item fee", D("15.00"))]
    assert second.kind == "fee"
    first.refresh_from_db()
    assert (first.total, first.payment_status) == (D("100.00"), "paid")  # a paid invoice is never touched
    assert statuses(order) == ("open", "invoiced", "partially_paid")
    assert fresh(order).balance_due == D("15.00")

    allocate(make_payment(customer=customer, amount="15.00"), second, "15.00", by=clerk)
    order = fresh(order)
    assert (order.state, order.billing_status, order.payment_status) == ("closed", "invoiced", "paid")
    assert (order.invoiced_total, order.paid_total, order.balance_due) == (D("115.00"), D("115.00"), D("0.00"))
    history = list(order.status_changes.values_list("field", "old", "new"))
    assert history == [
        ("billing_status", "not_invoiced", "invoiced"),
        ("payment_status", "unpaid", "paid"),
        ("state", "open", "closed"),
        ("billing_status", "invoiced", "partially_invoiced"),
        ("state", "closed", "open"),
        ("billing_status", "partially_invoiced", "invoiced"),
        ("payment_status", "paid", "partially_paid"),
        ("payment_status", "partially_paid", "paid"),
        ("state", "open", "closed"),
    ]
    assert_invariants()


def test_order_ten_ship_eight_invoice_eight_ship_two_invoice_two(customer, provider, clerk):
    order = create_order(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Widget", 10, "3.00")],
        invoicing="delivered",
        by=clerk,
    )
    widget = line_of(order)
    assert widget.invoiceable_quantity == 0
    record_delivery(order, quantities={widget: 8}, by=clerk)
    assert line_of(order).invoiceable_quantity == D("8")

    first = invoice_order(order, by=clerk)
    assert [(line.quantity, line.amount) for line in first.lines.all()] == [(D("8"), D("24.00"))]
    widget = line_of(order)
    assert (widget.invoiced_quantity, widget.invoiceable_quantity) == (D("8"), D("0"))
    assert statuses(order) == ("open", "partially_invoiced", "unpaid")

    record_delivery(order, quantities={widget: 2}, by=clerk)
    second = invoice_order(order, by=clerk)
    assert [line.quantity for line in second.lines.all()] == [D("2")]
    widget = line_of(order)
    assert (widget.invoiced_quantity, widget.invoiceable_quantity) == (D("10"), D("0"))
    assert statuses(order) == ("open", "invoiced", "unpaid")
    assert fresh(order).invoiced_total == D("30.00")
    assert_invariants()


def test_return_credited_without_reopening_then_reship_credited_with_reopen(customer, provider, clerk):
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Mug", 10, "4.00")], by=clerk)
    invoice = invoice_order(order, by=clerk)
    billed = InvoiceLine.objects.get(invoice=invoice)

    # The customer returns 3 mugs: they are credited, the order stays fully invoiced.
    issue_credit_note(invoice, lines={billed: 3}, by=clerk, reason="3 mugs returned", reason_code="return")
    order = fresh(order)
    mug = line_of(order)
    assert (mug.invoiced_quantity, mug.invoiceable_quantity) == (D("10"), D("0"))
    assert order.billing_status == "invoiced"
    assert (order.invoiced_total, order.balance_due) == (D("28.00"), D("28.00"))  # 3 less owed

    # 3 more arrived broken and will be re-shipped: credited with reopen_quantity, invoiceable again.
    issue_credit_note(
        invoice, lines={billed: 3}, by=clerk, reason="3 broken, re-shipped", reason_code="return", reopen_quantity=True
    )
    order = fresh(order)
    mug = line_of(order)
    assert (mug.invoiced_quantity, mug.invoiceable_quantity) == (D("7"), D("3"))
    assert order.billing_status == "partially_invoiced"
    assert order.invoiced_total == D("16.00")

    reship = invoice_order(order, by=clerk)
    assert [line.quantity for line in reship.lines.all()] == [D("3")]
    order = fresh(order)
    assert line_of(order).invoiceable_quantity == 0
    assert (order.billing_status, order.invoiced_total) == ("invoiced", D("28.00"))
    assert_invariants()


def test_one_payment_over_invoices_of_two_orders(customer, provider, other_provider, clerk):
    a = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 1, "60.00")], by=clerk)
    b = create_order(customer=customer, provider=other_provider, currency="EUR", lines=[("Desk", 1, "90.00")], by=clerk)
    invoice_a, invoice_b = invoice_order(a, by=clerk), invoice_order(b, by=clerk)
    payment = make_payment(customer=customer, amount="120.00")

    allocate_many(payment, [(invoice_a, "60.00"), (invoice_b, "60.00")], by=clerk)

    assert statuses(a) == ("closed", "invoiced", "paid")
    assert statuses(b) == ("open", "invoiced", "partially_paid")
    assert fresh(b).balance_due == D("30.00")
    assert_invariants()


def test_deposit_applied_at_invoicing(customer, provider, clerk):
    deposit = make_payment(customer=customer, amount="30.00")
    later = make_payment(customer=customer, amount="100.00")
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Sofa", 1, "80.00")], by=clerk)
    assert (deposit.allocation_status, fresh(order).paid_total) == ("unallocated", D("0.00"))

    invoice = invoice_order(order, apply_credit=True, by=clerk)

    assert (invoice.payment_status, invoice.paid_total) == ("paid", D("80.00"))
    deposit.refresh_from_db()
    later.refresh_from_db()
    assert (deposit.unallocated, later.unallocated) == (D("0.00"), D("50.00"))  # oldest first
    assert statuses(order) == ("closed", "invoiced", "paid")
    assert_invariants()
