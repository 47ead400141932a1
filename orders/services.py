"""Order use cases (DESIGN.md sections 7 and 9): create, add a line, deliver, invoice, cancel lines.

Each runs in one transaction and locks through ledger.core.lock_rows in the one order
(the order's account, the order, then invoices, then payments), so an order's lines are
only ever changed by a writer holding the order's lock. Invoices are made and issued by
invoices.services (create_invoice, issue_invoice: the one issuing path, with its journal
entry); their refresh refreshes the order's caches (ledger.orders) in the same transaction.

Quantities are exact decimals with at most three places (as invoice lines'), given as
Decimal, int or a plain decimal string; floats and anything else are refused.

Negative prices: refused. An order line's unit price is zero or more, with a message that
says how to give a discount instead (a lower unit price, or a credit note on the invoice).
A discount line could be invoiced on its own (a partial invoice, or the next invoice after
the items were billed), and an invoice must never come to less than zero; refusing them
at the order keeps every invoice of an order non-negative by construction, whatever
quantities are invoiced when.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone

from allocations.services import allocate_many
from billing.actors import Actor
from billing.errors import ExceedsBalance, InvalidAmount, InvalidInput, InvalidState
from billing.models import Account, Customer, Provider
from billing.money import MAX_AMOUNT, MINOR_UNITS, format_money, minor_unit, parse_amount
from billing.validation import require_reason
from invoices.models import Invoice, InvoiceKind
from invoices.services import create_invoice, issue_invoice
from ledger.core import lock_rows, lock_rows_with_orders, record_order_change, refresh_all, sync_caller_copy
from orders.models import (
    InvoicingPolicy,
    MovementKind,
    Order,
    OrderLine,
    OrderLineKind,
    OrderLineMovement,
    OrderState,
    billable_quantity,
)
from payments.models import Payment, PaymentState

# OrderLine quantities are DecimalField(max_digits=12, decimal_places=3).
MAX_QUANTITY = Decimal("999999999.999")
# An order's invoice is due this many days after its issue unless the caller says otherwise.
PAYMENT_TERMS_DAYS = 14
# pg_advisory_xact_lock(key, provider id) while a provider's next order number is taken.
_ORDER_NUMBER_LOCK = 0x0D0E


def parse_quantity(value: object, *, field: str) -> Decimal:
    """A positive quantity with at most 3 decimals; InvalidInput otherwise (no floats, no exponents)."""
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise InvalidInput(f"The {field} must be an exact decimal, not {type(value).__name__}.")
    text = str(value).strip()
    if isinstance(value, str) and not _plain_decimal(text):
        raise InvalidInput(f"The {field} {value!r} is not a number.")
    try:
        quantity = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"The {field} {value!r} is not a number.") from None
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidInput(f"The {field} must be greater than zero.")
    if quantity > MAX_QUANTITY:
        raise InvalidInput(f"The {field} {quantity} is larger than {MAX_QUANTITY}.")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise InvalidInput(f"The {field} allows at most 3 decimals.")
    return quantity


def _plain_decimal(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    whole, _, fraction = digits.partition(".")
    return bool(whole or fraction) and all(
        part == "" or (part.isascii() and part.isdigit()) for part in (whole, fraction)
    )


def _show(quantity: Decimal) -> str:
    """10.000 -> '10', 2.500 -> '2.5': quantities in messages as a clerk writes them."""
    return f"{quantity.normalize():f}"


def _parse_line(
    description: object, quantity: object, unit_price: object, currency: str, where: str
) -> tuple[str, Decimal, Decimal]:
    text = str(description or "").strip()
    if not text:
        raise InvalidInput(f"{where} needs a description.")
    parsed = parse_quantity(quantity, field=f"quantity of {where.lower()}")
    price = parse_amount(unit_price, currency, field=f"unit price of {where.lower()}")
    if price < 0:
        raise InvalidAmount(
            f"{where}: the unit price {format_money(price, currency)} is negative. Give a discount as a lower unit "
            "price, or as a credit note on the invoice: an order's invoices never come to less than zero."
        )
    amount = (parsed * price).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    if amount > MAX_AMOUNT:
        raise InvalidAmount(
            f"{where} comes to {format_money(amount, currency)}, more than the largest amount Settle can book."
        )
    return text[:300], parsed, price


def _lock_order(order: Order) -> Order:
    """Lock the order's account, then the order (the one lock order); the locked copy."""
    _, orders, _, _ = lock_rows_with_orders(accounts=[order.account_id], orders=[order.pk])
    return orders[order.pk]


