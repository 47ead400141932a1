"""Orders: what a customer bought, billed by immutable invoices (DESIGN.md section 9).

An order is a promise, not a bill: payments never point at it. Its lines say what may be
invoiced; invoices (invoices.models, `order_line` on their lines) say what was. The
figures and statuses below are caches, written only by ledger.orders.refresh_orders in the
transaction of the service that changed the order or one of its invoices.
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django_fsm import GET_STATE, transition

from billing.fsm import RefreshableFSMModel, StatusField
from billing.kept_totals import KeptFigures
from billing.models import (
    CURRENCY_CHECK,
    Account,
    Customer,
    LedgerRow,
    Provider,
    StatusChangeBase,
    currency_field,
    money_field,
)
from billing.status import PaymentStatus


class OrderState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"  # everything invoiced and paid
    CANCELED = "canceled", "Canceled"  # only while nothing was invoiced


class InvoicingPolicy(models.TextChoices):
    ORDERED = "ordered", "As ordered"  # everything ordered may be invoiced at once
    DELIVERED = "delivered", "As delivered"  # only what record_delivery recorded


class BillingStatus(models.TextChoices):
    NOT_INVOICED = "not_invoiced", "Not invoiced"
    PARTIALLY_INVOICED = "partially_invoiced", "Partially invoiced"
    INVOICED = "invoiced", "Invoiced"


class OrderLineKind(models.TextChoices):
    PRODUCT = "product", "Product"
    FEE = "fee", "Fee"
    SHIPPING = "shipping", "Shipping"


def derive_billing_status(*, any_invoiced: bool, all_invoiced: bool) -> str:
    """Nothing invoiced yet; everything that will ever be billed is billed; or in between."""
    if not any_invoiced:
        return BillingStatus.NOT_INVOICED
    if all_invoiced:
        return BillingStatus.INVOICED
    return BillingStatus.PARTIALLY_INVOICED


def derive_order_payment_status(*, billing_status: str, net: Decimal, paid: Decimal) -> str:
    """billing.status.derive_payment_status over the order's invoices (net = invoiced_total).

    One difference: an order with nothing invoiced and nothing paid is unpaid, not paid (an
    invoice with nothing to pay is paid; an order that has not been billed yet owes it all).
    """
    from billing.status import derive_payment_status

    if billing_status == BillingStatus.NOT_INVOICED and net == 0 and paid == 0:
        return PaymentStatus.UNPAID
    return derive_payment_status(net=net, paid=paid)


def derive_order_state(*, state: str, billing_status: str, payment_status: str) -> str:
    """Canceled stays canceled; closed when everything is invoiced and paid; open otherwise."""
    if state == OrderState.CANCELED:
        return OrderState.CANCELED
    if billing_status == BillingStatus.INVOICED and payment_status == PaymentStatus.PAID:
        return OrderState.CLOSED
    return OrderState.OPEN


def billable_quantity(line: OrderLine, invoicing: str) -> Decimal:
    """What a line may be invoiced for in all, under its order's policy (I9's limit; ledger.orders in SQL)."""
    ordered = line.quantity - line.canceled_quantity
    if invoicing == InvoicingPolicy.DELIVERED:
        return min(line.delivered_quantity, ordered)
    return ordered


class Order(RefreshableFSMModel):
    # No index of their own: the list indexes below start with them.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="orders", db_index=False)
    currency = currency_field()
    # The account its invoices go to: the services lock it first, as for any invoice (lock order).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders", db_index=False)
    # O-ACME-000042: the provider's order counter, taken at creation (orders.services.create_order).
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=24, unique=True)
    placed_at = models.DateTimeField(default=timezone.now)
    invoicing = models.CharField(max_length=16, choices=InvoicingPolicy.choices, default=InvoicingPolicy.ORDERED)

    # Over its open invoices: total net of credit notes (void invoices count nothing), paid, still due.
    invoiced_total = money_field(default=0)
    paid_total = money_field(default=0)
    balance_due = money_field(default=0)

    state = StatusField(max_length=16, choices=OrderState.choices, default=OrderState.OPEN, protected=True)
    billing_status = StatusField(
        max_length=20, choices=BillingStatus.choices, default=BillingStatus.NOT_INVOICED, protected=True
    )
    payment_status = StatusField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID, protected=True
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "sequence"], name="order_unique_provider_sequence"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CHECK), name="order_currency_code"),
            models.CheckConstraint(condition=Q(invoiced_total__gte=0), name="order_invoiced_non_negative"),
            models.CheckConstraint(condition=Q(paid_total__gte=0), name="order_paid_non_negative"),
            models.CheckConstraint(
                condition=Q(balance_due=F("invoiced_total") - F("paid_total")), name="order_balance_due_consistent"
            ),
            models.CheckConstraint(
                condition=~Q(state=OrderState.CANCELED) | Q(billing_status=BillingStatus.NOT_INVOICED),
                name="order_canceled_not_invoiced",
            ),
        ]
        indexes = [
            # The orders list, newest first, filtered by one status (an index scan, like the invoice list).
            models.Index(fields=["billing_status", "placed_at", "id"], name="order_billing_idx"),
            models.Index(fields=["payment_status", "placed_at", "id"], name="order_payment_idx"),
            models.Index(fields=["provider", "billing_status", "placed_at", "id"], name="order_provider_billing_idx"),
            models.Index(fields=["provider", "payment_status", "placed_at", "id"], name="order_provider_payment_idx"),
            # A customer has few orders: their list reads them all, newest first, and filters.
            models.Index(fields=["customer", "billing_status", "payment_status"], name="order_customer_idx"),
            models.Index(fields=["placed_at", "id"], name="order_placed_idx"),
        ]
        triggers = [
            # Every change of an order's statuses, currency, provider or figures appends its delta
            # to OrderQueueTotal, in the same transaction, whatever code made it (as for invoices).
            pgtrigger.Trigger(
                name="queue_totals",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                func="""
                IF TG_OP = 'UPDATE' AND OLD.billing_status = NEW.billing_status
                   AND OLD.payment_status = NEW.payment_status AND OLD.currency = NEW.currency
                   AND OLD.provider_id = NEW.provider_id THEN
                    IF OLD.invoiced_total <> NEW.invoiced_total OR OLD.paid_total <> NEW.paid_total
                       OR OLD.balance_due <> NEW.balance_due THEN
                        INSERT INTO orders_orderqueuetotal
                            (provider_id, billing_status, payment_status, currency, orders,
                             invoiced_total, paid_total, balance_due)
                        VALUES (NEW.provider_id, NEW.billing_status, NEW.payment_status, NEW.currency, 0,
                                NEW.invoiced_total - OLD.invoiced_total, NEW.paid_total - OLD.paid_total,
                                NEW.balance_due - OLD.balance_due);
                    END IF;
                    RETURN NULL;
                END IF;
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO orders_orderqueuetotal
                        (provider_id, billing_status, payment_status, currency, orders,
                         invoiced_total, paid_total, balance_due)
                    VALUES (OLD.provider_id, OLD.billing_status, OLD.payment_status, OLD.currency, -1,
                            -OLD.invoiced_total, -OLD.paid_total, -OLD.balance_due);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO orders_orderqueuetotal
                        (provider_id, billing_status, payment_status, currency, orders,
                         invoiced_total, paid_total, balance_due)
                    VALUES (NEW.provider_id, NEW.billing_status, NEW.payment_status, NEW.currency, 1,
                            NEW.invoiced_total, NEW.paid_total, NEW.balance_due);
                END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", args=[self.pk])

    @transition(field=state, source=OrderState.OPEN, target=OrderState.CANCELED)
    def cancel(self) -> None:
        """Open to canceled; the service checks that nothing is invoiced."""

    @transition(field=billing_status, source="*", target=GET_STATE(lambda order, status: status))
    def move_billing_status(self, status: str) -> None:
        """Move billing_status to what the lines say (derive_billing_status; idempotent)."""

    @transition(
        field=payment_status,
        source="*",
        target=GET_STATE(
            lambda order: derive_order_payment_status(
                billing_status=order.billing_status, net=order.invoiced_total, paid=order.paid_total
            )
        ),
    )
    def refresh_payment_status(self) -> None:
        """Move payment_status to what the cached totals say (idempotent)."""

    @transition(
        field=state,
        source=[OrderState.OPEN, OrderState.CLOSED, OrderState.CANCELED],
        target=GET_STATE(
            lambda order: derive_order_state(
                state=order.state, billing_status=order.billing_status, payment_status=order.payment_status
            )
        ),
    )
    def refresh_state(self) -> None:
        """Open and closed follow the statuses; canceled stays."""


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=OrderLineKind.choices, default=OrderLineKind.PRODUCT)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = money_field()
    delivered_quantity = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    canceled_quantity = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    # Caches (ledger.orders): billed on non-void invoices, less what credit notes reopened;
    # and what may still be invoiced (ordered or delivered, less canceled, less invoiced).
    invoiced_quantity = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    invoiceable_quantity = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="order_line_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_line_unit_price_non_negative"),
            models.CheckConstraint(
                condition=Q(delivered_quantity__gte=0)
                & Q(canceled_quantity__gte=0)
                & Q(invoiced_quantity__gte=0)
                & Q(invoiceable_quantity__gte=0),
                name="order_line_quantities_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(delivered_quantity__lte=F("quantity") - F("canceled_quantity")),
                name="order_line_delivered_within_ordered",
            ),
            # I9 at the database: invoiced never passes what may be invoiced (the policy's
            # limit is at most quantity - canceled, and invoiceable is that limit less invoiced).
            models.CheckConstraint(
                condition=Q(invoiced_quantity__lte=F("quantity") - F("canceled_quantity") - F("invoiceable_quantity")),
                name="order_line_invoiced_within_invoiceable",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} line {self.position} ({self.description})"


