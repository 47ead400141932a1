"""Rows named in a path or a body: 404 (or 400 in a body) with the pages' words when there is none."""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import Model, QuerySet
from django.http import Http404

from billing.errors import InvalidInput
from billing.validation import parse_id


def get_row(source: type[Model] | QuerySet, pk: object, noun: str):
    """The row of `source` (a model, or a queryset that narrows it) with this id, else a 404."""
    number = parse_id(pk)
    row = _by_pk(source, number) if number is not None else None
    if row is None:
        raise Http404(f"There is no {noun} {pk}.")
    return row


def named_row(source: type[Model] | QuerySet, pk: object, noun: str, field: str):
    """A row the request body names (customer_id, invoice_id...): a missing one is bad input, not a 404."""
    number = parse_id(pk)
    row = _by_pk(source, number) if number is not None else None
    if row is None:
        raise InvalidInput(f"{field}: there is no {noun} {pk}.")
    return row


def _by_pk(source: type[Model] | QuerySet, number: int):
    if isinstance(source, QuerySet):
        return source.filter(pk=number).first()
    # A whole model: one plain statement, not a queryset compiled on every request.
    sql, attnames = _select_sql(source)
    with connection.cursor() as cursor:
        cursor.execute(sql, [number])
        row = cursor.fetchone()
    return None if row is None else source.from_db(connection.alias, attnames, row)


@functools.cache
def _select_sql(model: type[Model]) -> tuple[str, list[str]]:
    fields = model._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    return f'SELECT {columns} FROM "{model._meta.db_table}" WHERE "{model._meta.pk.column}" = %s', [
        f.attname for f in fields
    ]