def _lines_of(order: Order) -> dict[int, OrderLine]:
    """The order's lines as they are under its lock (only writers holding it change them)."""
    return {line.pk: line for line in OrderLine.objects.filter(order_id=order.pk).order_by("position")}


def _given_lines(order: Order, quantities: Mapping, lines: dict[int, OrderLine], action: str):
    if not isinstance(quantities, Mapping) or not quantities:
        raise InvalidInput(f"Give the quantities to {action} as {{order line: quantity}}, at least one.")
    given = []
    for line, quantity in quantities.items():
        pk = getattr(line, "pk", None)
        if not isinstance(line, OrderLine) or pk not in lines:
            raise InvalidInput(f"{line} is not a line of order {order}.")
        current = lines[pk]
        given.append((current, parse_quantity(quantity, field=f"quantity to {action} of line {current.position}")))
    return sorted(given, key=lambda item: item[0].position)


def _refuse_if_canceled(order: Order, action: str) -> None:
    if order.state == OrderState.CANCELED:
        raise InvalidState(f"Order {order} is canceled; it cannot {action}.")


@transaction.atomic
def create_order(
    *,
    customer: Customer,
    provider: Provider,
    currency: str,
    lines: Iterable[tuple],
    invoicing: str = InvoicingPolicy.ORDERED,
    placed_at: datetime.datetime | None = None,
    by: Actor,
) -> Order:
    """Place an order: lines (description, quantity, unit price), each a product.

    `invoicing` is `ordered` (all of it may be invoiced at once) or `delivered` (only what
    record_delivery recorded). The order takes the provider's next order number.
    `placed_at` is when the customer ordered (now by default; a shop passing on its orders
    gives its own time), with its time zone and not in the future.
    """
    if placed_at is None:
        placed_at = timezone.now()
    elif not isinstance(placed_at, datetime.datetime) or timezone.is_naive(placed_at):
        raise InvalidInput(f"The time the order was placed needs a date, a time and a time zone; got {placed_at!r}.")
    elif placed_at > timezone.now():
        raise InvalidInput(f"An order cannot be placed in the future ({placed_at.isoformat()}).")
    if currency not in MINOR_UNITS:
        raise InvalidInput(f"{currency!r} is not a currency Settle keeps.")
    if invoicing not in InvoicingPolicy.values:
        raise InvalidInput(f"Invoicing must be one of {', '.join(InvoicingPolicy.values)}; got {invoicing!r}.")
    built = []
    for position, line in enumerate(lines, start=1):
        try:
            description, quantity, unit_price = line
        except (TypeError, ValueError):
            raise InvalidInput(f"Line {position} must be (description, quantity, unit price).") from None
        built.append(_parse_line(description, quantity, unit_price, currency, f"Line {position}"))
    if not built:
        raise InvalidInput("An order needs at least one line.")
    account, _ = Account.objects.get_or_create(customer=customer, provider=provider, currency=currency)
    with connection.cursor() as cursor:
        # Numbers without gaps per provider; the unique constraint is the backstop.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ORDER_NUMBER_LOCK, provider.pk])
        cursor.execute("SELECT COALESCE(MAX(sequence), 0) + 1 FROM orders_order WHERE provider_id = %s", [provider.pk])
        sequence = cursor.fetchone()[0]
    order = Order.objects.create(
        customer=customer,
        provider=provider,
        account=account,
        currency=currency,
        sequence=sequence,
        number=f"O-{provider.code}-{sequence:06d}",
        invoicing=invoicing,
        placed_at=placed_at,
        created_by=by,
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            position=position,
            kind=OrderLineKind.PRODUCT,
            description=description,
            quantity=quantity,
            unit_price=price,
            created_by=by,
        )
        for position, (description, quantity, price) in enumerate(built, start=1)
    )
    locked = _lock_order(order)
    refresh_all(orders=[locked], cause=f"order {locked} placed", by=by)
    return locked


