"""Documents: the list, issue a statement, read one, and fetch its stored bytes (the same bytes every time)."""

import datetime

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.responses import codes_4xx

from api.auth import READ, WRITE
from api.lists import Page, PageQuery, page_out
from api.lookups import get_row, named_row
from api.schemas import Currency, Error, Id
from billing.actors import AuthenticatedHttpRequest
from billing.models import Customer, Provider
from documents import selectors, services
from documents.filters import DOCUMENT_ORDERING
from documents.models import Document

router = Router(tags=["documents"])


class DocumentOut(Schema):
    id: int
    kind: str
    number: str
    customer_id: int
    provider_id: int | None
    currency: str | None
    period_start: datetime.date | None
    as_of: datetime.date
    sha256: str
    created_at: datetime.datetime


class DocumentDetail(DocumentOut):
    figures: dict


class DocumentPage(Page):
    items: list[DocumentOut]


class DocumentQuery(PageQuery):
    kind: str | None = Field(None, max_length=30)
    customer: str | None = Field(None, max_length=200)
    issued_from: datetime.date | None = None
    issued_to: datetime.date | None = None
    delivered: str | None = Field(None, max_length=10)


class StatementIn(Schema):
    provider_id: Id | None = None
    currency: Currency | None = None
    period_start: datetime.date | None = None
    as_of: datetime.date | None = None


@router.get("/documents", response={200: DocumentPage, codes_4xx: Error}, auth=READ)
def document_list(request: AuthenticatedHttpRequest, filters: Query[DocumentQuery]):
    filterset = selectors.document_filter(request.GET)
    totals = selectors.document_totals(filters=filterset)
    queryset = selectors.document_list(filters=filterset)
    return page_out(request, queryset, DOCUMENT_ORDERING, totals, per_page=filters.per_page)


@router.get("/documents/{id}", response={200: DocumentDetail, codes_4xx: Error}, auth=READ)
def document_detail(request: AuthenticatedHttpRequest, id: Id):
    return get_row(Document, id, "document")


@router.get(
    "/documents/{id}/content",
    response={200: None, codes_4xx: Error},
    auth=READ,
    openapi_extra={"responses": {200: {"description": "The stored HTML", "content": {"text/html": {}}}}},
)
def document_content(request: AuthenticatedHttpRequest, id: Id):
    """The document's stored body, byte for byte; its SHA-256 is the document's `sha256`."""
    document = get_row(Document, id, "document")
    response = HttpResponse(document.html.encode(), content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{document.number}.html"'
    response["Digest"] = f"sha-256={document.sha256}"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response


@router.post("/customers/{id}/statements", response={201: DocumentDetail, codes_4xx: Error}, auth=WRITE)
def issue_statement(request: AuthenticatedHttpRequest, id: Id, payload: StatementIn):
    customer = get_row(Customer, id, "customer")
    provider = None
    if payload.provider_id is not None:
        provider = named_row(Provider, payload.provider_id, "provider", "provider_id")
    document = services.issue_statement(
        customer,
        provider=provider,
        currency=payload.currency,
        period_start=payload.period_start,
        as_of=payload.as_of,
        by=request.user,
    )
    return Status(201, document)


__all__ = ["Query"]
