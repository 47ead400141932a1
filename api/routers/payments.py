"""Payments: the list, record (optionally auto-allocated at once), settle, refund, chargeback,
cancel, correct; and their allocations: allocate many, deallocate, auto-allocate (or its dry run)."""

import datetime
from contextlib import nullcontext

from django.db import connection, transaction
from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from allocations import services as allocations
from api.auth import READ, WRITE
from api.lists import Page, PageQuery, page_out, require_currency_for_amount_sort
from api.lookups import get_row, named_row
from api.schemas import AmountIn, Currency, Error, Id, Money, Reason
from billing.actors import AuthenticatedHttpRequest
from billing.errors import InvalidInput
from billing.models import Customer
from invoices.models import Invoice
from payments import selectors, services
from payments.filters import AMOUNT_SORTS, PAYMENT_SORTS, payment_sort
from payments.models import Payment, PaymentMethod

router = Router(tags=["payments"])


class PaymentOut(Schema):
    id: int
    customer_id: int
    currency: str
    amount: Money
    method: str
    reference: str | None
    received_at: datetime.datetime
    state: str
    allocation_status: str
    refunded_total: Money
    charged_back_total: Money
    allocated_total: Money
    unallocated: Money
    corrected_by_id: int | None


class PaymentPage(Page):
    items: list[PaymentOut]


class PaymentQuery(PageQuery):
    queue: str | None = Field(None, max_length=20, description="needs_work: the allocation work queue")
    customer: str | None = Field(None, max_length=200)
    reference: str | None = Field(None, max_length=100)
    method: str | None = Field(None, max_length=20)
    currency: str | None = Field(None, max_length=3)
    state: str | None = Field(None, max_length=20)
    allocation_status: list[str] = Field(default_factory=list, max_length=4)
    amount_min: str | None = Field(None, max_length=20)
    amount_max: str | None = Field(None, max_length=20)
    received_from: datetime.date | None = None
    received_to: datetime.date | None = None


class AllocationOut(Schema):
    id: int
    payment_id: int
    invoice_id: int
    amount: Money
    reason: str
    created_at: datetime.datetime


class PlannedSplitOut(Schema):
    invoice_id: int
    invoice_number: str | None
    amount: Money
    reason: str


class PaymentIn(Schema):
    customer_id: Id
    amount: AmountIn
    currency: Currency
    method: str = Field(PaymentMethod.BANK_TRANSFER, pattern="^(" + "|".join(PaymentMethod.values) + ")$")
    reference: str | None = Field(
        None, max_length=100, description="the same reference with the same data returns the same payment"
    )
    received_at: datetime.datetime | None = None
    pending: bool = False
    auto_allocate: bool = Field(False, description="apply the automatic rule at once (DESIGN.md section 6)")


class PaymentResult(Schema):
    payment: PaymentOut
    allocations: list[AllocationOut]


class AmountReasonIn(Schema):
    amount: AmountIn
    reason: Reason


class ReasonIn(Schema):
    reason: Reason


class CorrectionIn(Schema):
    amount: AmountIn | None = None
    received_at: datetime.datetime | None = None
    reason: Reason


class RefundOut(Schema):
    id: int
    payment_id: int
    amount: Money
    reason: str
    created_at: datetime.datetime


class MoneyMovement(Schema):
    movement: RefundOut
    payment: PaymentOut


class SplitIn(Schema):
    invoice_id: Id
    amount: AmountIn


class AllocateIn(Schema):
    splits: list[SplitIn] = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=500)


class DeallocateIn(Schema):
    invoice_id: Id
    amount: AmountIn | None = Field(None, description="none: the pair's whole net allocation")
    reason: Reason


class AutoAllocateIn(Schema):
    dry_run: bool = Field(False, description="only return the plan and its reasons; nothing is written")


class AutoAllocateOut(Schema):
    dry_run: bool
    plan: list[PlannedSplitOut]
    allocations: list[AllocationOut]
    payment: PaymentOut


def one_transaction():
    """A transaction, or none more inside the one api.idempotency opened (a 4xx rolls that back to
    before the endpoint ran): one SAVEPOINT fewer on the processor's hot path."""
    return nullcontext() if connection.in_atomic_block else transaction.atomic()


def _payment(pk: int) -> Payment:
    return get_row(Payment, pk, "payment")


def _fresh(payment: Payment) -> Payment:
    payment.refresh_from_db()
    return payment


@router.get("/payments", response={200: PaymentPage, codes_4xx: Error}, auth=READ)
def payment_list(request: AuthenticatedHttpRequest, filters: Query[PaymentQuery]):
    require_currency_for_amount_sort(request, AMOUNT_SORTS)
    filterset = selectors.payment_filter(request.GET)
    totals = selectors.payment_totals(filters=filterset)
    ordering = PAYMENT_SORTS[payment_sort(filterset)]
    return page_out(request, selectors.payment_list(filters=filterset), ordering, totals, per_page=filters.per_page)


@router.get("/payments/{id}", response={200: PaymentOut, codes_4xx: Error}, auth=READ)
def payment_detail(request: AuthenticatedHttpRequest, id: Id):
    return _payment(id)