@transaction.atomic
def add_order_line(
    order: Order,
    *,
    description: str,
    quantity: object,
    unit_price: object,
    kind: str = OrderLineKind.FEE,
    by: Actor,
) -> OrderLine:
    """Add a line to an order, e.g. a fee or shipping charge that appeared after payment.

    Invoices already issued are never touched: the next invoice_order bills the new line.
    """
    if kind not in OrderLineKind.values:
        raise InvalidInput(f"An order line's kind is one of {', '.join(OrderLineKind.values)}; got {kind!r}.")
    locked = _lock_order(order)
    _refuse_if_canceled(locked, "take new lines")
    lines = _lines_of(locked)
    position = max((line.position for line in lines.values()), default=0) + 1
    text, parsed, price = _parse_line(description, quantity, unit_price, locked.currency, "The new line")
    line = OrderLine.objects.create(
        order=locked,
        position=position,
        kind=kind,
        description=text,
        quantity=parsed,
        unit_price=price,
        created_by=by,
    )
    refresh_all(orders=[locked], cause=f"line {position} added to order {locked}", by=by)
    sync_caller_copy(order, locked)
    line.refresh_from_db()
    return line


@transaction.atomic
def record_delivery(order: Order, *, quantities: Mapping, by: Actor) -> Order:
    """Record what was delivered now, {order line: quantity}; under `delivered` invoicing it may then be billed."""
    locked = _lock_order(order)
    _refuse_if_canceled(locked, "deliver")
    lines = _lines_of(locked)
    moved: list[OrderLineMovement] = []
    for line, quantity in _given_lines(locked, quantities, lines, "deliver"):
        left = line.quantity - line.canceled_quantity - line.delivered_quantity
        if quantity > left:
            raise ExceedsBalance(
                f"Order {locked} line {line.position} ({line.description}) has {_show(left)} left to deliver; "
                f"you recorded {_show(quantity)}."
            )
        line.delivered_quantity += quantity
        line.save(update_fields=["delivered_quantity"])
        moved.append(
            OrderLineMovement(order=locked, line=line, kind=MovementKind.DELIVERED, quantity=quantity, created_by=by)
        )
    OrderLineMovement.objects.bulk_create(moved)
    refresh_all(orders=[locked], cause=f"delivery on order {locked}", by=by)
    sync_caller_copy(order, locked)
    return locked


@transaction.atomic
def invoice_order(
    order: Order,
    *,
    quantities: Mapping | None = None,
    due_date: datetime.date | None = None,
    apply_credit: bool = False,
    by: Actor,
) -> Invoice:
    """Issue one invoice for the given quantities {order line: quantity}, or for everything
    that may be invoiced now (None).

    Refuses more than a line may be invoiced (ordered or delivered, less invoiced, plus what
    reopening credit notes gave back), naming the line and what is left. An invoice of only
    fee and shipping lines is of kind `fee`. `due_date` defaults to PAYMENT_TERMS_DAYS after
    today. With apply_credit, the customer's unallocated settled payments in the order's
    currency are applied to the new invoice, oldest first, in this transaction, through
    allocations.services.allocate_many.
    """
    locked = _lock_order(order)
    _refuse_if_canceled(locked, "be invoiced")
    lines = _lines_of(locked)
    if quantities is None:
        billed = [(line, line.invoiceable_quantity) for line in lines.values() if line.invoiceable_quantity > 0]
        if not billed:
            raise InvalidState(f"Order {locked} has nothing that may be invoiced now.")
    else:
        billed = _given_lines(locked, quantities, lines, "invoice")
        for line, quantity in billed:
            if quantity > line.invoiceable_quantity:
                raise ExceedsBalance(
                    f"Order {locked} line {line.position} ({line.description}) has "
                    f"{_show(line.invoiceable_quantity)} left to invoice; you asked for {_show(quantity)}."
                )
    today = timezone.localdate()
    if due_date is None:
        due_date = today + datetime.timedelta(days=PAYMENT_TERMS_DAYS)
    kind = InvoiceKind.STANDARD
    if all(line.kind != OrderLineKind.PRODUCT for line, _ in billed):
        kind = InvoiceKind.FEE
    draft = create_invoice(
        customer=locked.customer,
        provider=locked.provider,
        currency=locked.currency,
        lines=[(line.description, quantity, line.unit_price, line) for line, quantity in billed],
        due_date=due_date,
        issue_date=today,
        kind=kind,
        order=locked,
        by=by,
    )
    invoice = issue_invoice(draft, by=by)  # refreshes the order's lines and figures with the invoice
    if apply_credit:
        _apply_credit(locked, invoice, by=by)
    invoice.refresh_from_db()
    order_now = Order.objects.get(pk=locked.pk)
    sync_caller_copy(order, order_now)
    return invoice


