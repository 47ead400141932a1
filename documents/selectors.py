"""Reads of documents: the list (one FilterSet), a document's deliveries, and what changed since."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from allocations.models import Allocation
from billing.listing import Totals, as_query, validated
from billing.models import Customer
from documents.filters import DOCUMENT_ORDERING, DocumentFilter
from documents.models import Document, DocumentKind
from documents.notices import COMPARED, notice_figures
from documents.statements import statement_figures
from invoices.models import Invoice, InvoiceState
from ledger.models import Entry

Filters = Mapping[str, Any] | DocumentFilter


def all_documents() -> QuerySet[Document]:
    return Document.objects.select_related("customer", "provider").defer("html", "figures")


def customer_documents(customer: Customer, limit: int = 20) -> list[Document]:
    """The customer's latest documents with their deliveries (the customer page), newest first."""
    documents = Document.objects.filter(customer=customer).select_related("provider").order_by("-id")[:limit]
    return list(documents.prefetch_related("deliveries"))


def document_filter(filters: Filters) -> DocumentFilter:
    """DocumentFilter bound to `filters` (request.GET or a dict) and validated (InvalidInput otherwise)."""
    if isinstance(filters, DocumentFilter):
        return validated(filters)
    return validated(DocumentFilter(as_query(filters), queryset=all_documents()))


def document_list(*, filters: Filters) -> QuerySet[Document]:
    """The documents the filters select, newest first."""
    return document_filter(filters).qs.order_by(*DOCUMENT_ORDERING.order_by())


def document_totals(*, filters: Filters) -> Totals:
    """How many documents the filters select (documents carry no single amount to sum)."""
    return Totals(count=document_filter(filters).qs.count())


def changes_since(document: Document, *, today: datetime.date | None = None) -> list[dict[str, Any]]:
    """Per currency of a statement: the printed closing balance and open items beside today's.

    Today's figures are the same statement's scope (customer, provider, currency) read again
    from the same period start to today; the entries written after the document's journal
    position are the reason for any difference.
    """
    if document.kind != DocumentKind.STATEMENT:
        return []
    today = today or timezone.localdate()
    now, _ = statement_figures(
        document.customer,
        provider=document.provider,
        currency=document.currency or None,
        period_start=document.period_start or document.as_of.replace(day=1),
        as_of=max(today, document.as_of),
        today=today,
    )
    printed = {section["currency"]: section for section in document.figures["sections"]}
    current = {section["currency"]: section for section in now["sections"]}
    newer = Entry.objects.filter(customer=document.customer, id__gt=document.journal_position)
    if document.currency:
        newer = newer.filter(currency=document.currency)
    if document.provider_id is not None:
        # A provider's statement read its accounts' entries only (its position is theirs).
        newer = newer.filter(account__provider_id=document.provider_id)
    rows = []
    for currency in sorted(printed.keys() | current.keys()):
        was, is_now = printed.get(currency), current.get(currency)
        closing_then = Decimal(was["closing"]) if was else Decimal("0.00")
        closing_now = Decimal(is_now["closing"]) if is_now else Decimal("0.00")
        rows.append(
            {
                "currency": currency,
                "printed": was,
                "today": is_now,
                "closing_then": closing_then,
                "closing_now": closing_now,
                "difference": closing_now - closing_then,
                "entries_since": newer.filter(currency=currency).count(),
            }
        )
    return rows


def notice_changes_since(document: Document, *, today: datetime.date | None = None) -> dict[str, Any] | None:
    """An installment notice's printed figures beside today's (None for other kinds).

    Today's figures are the same installment's, derived again as of today; the customer's
    journal entries in the currency and the allocations to the plan's invoices written after
    the notice are the reasons for any difference.
    """
    if document.kind != DocumentKind.INSTALLMENT_NOTICE:
        return None
    today = today or timezone.localdate()
    installment = (
        Invoice.objects.select_related("plan__customer", "plan__provider")
        .filter(pk=document.figures["installment"]["id"])
        .first()
    )
    if installment is None or installment.plan_id is None or installment.state == InvoiceState.DRAFT:
        return None
    now, _ = notice_figures(installment, as_of=max(today, document.as_of), today=today)
    rows = []
    for key, label in COMPARED:
        printed = Decimal(document.figures[key])
        current = Decimal(now[key])
        rows.append({"key": key, "label": label, "printed": printed, "today": current, "difference": current - printed})
    newer = Entry.objects.filter(
        customer_id=document.customer_id, currency=document.currency, id__gt=document.journal_position
    ).count()
    allocations = Allocation.objects.filter(
        invoice__plan_id=installment.plan_id, created_at__gt=document.created_at
    ).count()
    return {
        "rows": rows,
        "entries_since": newer,
        "allocations_since": allocations,
        "currency": document.currency,
        "changed": any(row["difference"] for row in rows),
    }