@router.post("/payments", response={201: PaymentResult, codes_4xx: Error}, auth=WRITE)
def record_payment(request: AuthenticatedHttpRequest, payload: PaymentIn):
    """Record money received. `auto_allocate` applies the automatic rule in the same transaction."""
    with one_transaction():
        return _record_payment(request, payload)


def _record_payment(request: AuthenticatedHttpRequest, payload: PaymentIn):
    customer = named_row(Customer, payload.customer_id, "customer", "customer_id")
    payment, created = services.record_or_find_payment(
        customer=customer,
        amount=payload.amount,
        currency=payload.currency,
        method=payload.method,
        reference=(payload.reference or "").strip() or None,
        received_at=payload.received_at,
        pending=payload.pending,
        by=request.user,
    )
    rows: list = []
    if payload.auto_allocate and not payload.pending:
        if created:  # the row as this transaction wrote it
            rows, _plan = allocations.auto_allocate_recorded(payment, by=request.user)
        else:  # recorded before with this reference: read again, planned and retried as a clerk's
            rows, _plan = allocations.auto_allocate_planned(payment, by=request.user)
    return Status(201, {"payment": payment, "allocations": rows})


@router.post("/payments/{id}/settle", response={200: PaymentOut, codes_4xx: Error}, auth=WRITE)
def settle_payment(request: AuthenticatedHttpRequest, id: Id):
    payment = services.settle_payment(_payment(id), by=request.user)
    return payment


@router.post("/payments/{id}/refunds", response={201: MoneyMovement, codes_4xx: Error}, auth=WRITE)
def refund_payment(request: AuthenticatedHttpRequest, id: Id, payload: AmountReasonIn):
    payment = _payment(id)
    refund = services.refund_payment(payment, amount=payload.amount, by=request.user, reason=payload.reason)
    return Status(201, {"movement": refund, "payment": _fresh(payment)})


@router.post("/payments/{id}/chargebacks", response={201: MoneyMovement, codes_4xx: Error}, auth=WRITE)
def record_chargeback(request: AuthenticatedHttpRequest, id: Id, payload: AmountReasonIn):
    payment = _payment(id)
    chargeback = services.record_chargeback(payment, amount=payload.amount, by=request.user, reason=payload.reason)
    payment = _fresh(payment)
    return Status(201, {"movement": chargeback, "payment": payment})


@router.post("/payments/{id}/cancel", response={200: PaymentOut, codes_4xx: Error}, auth=WRITE)
def cancel_payment(request: AuthenticatedHttpRequest, id: Id, payload: ReasonIn):
    return services.cancel_payment(_payment(id), by=request.user, reason=payload.reason)


@router.post("/payments/{id}/corrections", response={201: PaymentOut, codes_4xx: Error}, auth=WRITE)
def correct_payment(request: AuthenticatedHttpRequest, id: Id, payload: CorrectionIn):
    """Another amount or value date: the payment is replaced; the answer is the replacement."""
    replacement = services.correct_payment(
        _payment(id), amount=payload.amount, received_at=payload.received_at, by=request.user, reason=payload.reason
    )
    return Status(201, replacement)


@router.post("/payments/{id}/allocations", response={201: list[AllocationOut], codes_4xx: Error}, auth=WRITE)
def allocate(request: AuthenticatedHttpRequest, id: Id, payload: AllocateIn):
    """Split the payment over invoices, all or nothing."""
    payment = _payment(id)
    invoices = {i.pk: i for i in Invoice.objects.filter(pk__in=[s.invoice_id for s in payload.splits])}
    splits = []
    for split in payload.splits:
        if split.invoice_id not in invoices:
            raise InvalidInput(f"splits: there is no invoice {split.invoice_id}.")
        splits.append((invoices[split.invoice_id], split.amount))
    rows = allocations.allocate_many(payment, splits, by=request.user, note=payload.note)
    return Status(201, rows)


@router.post("/payments/{id}/deallocations", response={201: AllocationOut, codes_4xx: Error}, auth=WRITE)
def deallocate(request: AuthenticatedHttpRequest, id: Id, payload: DeallocateIn):
    payment = _payment(id)
    invoice = named_row(Invoice, payload.invoice_id, "invoice", "invoice_id")
    row = allocations.deallocate(payment, invoice, payload.amount, by=request.user, reason=payload.reason)
    return Status(201, row)


@router.post("/payments/{id}/auto-allocate", response={200: AutoAllocateOut, codes_4xx: Error}, auth=WRITE)
def auto_allocate(request: AuthenticatedHttpRequest, id: Id, payload: AutoAllocateIn):
    """The automatic rule; with `dry_run` only the plan and each split's reason."""
    payment = _payment(id)
    if payload.dry_run:
        plan = allocations.plan_auto_allocation(payment)
        rows: list = []
    else:
        rows, plan = allocations.auto_allocate_planned(payment, by=request.user)
        payment = _fresh(payment)
    planned = [
        {"invoice_id": s.invoice.pk, "invoice_number": s.invoice.number, "amount": s.amount, "reason": s.reason}
        for s in plan
    ]
    return {"dry_run": payload.dry_run, "plan": planned, "allocations": rows, "payment": payment}
