"""What every work-queue list shares: parsing filter values, totals, and deep paging.

Totals (count and sums per currency) come from the queue-total tables when the
filters are ones they are kept by (state, status, currency, due date: see
invoices.models.InvoiceQueueTotal), else from one aggregate over the filtered rows.

Paging is by page number with OFFSET, as a deferred join: the page's ids come from
the queue's ordered index (an index-only scan that skips OFFSET entries without
touching the table), then only those 50 rows are read in full. Pages in the back
half are read from the other end of the index (the count is known from the totals),
so the last page is as cheap as the first. Skipping stays linear, about 0.3 us per
entry (100,000 entries ~ 30 ms), so a page more than MAX_DEPTH pages from both ends
is refused with a message to filter: nobody reads page 7,000 of 14,000, they narrow
the list. Keyset paging would make every page O(1) but cannot jump to page N or to
the last page, which the clerks' lists do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum

from billing.errors import InvalidInput
from billing.validation import parse_id

PER_PAGE = 50
MAX_DEPTH = 2_000  # pages from the nearer end of a list (100,000 rows at 50 a page)


@dataclass(frozen=True)
class QueueTotals:
    """Count of the filtered set and its sums per currency (amounts never add across currencies)."""

    count: int
    by_currency: dict[str, dict[str, Decimal]] = field(default_factory=dict)


def queue_totals(queryset: QuerySet, sums: Iterable[str]) -> QueueTotals:
    """One aggregate query over the filtered set: COUNT and SUM(field) per currency.

    With the queue's covering index (INCLUDE currency and the summed fields) this is an
    index-only scan of the filtered part of the index.
    """
    sums = list(sums)
    rows = (
        queryset.order_by()
        .values("currency")
        .annotate(n=Count("*"), **{name: Sum(name) for name in sums})
        .values_list("currency", "n", *sums)
    )
    by_currency: dict[str, dict[str, Decimal]] = {}
    count = 0
    for currency, n, *values in rows:
        count += n
        by_currency[currency] = dict(zip(sums, values, strict=True))
    return QueueTotals(count=count, by_currency=dict(sorted(by_currency.items())))


def cached_totals(model, *, count: str, sums: list[str], where: str, params: dict) -> QueueTotals:
    """QueueTotals from a queue-total table: the sums of its rows matching `where`.

    The rows are deltas, so the sums equal a COUNT/SUM over the live rows in the same
    snapshot. A read never writes: folding the deltas is compact_queue_totals' job (cron
    or the worker, every few minutes). The key index (state, status, currency, ...
    INCLUDE the figures) makes this an index-only scan of the matching deltas: measured
    here, 1 ms at 20,000 delta rows, 6 ms at 200,000, 32 ms at 1,000,000 (bench/RESULTS.md).
    """
    table = model._meta.db_table
    figures = [count, *(name for name in sums if name != count)]
    selected = ", ".join(f"SUM({name})" for name in figures)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT currency, {selected} FROM {table} WHERE {where} GROUP BY currency", params)
        rows = cursor.fetchall()
    by_currency: dict[str, dict[str, Decimal]] = {}
    total_count = 0
    for currency, n, *values in rows:
        if n:
            total_count += int(n)
            named = dict(zip(figures[1:], values, strict=True))
            by_currency[currency] = {name: (n if name == count else named[name]) for name in sums}
    return QueueTotals(count=total_count, by_currency=dict(sorted(by_currency.items())))


def compact_totals(model, *, count: str, sums: list[str]) -> int:
    """Fold a queue-total table's rows into one per key; returns how many rows remain.

    Deletes the rows this transaction sees and inserts their sums in one statement, so
    every reader sees either the old rows or the folded ones; deltas committed meanwhile
    are not seen, not deleted, and stay. One compaction at a time (advisory lock).
    """
    table = model._meta.db_table
    keys = [f.column for f in model._meta.concrete_fields if f.column not in {"id", count, *sums}]
    figures = [count, *sums]
    columns = ", ".join([*keys, *figures])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [table])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(
            f"WITH gone AS (DELETE FROM {table} RETURNING {columns}) "
            f"INSERT INTO {table} ({columns}) "
            f"SELECT {', '.join(keys)}, {', '.join(f'SUM({name})' for name in figures)} FROM gone "
            f"GROUP BY {', '.join(keys)} HAVING {' OR '.join(f'SUM({name}) <> 0' for name in figures)}"
        )
        return cursor.rowcount


@dataclass(frozen=True)
class QueuePage:
    rows: list
    number: int
    per_page: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.count / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_number(value: object) -> int:
    """A page number from a query string: 1 when absent; InvalidInput when not a number."""
    if value in (None, ""):
        return 1
    text = str(value).strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 9:
        raise InvalidInput(f"Page {value!r} is not a number.")
    number = int(text)
    if number < 1:
        raise InvalidInput("Pages start at 1.")
    return number


def page_of(queryset: QuerySet, *, number: int, count: int, per_page: int = PER_PAGE) -> QueuePage:
    """Page `number` (clamped to the last page) of an ordered queryset whose size is `count`.

    Raises InvalidInput for a page more than MAX_DEPTH pages from both ends.
    """
    last = max(1, math.ceil(count / per_page))
    number = min(max(1, number), last)
    offset = (number - 1) * per_page
    size = max(0, min(per_page, count - offset))
    from_end = count - offset - size
    if min(offset, from_end) > MAX_DEPTH * per_page:
        raise InvalidInput(
            f"Page {number} of {last} is too deep to read; narrow the list with a filter "
            f"(the first and last {MAX_DEPTH:,} pages can be read)."
        )
    if from_end < offset:
        page_ids = queryset.reverse().values("pk")[from_end : from_end + size]
    else:
        page_ids = queryset.values("pk")[offset : offset + per_page]
    rows = queryset.model._default_manager.filter(pk__in=page_ids).order_by(*queryset.query.order_by)
    rows.query.select_related = queryset.query.select_related
    return QueuePage(rows=list(rows), number=number, per_page=per_page, count=count)


def choices(values: Iterable[str], allowed: Iterable[str], *, field: str) -> tuple[str, ...]:
    """Validate values against allowed choices; comma-separated strings are split."""
    allowed = list(allowed)
    found: list[str] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            if part not in allowed:
                raise InvalidInput(f"{part!r} is not a {field}; choose one of {', '.join(allowed)}.")
            if part not in found:
                found.append(part)
    return tuple(found)


def many(params: Mapping[str, Any], key: str) -> list:
    """All values of `key`: QueryDict.getlist, a list or tuple, or a single value."""
    if hasattr(params, "getlist"):
        return params.getlist(key)
    value = params.get(key)
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def flag(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def optional_id(value: object, *, field: str) -> int | None:
    if value in (None, ""):
        return None
    number = parse_id(value)
    if number is None:
        raise InvalidInput(f"The {field} {value!r} is not an id.")
    return number
