"""orders.services: the rules of section 9 and the bugs peers' users report (issue 12)."""

from decimal import Decimal

import pytest

from allocations.services import allocate, deallocate
from billing.errors import BillingError, ExceedsBalance, InvalidAmount, InvalidInput, InvalidState
from invoices.models import CreditNote, InvoiceLine
from invoices.services import issue_credit_note, void_invoice
from orders.models import Order, OrderLine
from orders.services import add_order_line, cancel_order_lines, create_order, invoice_order, record_delivery
from payments.services import record_chargeback
from tests.factories import make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def line_of(order: Order, position: int = 1) -> OrderLine:
    return OrderLine.objects.get(order=order, position=position)


@pytest.fixture
def order(customer, provider, clerk):
    return create_order(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Chair", 4, "25.00"), ("Table", 1, "200.00")],
        by=clerk,
    )


def test_create_order_numbers_per_provider_and_caches(order, customer, provider, clerk):
    second = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 1, "5")], by=clerk)
    assert (order.number, second.number) == ("O-ACME-000001", "O-ACME-000002")
    assert [(line.invoiceable_quantity, line.kind) for line in order.lines.all()] == [
        (D("4"), "product"),
        (D("1"), "product"),
    ]
    assert (order.state, order.billing_status, order.payment_status) == ("open", "not_invoiced", "unpaid")
    assert order.account.customer_id == customer.pk
    assert_invariants()


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([], InvalidInput),
        ([("Chair", 1.5, "10.00")], InvalidInput),
        ([("Chair", "1e3", "10.00")], InvalidInput),
        ([("Chair", "0", "10.00")], InvalidInput),
        ([("Chair", "1.0001", "10.00")], InvalidInput),
        ([("Chair", "1", 10.5)], InvalidAmount),
        ([("", "1", "10.00")], InvalidInput),
        ([("Chair", "1", "-10.00")], InvalidAmount),
    ],
)
def test_create_order_refuses_bad_lines(customer, provider, clerk, lines, error):
    with pytest.raises(error):
        create_order(customer=customer, provider=provider, currency="EUR", lines=lines, by=clerk)
    assert not Order.objects.exists()


def test_invoice_order_refuses_more_than_may_be_invoiced_naming_the_line(order, clerk):
    chair = line_of(order)
    invoice_order(order, quantities={chair: 3}, by=clerk)
    with pytest.raises(ExceedsBalance, match=r"line 1 \(Chair\) has 1 left to invoice; you asked for 2"):
        invoice_order(order, quantities={line_of(order): 2}, by=clerk)
    assert line_of(order).invoiced_quantity == D("3")
    assert_invariants()


def test_delivered_policy_invoices_only_what_was_delivered(customer, provider, clerk):
    order = create_order(
        customer=customer, provider=provider, currency="EUR", lines=[("Box", 5, "2")], invoicing="delivered", by=clerk
    )
    with pytest.raises(InvalidState, match="nothing that may be invoiced"):
        invoice_order(order, by=clerk)
    with pytest.raises(ExceedsBalance, match="5 left to deliver"):
        record_delivery(order, quantities={line_of(order): 6}, by=clerk)
    record_delivery(order, quantities={line_of(order): "2.5"}, by=clerk)
    invoice = invoice_order(order, by=clerk)
    assert invoice.total == D("5.00")
    assert_invariants()


def test_price_only_credit_note_never_reopens_quantity(order, clerk):
    invoice = invoice_order(order, by=clerk)
    issue_credit_note(invoice, amount="30.00", by=clerk, reason="Scratched table, 30 off")
    assert [line.invoiceable_quantity for line in fresh(order).lines.all()] == [0, 0]
    assert fresh(order).billing_status == "invoiced"
    with pytest.raises(InvalidInput, match="never gives quantity back"):
        issue_credit_note(invoice, amount="5.00", by=clerk, reason="Again", reopen_quantity=True)
    with pytest.raises(InvalidState, match="nothing that may be invoiced"):
        invoice_order(order, by=clerk)
    assert fresh(order).invoiced_total == D("270.00")
    assert_invariants()


