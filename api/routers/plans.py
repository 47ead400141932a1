"""Installment plans: the list (the page's filters and totals), create, read with installments."""

import datetime

from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from api.auth import READ, WRITE
from api.lists import Page, PageQuery, page_out
from api.lookups import get_row, named_row
from api.routers.invoices import InvoiceOut
from api.schemas import AmountIn, Currency, Error, Id, Money
from billing.actors import AuthenticatedHttpRequest
from billing.models import Customer, Provider
from plans import listings, services
from plans.filters import PLAN_ORDERING
from plans.models import Plan

router = Router(tags=["plans"])


class PlanOut(Schema):
    id: int
    customer_id: int
    provider_id: int
    currency: str
    principal: Money
    description: str
    installment_count: int
    every_months: int
    first_due_date: datetime.date
    issue_date: datetime.date
    state: str


class PlanDetail(PlanOut):
    installments: list[InvoiceOut]

    @staticmethod
    def resolve_installments(plan: Plan) -> list:
        return list(plan.installments)


class PlanPage(Page):
    items: list[PlanOut]


class PlanQuery(PageQuery):
    customer: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=20, description="provider id")
    currency: str | None = Field(None, max_length=3)
    state: str | None = Field(None, max_length=20)
    overdue: str | None = Field(None, max_length=3, description="yes or no")


class PenaltyIn(Schema):
    kind: str = Field(pattern="^(percent|fixed)$")
    rate: AmountIn | None = Field(None, description="percent, for kind percent")
    amount: AmountIn | None = Field(None, description="for kind fixed")
    grace_days: int = Field(0, ge=0, le=3650)
    frequency: str = Field("once", pattern="^(once|monthly)$")
    cap: AmountIn | None = None


class PlanIn(Schema):
    customer_id: Id
    provider_id: Id
    currency: Currency
    principal: AmountIn
    installments: int = Field(ge=1, le=360)
    first_due_date: datetime.date
    every_months: int = Field(1, ge=1, le=24)
    penalty: PenaltyIn | None = None
    issue_date: datetime.date | None = None
    description: str = Field("", max_length=200)


@router.get("/plans", response={200: PlanPage, codes_4xx: Error}, auth=READ)
def plan_list(request: AuthenticatedHttpRequest, filters: Query[PlanQuery]):
    filterset = listings.plan_filter(request.GET)
    totals = listings.plan_totals(filters=filterset)
    return page_out(request, listings.plan_list(filters=filterset), PLAN_ORDERING, totals, per_page=filters.per_page)


@router.get("/plans/{id}", response={200: PlanDetail, codes_4xx: Error}, auth=READ)
def plan_detail(request: AuthenticatedHttpRequest, id: Id):
    return get_row(Plan, id, "plan")


@router.post("/plans", response={201: PlanDetail, codes_4xx: Error}, auth=WRITE)
def create_plan(request: AuthenticatedHttpRequest, payload: PlanIn):
    penalty = None
    if payload.penalty is not None:
        penalty = {k: v for k, v in payload.penalty.dict().items() if v is not None}
    plan = services.create_plan(
        customer=named_row(Customer, payload.customer_id, "customer", "customer_id"),
        provider=named_row(Provider, payload.provider_id, "provider", "provider_id"),
        currency=payload.currency,
        principal=payload.principal,
        installments=payload.installments,
        first_due_date=payload.first_due_date,
        every_months=payload.every_months,
        penalty=penalty,
        issue_date=payload.issue_date,
        description=payload.description,
        by=request.user,
    )
    return Status(201, plan)
