"""Orders (the shop's carts): the list, place, add a line, record delivery, invoice, cancel lines."""

import datetime

from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from api.auth import READ, WRITE
from api.lists import Page, PageQuery, page_out
from api.lookups import get_row, named_row
from api.routers.invoices import InvoiceDetail
from api.schemas import AmountIn, Currency, Error, Id, Money, Quantity, QuantityIn, Reason
from billing.actors import AuthenticatedHttpRequest
from billing.errors import InvalidInput
from billing.models import Customer, Provider
from orders import selectors, services
from orders.filters import ORDER_SORTS, order_sort
from orders.models import InvoicingPolicy, Order, OrderLineKind

router = Router(tags=["orders"])


class OrderLineOut(Schema):
    id: int
    position: int
    kind: str
    description: str
    quantity: Quantity
    unit_price: Money
    delivered_quantity: Quantity
    canceled_quantity: Quantity
    invoiced_quantity: Quantity
    invoiceable_quantity: Quantity


class OrderOut(Schema):
    id: int
    number: str
    customer_id: int
    provider_id: int
    currency: str
    placed_at: datetime.datetime
    invoicing: str
    state: str
    billing_status: str
    payment_status: str
    invoiced_total: Money
    paid_total: Money
    balance_due: Money


class OrderDetail(OrderOut):
    lines: list[OrderLineOut]

    @staticmethod
    def resolve_lines(order: Order) -> list:
        return list(order.lines.order_by("position"))


class OrderPage(Page):
    items: list[OrderOut]


class OrderQuery(PageQuery):
    number: str | None = Field(None, max_length=40)
    customer: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=20, description="provider id")
    currency: str | None = Field(None, max_length=3)
    billing_status: str | None = Field(None, max_length=30)
    payment_status: str | None = Field(None, max_length=30)
    placed_from: datetime.date | None = None
    placed_to: datetime.date | None = None


class OrderLineIn(Schema):
    description: str = Field(min_length=1, max_length=300)
    quantity: QuantityIn
    unit_price: AmountIn


class OrderIn(Schema):
    customer_id: Id
    provider_id: Id
    currency: Currency
    lines: list[OrderLineIn] = Field(min_length=1, max_length=200)
    invoicing: str = Field(InvoicingPolicy.ORDERED, pattern="^(ordered|delivered)$")
    placed_at: datetime.datetime | None = None


class AddLineIn(OrderLineIn):
    kind: str = Field(OrderLineKind.FEE, pattern="^(product|fee|shipping)$")


class LineQuantityIn(Schema):
    line_id: Id
    quantity: QuantityIn


class QuantitiesIn(Schema):
    lines: list[LineQuantityIn] = Field(min_length=1, max_length=200)


class CancelLinesIn(QuantitiesIn):
    reason: Reason


class InvoiceOrderIn(Schema):
    lines: list[LineQuantityIn] | None = Field(None, min_length=1, max_length=200, description="none: all invoiceable")
    due_date: datetime.date | None = None
    apply_credit: bool = False


def _order(pk: int) -> Order:
    return get_row(Order, pk, "order")


def _quantities(order: Order, wanted: list[LineQuantityIn]) -> dict:
    lines = {line.pk: line for line in order.lines.all()}
    quantities = {}
    for item in wanted:
        if item.line_id not in lines:
            raise InvalidInput(f"lines: {item.line_id} is not a line of order {order.number}.")
        quantities[lines[item.line_id]] = item.quantity
    return quantities


@router.get("/orders", response={200: OrderPage, codes_4xx: Error}, auth=READ)
def order_list(request: AuthenticatedHttpRequest, filters: Query[OrderQuery]):
    filterset = selectors.order_filter(request.GET)
    totals = selectors.order_totals(filters=filterset)
    ordering = ORDER_SORTS[order_sort(filterset)]
    return page_out(request, selectors.order_list(filters=filterset), ordering, totals, per_page=filters.per_page)


@router.get("/orders/{id}", response={200: OrderDetail, codes_4xx: Error}, auth=READ)
def order_detail(request: AuthenticatedHttpRequest, id: Id):
    return _order(id)


@router.post("/orders", response={201: OrderDetail, codes_4xx: Error}, auth=WRITE)
def create_order(request: AuthenticatedHttpRequest, payload: OrderIn):
    order = services.create_order(
        customer=named_row(Customer, payload.customer_id, "customer", "customer_id"),
        provider=named_row(Provider, payload.provider_id, "provider", "provider_id"),
        currency=payload.currency,
        lines=[(line.description, line.quantity, line.unit_price) for line in payload.lines],
        invoicing=payload.invoicing,
        placed_at=payload.placed_at,
        by=request.user,
    )
    return Status(201, order)


@router.post("/orders/{id}/lines", response={201: OrderDetail, codes_4xx: Error}, auth=WRITE)
def add_order_line(request: AuthenticatedHttpRequest, id: Id, payload: AddLineIn):
    order = _order(id)
    services.add_order_line(
        order,
        description=payload.description,
        quantity=payload.quantity,
        unit_price=payload.unit_price,
        kind=payload.kind,
        by=request.user,
    )
    order.refresh_from_db()
    return Status(201, order)


@router.post("/orders/{id}/deliveries", response={200: OrderDetail, codes_4xx: Error}, auth=WRITE)
def record_delivery(request: AuthenticatedHttpRequest, id: Id, payload: QuantitiesIn):
    order = _order(id)
    return services.record_delivery(order, quantities=_quantities(order, payload.lines), by=request.user)


@router.post("/orders/{id}/invoices", response={201: InvoiceDetail, codes_4xx: Error}, auth=WRITE)
def invoice_order(request: AuthenticatedHttpRequest, id: Id, payload: InvoiceOrderIn):
    """One issued invoice for the given line quantities, or for everything invoiceable now."""
    order = _order(id)
    quantities = _quantities(order, payload.lines) if payload.lines is not None else None
    invoice = services.invoice_order(
        order, quantities=quantities, due_date=payload.due_date, apply_credit=payload.apply_credit, by=request.user
    )
    return Status(201, invoice)


@router.post("/orders/{id}/cancellations", response={200: OrderDetail, codes_4xx: Error}, auth=WRITE)
def cancel_order_lines(request: AuthenticatedHttpRequest, id: Id, payload: CancelLinesIn):
    order = _order(id)
    return services.cancel_order_lines(
        order, quantities=_quantities(order, payload.lines), by=request.user, reason=payload.reason
    )