def test_a_return_never_lets_the_same_quantity_be_invoiced_twice(order, clerk):
    invoice = invoice_order(order, by=clerk)
    chairs = InvoiceLine.objects.get(invoice=invoice, position=1)
    issue_credit_note(invoice, lines={chairs: 4}, by=clerk, reason="All chairs returned", reason_code="return")
    with pytest.raises(InvalidState):
        invoice_order(order, by=clerk)
    # Nor can the same chairs be credited again, with or without reopening.
    with pytest.raises(ExceedsBalance, match="has 0 left to credit of 4 invoiced"):
        issue_credit_note(invoice, lines={chairs: 1}, by=clerk, reason="Again", reopen_quantity=True)
    assert line_of(order).invoiced_quantity == D("4")
    assert_invariants()


def test_reopened_quantity_is_invoiced_once_then_no_more(order, clerk):
    invoice = invoice_order(order, by=clerk)
    chairs = InvoiceLine.objects.get(invoice=invoice, position=1)
    issue_credit_note(invoice, lines={chairs: 2}, by=clerk, reason="Re-ship 2", reopen_quantity=True)
    invoice_order(order, by=clerk)
    with pytest.raises(InvalidState):
        invoice_order(order, by=clerk)
    assert (line_of(order).invoiced_quantity, line_of(order).invoiceable_quantity) == (D("4"), D("0"))
    assert_invariants()


def test_credit_note_on_a_partially_invoiced_line(order, clerk):
    invoice = invoice_order(order, quantities={line_of(order): 3}, by=clerk)
    billed = invoice.lines.get()
    with pytest.raises(ExceedsBalance, match="has 3 left to credit"):
        issue_credit_note(invoice, lines={billed: 4}, by=clerk, reason="Too many")
    note = issue_credit_note(invoice, lines={billed: 1}, by=clerk, reason="One back", reopen_quantity=True)
    assert (note.amount, note.reopen_quantity, list(note.lines.values_list("quantity", flat=True))) == (
        D("25.00"),
        True,
        [D("1")],
    )
    chair = line_of(order)
    assert (chair.invoiced_quantity, chair.invoiceable_quantity) == (D("2"), D("2"))
    invoice.refresh_from_db()
    assert (invoice.credited_total, invoice.balance_due) == (D("25.00"), D("50.00"))
    assert fresh(order).billing_status == "partially_invoiced"
    assert_invariants()


def test_fee_line_and_a_discount_line_negative_price_refused(order, clerk):
    invoice_order(order, by=clerk)
    add_order_line(order, description="Handling fee", quantity=1, unit_price="9.00", by=clerk)
    with pytest.raises(InvalidAmount, match="is negative. Give a discount as a lower unit price"):
        add_order_line(order, description="Loyalty discount", quantity=1, unit_price="-12.00", by=clerk)
    fee_invoice = invoice_order(order, by=clerk)
    assert (fee_invoice.total, fee_invoice.kind) == (D("9.00"), "fee")
    assert_invariants()


def test_credit_by_quantity_rounds_to_the_rest_of_the_line(customer, provider, clerk):
    order = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Bolt", 3, "0.35")], by=clerk)
    invoice = invoice_order(order, by=clerk)  # 1.05
    billed = invoice.lines.get()
    notes = [issue_credit_note(invoice, lines={billed: "0.5"}, by=clerk, reason="part") for _ in range(5)]
    last = issue_credit_note(invoice, lines={billed: "0.5"}, by=clerk, reason="rest")
    assert sum(note.amount for note in [*notes, last]) == D("1.05")
    invoice.refresh_from_db()
    assert invoice.payment_status == "paid" and invoice.balance_due == 0
    assert_invariants()


def test_credit_note_arguments(clerk):
    invoice = make_invoice(total="10.00")
    with pytest.raises(InvalidInput, match="give exactly one"):
        issue_credit_note(invoice, by=clerk, reason="x")
    with pytest.raises(InvalidInput, match="give exactly one"):
        issue_credit_note(invoice, amount="1.00", lines={invoice.lines.get(): 1}, by=clerk, reason="x")
    with pytest.raises(InvalidInput, match="not a credit reason"):
        issue_credit_note(invoice, amount="1.00", by=clerk, reason="x", reason_code="oops")
    with pytest.raises(InvalidInput, match="bills no order line"):
        issue_credit_note(invoice, lines={invoice.lines.get(): 1}, by=clerk, reason="x", reopen_quantity=True)
    other = make_invoice(total="10.00")
    with pytest.raises(InvalidInput, match="not a line of invoice"):
        issue_credit_note(invoice, lines={other.lines.get(): 1}, by=clerk, reason="x")
    note = issue_credit_note(invoice, amount="1.00", by=clerk, reason="x", reason_code="waiver")
    assert (note.reason_code, note.reopen_quantity) == ("waiver", False)
    assert CreditNote.objects.count() == 1


