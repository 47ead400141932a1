"""Rows named in a path or a body: 404 (or 400 in a body) with the pages' words when there is none."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from billing.errors import InvalidInput
from billing.validation import parse_id


def get_row(queryset: QuerySet, pk: object, noun: str):
    number = parse_id(pk)
    row = queryset.filter(pk=number).first() if number is not None else None
    if row is None:
        raise Http404(f"There is no {noun} {pk}.")
    return row


def named_row(queryset: QuerySet, pk: object, noun: str, field: str):
    """A row the request body names (customer_id, invoice_id...): a missing one is bad input, not a 404."""
    number = parse_id(pk)
    row = queryset.filter(pk=number).first() if number is not None else None
    if row is None:
        raise InvalidInput(f"{field}: there is no {noun} {pk}.")
    return row
