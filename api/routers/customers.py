"""Customers: create, read, search (the pages' customer search), and issue a statement."""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from api.auth import READ, WRITE
from api.lookups import get_row
from api.schemas import Currency, Error, Id
from billing.actors import AuthenticatedHttpRequest
from billing.errors import DuplicateReference, InvalidInput
from billing.models import Customer, Provider
from billing.search import search_customers

router = Router(tags=["customers"])
MAX_SEARCH_RESULTS = 50


class CustomerIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    reference: str | None = Field(None, max_length=40)


class CustomerOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    reference: str | None
    created_at: datetime.datetime


class ProviderOut(Schema):
    id: int
    name: str
    code: str


class SearchQuery(Schema):
    q: str = Field("", max_length=200, description="name, email, reference or phone")
    limit: int = Field(20, ge=1, le=MAX_SEARCH_RESULTS)


@router.post("/customers", response={201: CustomerOut, codes_4xx: Error}, auth=WRITE)
def create_customer(request: AuthenticatedHttpRequest, payload: CustomerIn):
    reference = (payload.reference or "").strip() or None
    customer = Customer(
        name=payload.name.strip(), email=payload.email.strip(), phone=payload.phone.strip(), reference=reference
    )
    try:
        customer.full_clean()
    except ValidationError as exc:
        if "reference" in exc.message_dict and Customer.objects.filter(reference=reference).exists():
            raise DuplicateReference(f"Another customer already has the reference {reference}.") from None
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise DuplicateReference(f"Another customer already has the reference {reference}.") from None
    return Status(201, customer)


@router.get("/customers", response={200: list[CustomerOut], codes_4xx: Error}, auth=READ)
def search(request: AuthenticatedHttpRequest, query: Query[SearchQuery]):
    customers = Customer.objects.all()
    if query.q.strip():
        customers = search_customers(customers, query.q.strip())
    return list(customers.order_by("name", "id")[: query.limit])


@router.get("/customers/{id}", response={200: CustomerOut, codes_4xx: Error}, auth=READ)
def customer_detail(request: AuthenticatedHttpRequest, id: Id):
    return get_row(Customer, id, "customer")


@router.get("/providers", response={200: list[ProviderOut], codes_4xx: Error}, auth=READ)
def providers(request: AuthenticatedHttpRequest):
    return list(Provider.objects.order_by("name", "id")[:500])


__all__ = ["Currency"]
