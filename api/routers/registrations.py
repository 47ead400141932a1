"""Workshops and registrations (the registration site): the workshops, make one, register a cart, cancel."""

import datetime

from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from api.auth import READ, WRITE
from api.lists import Page, PageQuery, page_out
from api.lookups import get_row, named_row
from api.schemas import AmountIn, Currency, Error, Id, Money, Reason
from billing.actors import AuthenticatedHttpRequest
from billing.errors import InvalidInput
from billing.listing import Ordering, currency_totals
from billing.models import Customer, Provider
from registrations import selectors, services
from registrations.models import Registration, Workshop

router = Router(tags=["registrations"])

# Soonest first, as the workshops page lists them (ties by id).
WORKSHOP_ORDERING = Ordering("starts_at", descending=False, id_descending=False, nullable=False)


class WorkshopOut(Schema):
    id: int
    provider_id: int
    title: str
    starts_at: datetime.datetime
    capacity: int
    seats_taken: int
    waitlist_length: int
    price: Money
    currency: str
    cancel_until_days: int


class WorkshopPage(Page):
    items: list[WorkshopOut]


class WorkshopQuery(PageQuery):
    when: str | None = Field(None, pattern="^(upcoming|past|all)$", description="upcoming (default), past or all")


class WorkshopIn(Schema):
    provider_id: Id
    title: str = Field(min_length=1, max_length=200)
    starts_at: datetime.datetime
    capacity: int = Field(ge=1, le=100_000)
    price: AmountIn
    currency: Currency
    cancel_until_days: int = Field(7, ge=0, le=365)


class RegistrationOut(Schema):
    id: int
    workshop_id: int
    order_id: int
    customer_id: int
    attendee: str
    status: str
    waitlist_position: int | None
    registered_at: datetime.datetime
    confirmed_at: datetime.datetime | None
    canceled_at: datetime.datetime | None
    invoice_id: int | None
    credit_note_id: int | None


class CartIn(Schema):
    customer_id: Id
    workshop_ids: list[Id] = Field(min_length=1, max_length=50)
    attendee: str | None = Field(None, min_length=1, max_length=200, description="default: the customer's name")


class CartOut(Schema):
    order_id: int
    registrations: list[RegistrationOut]


class CancelIn(Schema):
    reason: Reason
    credit_anyway: bool = Field(False, description="credit in full even after the deadline (a finance decision)")


@router.get("/workshops", response={200: WorkshopPage, codes_4xx: Error}, auth=READ)
def workshop_list(request: AuthenticatedHttpRequest, filters: Query[WorkshopQuery]):
    upcoming = {None: True, "upcoming": True, "past": False, "all": None}[filters.when]
    # The past ones newest first, as the page: the same cursor order either way (by start, then id).
    queryset = selectors.workshop_list(upcoming=upcoming).order_by("starts_at", "id")
    return page_out(
        request,
        queryset,
        WORKSHOP_ORDERING,
        currency_totals(queryset, request.GET, price="price"),
        per_page=filters.per_page,
    )


@router.get("/workshops/{id}", response={200: WorkshopOut, codes_4xx: Error}, auth=READ)
def workshop_detail(request: AuthenticatedHttpRequest, id: Id):
    return get_row(Workshop, id, "workshop")


@router.post("/workshops", response={201: WorkshopOut, codes_4xx: Error}, auth=WRITE)
def create_workshop(request: AuthenticatedHttpRequest, payload: WorkshopIn):
    workshop = services.create_workshop(
        provider=named_row(Provider, payload.provider_id, "provider", "provider_id"),
        title=payload.title,
        starts_at=payload.starts_at,
        capacity=payload.capacity,
        price=payload.price,
        currency=payload.currency,
        cancel_until_days=payload.cancel_until_days,
        by=request.user,
    )
    return Status(201, workshop)


@router.post("/registrations", response={201: CartOut, codes_4xx: Error}, auth=WRITE)
def register_cart(request: AuthenticatedHttpRequest, payload: CartIn):
    """A cart: one order, one registration per workshop, confirmed (charged on one invoice) or wait-listed."""
    found = Workshop.objects.in_bulk(payload.workshop_ids)
    missing = [pk for pk in payload.workshop_ids if pk not in found]
    if missing:
        raise InvalidInput(f"workshop_ids: no workshop {', '.join(str(pk) for pk in missing)}.")
    order = services.register(
        customer=named_row(Customer, payload.customer_id, "customer", "customer_id"),
        workshops=[found[pk] for pk in payload.workshop_ids],
        attendee=payload.attendee,
        by=request.user,
    )
    return Status(201, {"order_id": order.pk, "registrations": list(order.registrations.order_by("id"))})


@router.get("/registrations/{id}", response={200: RegistrationOut, codes_4xx: Error}, auth=READ)
def registration_detail(request: AuthenticatedHttpRequest, id: Id):
    return get_row(Registration, id, "registration")


@router.post("/registrations/{id}/cancel", response={200: RegistrationOut, codes_4xx: Error}, auth=WRITE)
def cancel_registration(request: AuthenticatedHttpRequest, id: Id, payload: CancelIn):
    """Cancel; up to the deadline a full credit note (reason cancellation); the freed seat goes to the wait list."""
    registration = get_row(Registration, id, "registration")
    return services.cancel_registration(
        registration, by=request.user, reason=payload.reason, credit_anyway=payload.credit_anyway
    )