def test_cancel_lines_and_cancel_the_order(order, clerk):
    with pytest.raises(InvalidInput, match="reason"):
        cancel_order_lines(order, quantities={line_of(order): 1}, by=clerk, reason="")
    cancel_order_lines(order, quantities={line_of(order): 1}, by=clerk, reason="Out of stock")
    assert line_of(order).invoiceable_quantity == D("3")
    cancel_order_lines(order, quantities={line_of(order): 3, line_of(order, 2): 1}, by=clerk, reason="Changed mind")
    order = fresh(order)
    assert (order.state, order.canceled_at is not None) == ("canceled", True)
    # The state's move is in the order's history: from what, by whom, why (ledger.core.record_order_change).
    (moved,) = order.status_changes.filter(field="state", new="canceled")
    assert (moved.old, moved.created_by, moved.reason) == (
        "open",
        clerk,
        f"lines of order {order} canceled: Changed mind",
    )
    with pytest.raises(InvalidState, match="canceled"):
        add_order_line(order, description="Fee", quantity=1, unit_price="1", by=clerk)
    with pytest.raises(InvalidState, match="canceled"):
        invoice_order(order, by=clerk)
    assert_invariants()


def test_an_order_with_something_invoiced_is_never_canceled(order, clerk):
    invoice_order(order, quantities={line_of(order): 2}, by=clerk)
    with pytest.raises(ExceedsBalance, match="has 2 that is neither invoiced nor delivered"):
        cancel_order_lines(order, quantities={line_of(order): 3}, by=clerk, reason="x")
    cancel_order_lines(order, quantities={line_of(order): 2, line_of(order, 2): 1}, by=clerk, reason="x")
    order = fresh(order)
    assert (order.state, order.billing_status) == ("open", "invoiced")  # open until paid, then closed
    assert_invariants()


def test_void_gives_the_quantity_back_and_frees_the_money(order, customer, clerk):
    invoice = invoice_order(order, by=clerk)
    payment = make_payment(customer=customer, amount="300.00")
    allocate(payment, invoice, "300.00", by=clerk)
    assert fresh(order).state == "closed"
    void_invoice(invoice, by=clerk, reason="Wrong customer")
    order = fresh(order)
    assert (order.state, order.billing_status, order.invoiced_total, order.paid_total) == (
        "open",
        "not_invoiced",
        D("0.00"),
        D("0.00"),
    )
    assert line_of(order).invoiceable_quantity == D("4")
    assert_invariants()


def test_deallocation_and_chargeback_move_the_order(order, customer, clerk):
    invoice = invoice_order(order, by=clerk)
    payment = make_payment(customer=customer, amount="300.00")
    allocate(payment, invoice, "300.00", by=clerk)
    deallocate(payment, invoice, "100.00", by=clerk, reason="Wrong split")
    assert (fresh(order).payment_status, fresh(order).balance_due) == ("partially_paid", D("100.00"))
    record_chargeback(payment, amount="250.00", by=clerk, reason="Dispute")
    assert fresh(order).payment_status in {"partially_paid", "unpaid"}
    assert_invariants()


def test_the_orders_payment_history_names_the_clerk_who_moved_the_money(order, customer, clerk):
    """An allocation, a deallocation and a chargeback each move the order's payment status: each
    history row says who did it (ledger.core.refresh_all passes the clerk on to the orders)."""
    from orders.models import OrderStatusChange

    invoice = invoice_order(order, by=clerk)
    payment = make_payment(customer=customer, amount="300.00")
    allocate(payment, invoice, "300.00", by=clerk)
    deallocate(payment, invoice, "100.00", by=clerk, reason="Wrong split")
    moves = OrderStatusChange.objects.filter(order=order, field="payment_status").order_by("id")
    assert [(m.old, m.new, m.created_by) for m in moves] == [
        ("unpaid", "paid", clerk),
        ("paid", "partially_paid", clerk),
    ]


