"""Invoices: the list (the page's filters, cursors and totals), a draft with lines, issue, void, credit notes."""

import datetime

from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from api.auth import READ, WRITE
from api.lists import Page, PageQuery, page_out, require_currency_for_amount_sort
from api.lookups import get_row, named_row
from api.schemas import AmountIn, Currency, Error, Id, Money, Quantity, QuantityIn, Reason, Text
from billing.actors import AuthenticatedHttpRequest
from billing.errors import InvalidInput
from billing.models import Customer, Provider
from invoices import selectors, services
from invoices.filters import AMOUNT_SORTS, INVOICE_SORTS, invoice_sort
from invoices.models import CreditReason, Invoice, InvoiceKind

router = Router(tags=["invoices"])


class InvoiceLineOut(Schema):
    id: int
    position: int
    description: str
    quantity: Quantity
    unit_price: Money
    amount: Money


class InvoiceOut(Schema):
    id: int
    number: str | None
    customer_id: int
    provider_id: int
    currency: str
    kind: str
    state: str
    payment_status: str
    issue_date: datetime.date | None
    due_date: datetime.date
    total: Money
    credited_total: Money
    paid_total: Money
    balance_due: Money
    order_id: int | None
    plan_id: int | None


class InvoiceDetail(InvoiceOut):
    lines: list[InvoiceLineOut]

    @staticmethod
    def resolve_lines(invoice: Invoice) -> list:
        return list(invoice.lines.order_by("position"))


class InvoicePage(Page):
    items: list[InvoiceOut]


class InvoiceQuery(PageQuery):
    number: str | None = Field(None, max_length=40)
    customer: str | None = Field(None, max_length=200)
    provider: str | None = Field(None, max_length=20, description="provider id")
    currency: str | None = Field(None, max_length=3)
    state: str | None = Field(None, max_length=20, description="default open; `all` for any")
    payment_status: list[str] = Field(default_factory=list, max_length=4)
    overdue: bool | None = None
    total_min: str | None = Field(None, max_length=20)
    total_max: str | None = Field(None, max_length=20)
    issued_from: datetime.date | None = None
    issued_to: datetime.date | None = None
    due_from: datetime.date | None = None
    due_to: datetime.date | None = None


class LineIn(Schema):
    description: str = Field(min_length=1, max_length=300)
    quantity: QuantityIn
    unit_price: AmountIn


class InvoiceIn(Schema):
    customer_id: Id
    provider_id: Id
    currency: Currency
    due_date: datetime.date
    issue_date: datetime.date | None = None
    kind: str = Field(InvoiceKind.STANDARD, pattern="^(standard|fee)$")
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    issue: bool = Field(False, description="issue it at once (draft -> open)")


class VoidIn(Schema):
    reason: Reason


class CreditLineIn(Schema):
    line_id: Id
    quantity: QuantityIn


class CreditNoteIn(Schema):
    amount: AmountIn | None = None
    lines: list[CreditLineIn] | None = Field(None, min_length=1, max_length=200)
    reason: Reason
    reason_code: str = Field(CreditReason.CORRECTION, max_length=30)
    reopen_quantity: bool = False


class CreditNoteOut(Schema):
    id: int
    invoice_id: int
    amount: Money
    reason: str
    reason_code: str
    created_at: datetime.datetime


class CreditNoteResult(Schema):
    credit_note: CreditNoteOut
    invoice: InvoiceOut


def _invoice(pk: int) -> Invoice:
    return get_row(Invoice, pk, "invoice")


@router.get("/invoices", response={200: InvoicePage, codes_4xx: Error}, auth=READ)
def invoice_list(request: AuthenticatedHttpRequest, filters: Query[InvoiceQuery]):
    require_currency_for_amount_sort(request, AMOUNT_SORTS)
    filterset = selectors.invoice_filter(request.GET)
    totals = selectors.invoice_totals(filters=filterset)
    ordering = INVOICE_SORTS[invoice_sort(filterset)]
    return page_out(request, selectors.invoice_list(filters=filterset), ordering, totals, per_page=filters.per_page)


@router.get("/invoices/{id}", response={200: InvoiceDetail, codes_4xx: Error}, auth=READ)
def invoice_detail(request: AuthenticatedHttpRequest, id: Id):
    return _invoice(id)


@router.post("/invoices", response={201: InvoiceDetail, codes_4xx: Error}, auth=WRITE)
def create_invoice(request: AuthenticatedHttpRequest, payload: InvoiceIn):
    customer = named_row(Customer, payload.customer_id, "customer", "customer_id")
    provider = named_row(Provider, payload.provider_id, "provider", "provider_id")
    invoice = services.create_invoice(
        customer=customer,
        provider=provider,
        currency=payload.currency,
        lines=[(line.description, line.quantity, line.unit_price) for line in payload.lines],
        due_date=payload.due_date,
        issue_date=payload.issue_date,
        kind=payload.kind,
        by=request.user,
    )
    if payload.issue:
        invoice = services.issue_invoice(invoice, by=request.user)
    return Status(201, invoice)


@router.post("/invoices/{id}/issue", response={200: InvoiceDetail, codes_4xx: Error}, auth=WRITE)
def issue_invoice(request: AuthenticatedHttpRequest, id: Id):
    return services.issue_invoice(_invoice(id), by=request.user)


@router.post("/invoices/{id}/void", response={200: InvoiceDetail, codes_4xx: Error}, auth=WRITE)
def void_invoice(request: AuthenticatedHttpRequest, id: Id, payload: VoidIn):
    return services.void_invoice(_invoice(id), by=request.user, reason=payload.reason)


@router.post("/invoices/{id}/credit-notes", response={201: CreditNoteResult, codes_4xx: Error}, auth=WRITE)
def credit_invoice(request: AuthenticatedHttpRequest, id: Id, payload: CreditNoteIn):
    """By `amount` (a price concession) or by `lines` (line id and quantity): exactly one."""
    invoice = _invoice(id)
    lines = None
    if payload.lines is not None:
        by_id = {line.pk: line for line in invoice.lines.all()}
        lines = {}
        for wanted in payload.lines:
            if wanted.line_id not in by_id:
                raise InvalidInput(f"lines: {wanted.line_id} is not a line of invoice {invoice}.")
            lines[by_id[wanted.line_id]] = wanted.quantity
    note = services.issue_credit_note(
        invoice,
        amount=payload.amount,
        lines=lines,
        by=request.user,
        reason=payload.reason,
        reason_code=payload.reason_code,
        reopen_quantity=payload.reopen_quantity,
    )
    invoice.refresh_from_db()
    return Status(201, {"credit_note": note, "invoice": invoice})


__all__ = ["Text"]