def _apply_credit(order: Order, invoice: Invoice, *, by: Actor) -> None:
    """The customer's unallocated settled money in the currency onto the new invoice, oldest first.

    The payments are locked by id after the invoice (the one order) before any is read.
    """
    candidates = Payment.objects.filter(
        customer_id=order.customer_id, currency=order.currency, state=PaymentState.SETTLED, unallocated__gt=0
    ).values_list("pk", flat=True)
    _, _, payments = lock_rows(payments=candidates)
    remaining = invoice.balance_due
    oldest_first = sorted(payments.values(), key=lambda p: (p.received_at, p.pk))
    for payment in oldest_first:
        if remaining <= 0:
            break
        if payment.state != PaymentState.SETTLED or payment.unallocated <= 0:
            continue
        amount = min(payment.unallocated, remaining)
        allocate_many(payment, [(invoice, amount)], by=by, note=f"credit applied at invoicing of order {order}")
        remaining -= amount


@transaction.atomic
def cancel_order_lines(order: Order, *, quantities: Mapping, by: Actor, reason: str) -> Order:
    """Drop quantities that were never invoiced (nor delivered), {order line: quantity}.

    When nothing is left on any line and nothing is invoiced, the order is canceled; an
    order with something invoiced is never canceled (it closes once the rest is paid).
    """
    reason = require_reason(reason, f"cancel lines of order {order}")
    locked = _lock_order(order)
    _refuse_if_canceled(locked, "cancel lines")
    lines = _lines_of(locked)
    moved: list[OrderLineMovement] = []
    for line, quantity in _given_lines(locked, quantities, lines, "cancel"):
        left = line.quantity - line.canceled_quantity - max(line.invoiced_quantity, line.delivered_quantity)
        if quantity > left:
            raise ExceedsBalance(
                f"Order {locked} line {line.position} ({line.description}) has {_show(left)} that is neither "
                f"invoiced nor delivered; you asked to cancel {_show(quantity)}."
            )
        line.canceled_quantity += quantity
        # Written with what it leaves invoiceable (the refresh below agrees): the row's check
        # constraint holds invoiced + invoiceable within quantity - canceled.
        line.invoiceable_quantity = billable_quantity(line, locked.invoicing) - line.invoiced_quantity
        line.save(update_fields=["canceled_quantity", "invoiceable_quantity"])
        moved.append(
            OrderLineMovement(
                order=locked, line=line, kind=MovementKind.CANCELED, quantity=quantity, reason=reason, created_by=by
            )
        )
    OrderLineMovement.objects.bulk_create(moved)
    cause = f"lines of order {locked} canceled: {reason}"
    refresh_all(orders=[locked], cause=cause, by=by)
    if all(line.canceled_quantity == line.quantity for line in lines.values()) and not any(
        line.invoiced_quantity for line in OrderLine.objects.filter(order_id=locked.pk)
    ):
        old_state = locked.state
        locked.cancel()
        locked.canceled_at = timezone.now()
        locked.cancel_reason = reason
        locked.save(update_fields=["state", "canceled_at", "cancel_reason"])
        record_order_change(locked, field="state", old=old_state, new=locked.state, cause=cause, by=by)
    sync_caller_copy(order, locked)
    return locked
