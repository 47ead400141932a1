"""Reconciliation checks the order caches (I1, I2) and I9, and repairs the caches through the order refresh."""

from decimal import Decimal

import pytest

from allocations.services import allocate
from orders.models import Order, OrderLine, OrderStatusChange
from orders.services import create_order, invoice_order
from reconciliation import reconcile
from reconciliation.drift import find_drift
from reconciliation.models import ObjectKind
from tests.factories import make_payment
from tests.invariants import assert_invariants, violations
from tests.reconciliation.test_reconcile import batch_of_one, diffs, sql

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def orders(customer, provider, clerk):
    paid = create_order(customer=customer, provider=provider, currency="EUR", lines=[("Lamp", 2, "30")], by=clerk)
    allocate(make_payment(customer=customer, amount="60.00"), invoice_order(paid, by=clerk), "60.00", by=clerk)
    half = create_order(
        customer=customer, provider=provider, currency="EUR", lines=[("Desk", 4, "50"), ("Chair", 2, "10")], by=clerk
    )
    invoice_order(half, quantities={OrderLine.objects.get(order=half, position=1): 2}, by=clerk)
    assert_invariants()
    return {"paid": Order.objects.get(pk=paid.pk), "half": Order.objects.get(pk=half.pk)}


def test_a_clean_ledger_with_orders_has_no_order_drift(orders):
    assert find_drift(ObjectKind.ORDER) == {}
    run = reconcile.run_reconciliation()
    assert (run.outcome, run.drift_found) == ("clean", 0)


def drift_both(paid, half):
    # A paid order whose cache says unpaid (the figures moved together, as the CHECK demands).
    sql("UPDATE orders_order SET paid_total = 0, balance_due = 60, payment_status = 'unpaid' WHERE id = %s", [paid.pk])
    # A line whose invoiced quantity was never refreshed (invoiceable moved with it: the CHECK).
    sql(
        "UPDATE orders_orderline SET invoiced_quantity = 0, invoiceable_quantity = 4 WHERE order_id = %s"
        " AND position = 1",
        [half.pk],
    )


def test_drifted_order_caches_are_reported_and_repaired(orders):
    paid, half = orders["paid"], orders["half"]
    drift_both(paid, half)
    assert violations()

    run = reconcile.run_reconciliation(fix=True)

    found = diffs(run)
    assert ("order", paid.pk, "paid_total", "0.00", "60.00") in found
    assert ("order", paid.pk, "payment_status", "unpaid", "paid") in found
    assert ("order", half.pk, "line_quantities", "1:0/4 2:0/2", "1:2/2 2:0/2") in found
    assert (run.outcome, run.drift_fixed) == ("fixed", run.drift_found)
    assert find_drift(ObjectKind.ORDER) == {}
    assert_invariants()


def test_a_line_invoiced_beyond_what_may_be_invoiced_is_reported_never_rewritten(orders):
    half = orders["half"]
    # A policy switched to "delivered" behind the services' back: nothing was delivered, 2 are invoiced.
    sql("UPDATE orders_order SET invoicing = 'delivered' WHERE id = %s", [half.pk])
    assert any(v.startswith("I9") for v in violations())

    run = reconcile.run_reconciliation(fix=True)

    over = [d for d in run.differences.all() if d.field == "over_invoiced"]
    assert [(d.object_id, d.ledger_value, d.fixed) for d in over] == [(half.pk, "line 1: 2 of 0", False)]
    assert run.outcome == "partly_fixed"


def test_a_batch_rechecks_its_own_order_not_every_drifted_one(orders, clerk):
    paid, half = orders["paid"], orders["half"]
    drift_both(paid, half)
    run, result = batch_of_one("order", paid, fix=True, by=clerk)
    assert (result.found, result.fixed) == (1, 1)
    assert {(kind, pk) for kind, pk, *_ in diffs(run)} == {("order", paid.pk)}
    assert set(find_drift(ObjectKind.ORDER)) == {half.pk}
    repaired = OrderStatusChange.objects.filter(order=paid, reason=f"reconciliation run {run.pk}")
    assert set(repaired.values_list("field", "new", "created_by")) == {("payment_status", "paid", clerk.pk)}


def test_long_labels_and_figures_are_cut_to_what_a_difference_row_holds(customer, provider, clerk):
    # An order of 15 lines: its line quantities' text is longer than the 64 characters a
    # difference keeps; a customer and provider of long names make a longer label (199 characters,
    # so the 201st is not a space: PostgreSQL cuts trailing spaces silently to fit a varchar).
    customer.name = "C" * 199
    customer.save()
    provider.name = "P" * 200
    provider.save()
    order = create_order(
        customer=customer, provider=provider, currency="EUR", lines=[(f"Item {n}", 4, "1") for n in range(15)], by=clerk
    )
    invoice_order(order, by=clerk)
    sql("UPDATE orders_orderline SET invoiced_quantity = 0, invoiceable_quantity = 4 WHERE order_id = %s", [order.pk])
    sql("UPDATE billing_account SET balance_due = balance_due + 1 WHERE id = %s", [order.account_id])

    run = reconcile.run_reconciliation()

    lines = run.differences.get(object_kind="order", field="line_quantities")
    full = " ".join(f"{n}:0/4" for n in range(1, 16))
    assert (lines.cached_value, lines.ledger_value) == (full[:64], " ".join(f"{n}:4/0" for n in range(1, 16))[:64])
    account = run.differences.get(object_kind="account", field="balance_due")
    assert account.object_label == f"{'C' * 199} / {'P' * 200} (EUR)"[:200]