def test_apply_credit_only_takes_settled_money_of_the_currency(order, customer, clerk):
    make_payment(customer=customer, amount="50.00", currency="USD")
    make_payment(customer=customer, amount="20.00", pending=True)
    deposit = make_payment(customer=customer, amount="40.00")
    invoice = invoice_order(order, apply_credit=True, by=clerk)
    assert (invoice.paid_total, invoice.payment_status) == (D("40.00"), "partially_paid")
    deposit.refresh_from_db()
    assert deposit.allocation_status == "fully_allocated"
    assert_invariants()


def test_refusals_leave_nothing_behind(order, clerk):
    with pytest.raises(BillingError):
        invoice_order(order, quantities={line_of(order): 1, line_of(order, 2): 2}, by=clerk)
    assert not order.invoices.exists()
    other = create_order(
        customer=order.customer, provider=order.provider, currency="EUR", lines=[("X", 1, "1")], by=clerk
    )
    with pytest.raises(InvalidInput, match="not a line of order"):
        record_delivery(order, quantities={line_of(other): 1}, by=clerk)
    assert_invariants()


def test_deliveries_and_cancellations_are_kept_as_history_and_shown_on_the_timeline(customer, provider, clerk):
    from orders.models import OrderLineMovement
    from orders.selectors import order_invoices
    from orders.timeline import order_timeline

    order = create_order(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Box", 10, "3.00"), ("Lid", 4, "1.00")],
        invoicing="delivered",
        by=clerk,
    )
    box, lid = line_of(order, 1), line_of(order, 2)
    record_delivery(order, quantities={box: 8}, by=clerk)
    record_delivery(order, quantities={box: "1.5", lid: 1}, by=None)
    cancel_order_lines(order, quantities={lid: 3}, by=clerk, reason="Out of stock")
    with pytest.raises(ExceedsBalance):
        record_delivery(order, quantities={box: 1}, by=clerk)  # 0.5 left: refused, and no row written

    rows = [(m.line.position, m.kind, m.quantity, m.created_by, m.reason) for m in OrderLineMovement.objects.all()]
    assert rows == [
        (1, "delivered", D("8"), clerk, ""),
        (1, "delivered", D("1.5"), None, ""),
        (2, "delivered", D("1"), None, ""),
        (2, "canceled", D("3"), clerk, "Out of stock"),
    ]
    assert (line_of(order, 1).delivered_quantity, line_of(order, 2).canceled_quantity) == (D("9.5"), D("3"))
    order = fresh(order)
    titles = [
        (event.title, event.detail, event.who)
        for event in order_timeline(order, lines=list(order.lines.all()), invoices=order_invoices(order))
    ]
    assert titles[:4] == [
        ("Line 2 (Lid): 3 canceled", "Out of stock", clerk.get_username()),
        ("Line 2 (Lid): 1 delivered", "", "system"),
        ("Line 1 (Box): 1.5 delivered", "", "system"),
        ("Line 1 (Box): 8 delivered", "", clerk.get_username()),
    ]


def test_an_order_may_be_placed_at_the_shops_own_time_but_not_in_the_future(customer, provider, clerk):
    import datetime

    from django.utils import timezone

    placed = timezone.now() - datetime.timedelta(days=3)
    order = create_order(
        customer=customer, provider=provider, currency="EUR", lines=[("Box", 1, "3")], placed_at=placed, by=clerk
    )
    assert fresh(order).placed_at == placed
    with pytest.raises(InvalidInput, match="cannot be placed in the future"):
        create_order(
            customer=customer,
            provider=provider,
            currency="EUR",
            lines=[("Box", 1, "3")],
            placed_at=timezone.now() + datetime.timedelta(hours=1),
            by=clerk,
        )
    with pytest.raises(InvalidInput, match="time zone"):
        create_order(
            customer=customer,
            provider=provider,
            currency="EUR",
            lines=[("Box", 1, "3")],
            placed_at=datetime.datetime(2026, 1, 1, 12, 0),
            by=clerk,
        )
    assert Order.objects.count() == 1