class OrderStatusChange(StatusChangeBase):
    """One move of an order's state, billing_status or payment_status, with its cause; append-only."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="status_changes")

    class Meta:
        ordering = ["id"]


class MovementKind(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    CANCELED = "canceled", "Canceled"


class OrderLineMovement(LedgerRow):
    """A quantity of one order line delivered or canceled, by whom, when and why; append-only.

    The line's delivered_quantity and canceled_quantity are what the services decide with;
    these rows are their history, for the order page and for anyone who asks who shipped what.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="movements")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_movement_quantity_positive"),
        ]


class OrderQueueTotal(models.Model):
    """Count and figures of the orders per provider, billing status, payment status and currency.

    A sum of deltas, as invoices.InvoiceQueueTotal: the trigger on Order appends one row per
    change, billing.kept_totals.compact_totals folds them now and then. The order list's
    totals filtered by those keys read a few rows instead of aggregating every matching
    order (which took 40-50 ms of a 60-80 ms page at 200,000 orders).
    """

    provider_id = models.BigIntegerField()  # Order.provider's column, a key only (no constraint to check per delta)
    billing_status = models.CharField(max_length=20, choices=BillingStatus.choices)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    currency = currency_field()
    orders = models.BigIntegerField()
    invoiced_total = models.DecimalField(max_digits=18, decimal_places=2)
    paid_total = models.DecimalField(max_digits=18, decimal_places=2)
    balance_due = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [
            models.Index(
                fields=["billing_status", "payment_status", "currency", "provider_id"],
                include=["orders", "invoiced_total", "paid_total", "balance_due"],
                name="order_queue_total_key_idx",
            )
        ]


# The kept columns of OrderQueueTotal: the order list's totals, compaction, drift.
ORDER_QUEUE_FIGURES = KeptFigures(OrderQueueTotal, count="orders", sums=("invoiced_total", "paid_total", "balance_due"))
