"""What every staff list shares: whitelisted sorting, keyset pagination, totals, CSV.

Why keyset pagination and not OFFSET: `OFFSET n` makes PostgreSQL read and throw away
n rows, so page 20,000 of a 1M-row list costs as much as reading them all. A keyset
page asks for "the next 50 rows after (sort value, id)"; with an index on
(sort column, id) PostgreSQL starts the index scan at that key and reads 51 rows, on
page 1 or on page 20,000. The price is that there is no "jump to page 537": a list
offers first, previous, next and last. The page number travels inside the cursor for
display only. Sorting on a joined column (customer name) has no index to walk, so
PostgreSQL sorts the filtered set; keyset still keeps a deep page as cheap as page 1.

Totals (count and sums of the filtered set, per currency) are one aggregate query when
a filtered set is first shown, reused while paging through it; the page query never counts.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django_htmx.http import push_url

from billing.errors import InvalidInput
from billing.money import CURRENCY_CHOICES
from billing.validation import MAX_ID, parse_id

CURSOR_PARAMS = ("after", "before", "last")
MAX_PAGE = 10**9  # a page number a cursor may carry (for display only; larger is a forged cursor)
TOTALS_TTL = 300  # seconds a filtered set's totals are reused while paging through it
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Ordering:
    """ORDER BY field, id: the id makes the order total, so a cursor is never ambiguous.

    The id direction follows the index that serves the sort: (due_date, id) walks
    both ascending or both descending; the collections index (-balance_due, id) mixes.
    """

    field: str
    descending: bool = False
    id_descending: bool = False
    # None: as the model field says. False where the queryset rules NULLs out (an owing
    # account always has an oldest due date), so the cursor condition stays index-friendly.
    nullable: bool | None = None

    def reversed(self) -> Ordering:
        return Ordering(self.field, not self.descending, not self.id_descending, self.nullable)

    def order_by(self) -> list[str]:
        return [("-" if self.descending else "") + self.field, "-pk" if self.id_descending else "pk"]


def both_ways(key: str, field_path: str) -> dict[str, Ordering]:
    """`?sort=key` ascending and `?sort=-key` descending, the id following the same way."""
    return {key: Ordering(field_path), f"-{key}": Ordering(field_path, True, True)}


def chosen_sort(filters: Mapping[str, Any], sorts: dict[str, Ordering], default: str) -> str:
    """The list's ?sort= from its filters (request.GET or a dict) when it is one of `sorts`, else `default`."""
    value = filters.get("sort", "")
    return value if value in sorts else default


# --- Amount sorts stay within one currency (DESIGN.md section 5) -----------------------------

WORK_CURRENCY_SESSION_KEY = "settle_work_currency"


def amount_sort_currency(
    request: HttpRequest, sort: str, amount_sorts: Iterable[str], *, busiest: Callable[[], str | None]
) -> str | None:
    """The one currency an amount sort applies to, or None when the list needs no scoping.

    No list ranks amounts of different currencies against each other. A currency chosen in
    a list's filter is remembered in the session (the clerk chooses once); an amount sort
    without one gets the remembered currency, else `busiest()` (the currency with the most
    open work), else the first. The currency is put into request.GET, so the filter, the
    totals, the keyset cursors, the CSV link and htmx's address bar all carry it and every
    page of the list is the same one-currency set. Date, number and name sorts stay across
    currencies. Returns the currency it applied (the page says so), else None.
    """
    currencies = [code for code, _label in CURRENCY_CHOICES]
    chosen = request.GET.get("currency", "")
    session = getattr(request, "session", None)
    if chosen in currencies and session is not None and session.get(WORK_CURRENCY_SESSION_KEY) != chosen:
        session[WORK_CURRENCY_SESSION_KEY] = chosen
    if chosen or sort.lstrip("-") not in {key.lstrip("-") for key in amount_sorts}:
        return None  # already one currency (or a bad one, which the filter reports), or not an amount sort
    remembered = session.get(WORK_CURRENCY_SESSION_KEY) if session is not None else None
    currency = remembered if remembered in currencies else (busiest() or currencies[0])
    query = request.GET.copy()
    query["currency"] = currency
    request.GET = QueryDict(query.urlencode())  # immutable again, like the request's own
    return currency


# --- Cursors -----------------------------------------------------------------------


def _resolve_field(model, path: str):
    *relations, last = path.split("__")
    for name in relations:
        model = model._meta.get_field(name).related_model
    return model._meta.pk if last == "pk" else model._meta.get_field(last)


def _row_value(row, path: str):
    value = row
    for name in path.split("__"):
        value = getattr(value, name) if value is not None else None
    return value


def _jsonable(value):
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(value, pk: int, page: int) -> str:
    raw = json.dumps([_jsonable(value), pk, page], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, model, ordering: Ordering) -> tuple[object, int, int] | None:
    """(sort value, id, page) or None for anything malformed: a bad cursor means page 1."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, pk, page = json.loads(raw)
        if (
            not isinstance(pk, int)
            or parse_id(pk) is None
            or not isinstance(page, int)
            or isinstance(page, bool)
            or not 1 <= page <= MAX_PAGE
        ):
            return None
        if value is not None:
            field = _resolve_field(model, ordering.field)
            value = field.to_python(value)
            if not _storable(field, value):
                return None
    except (ValueError, TypeError, ArithmeticError, binascii.Error, ValidationError):
        return None
    return value, pk, page


def _storable(field, value) -> bool:
    """Could the column hold this value? A cursor is the client's text: a Decimal beyond the
    column's digits (1e999999, 1e-999999999) or NaN would make PostgreSQL fail the query,
    and a NUL byte is refused by PostgreSQL in any text."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return False
        places = Decimal(1).scaleb(-(field.decimal_places or 0))
        limit = Decimal(10) ** ((field.max_digits or 28) - (field.decimal_places or 0))
        return value.copy_abs() < limit and value == value.quantize(places)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= MAX_ID
    if isinstance(value, str):
        return "\x00" not in value
    return True


def beyond(ordering: Ordering, value, pk: int, *, nullable: bool) -> list[Q]:
    """Rows after (value, pk) in `ordering`, as disjoint parts that follow each other in it.

    Each part is one index range, so PostgreSQL starts its index scan right there: an OR
    with "IS NULL" would make it read the index from the start. PostgreSQL puts NULLs
    last ascending and first descending (Django's order_by keeps those defaults, which a
    plain btree index walks either way), so a nullable column adds the NULL group as a
    part of its own. Read the parts in order until the page is full.
    """
    f = ordering.field
    op = "lt" if ordering.descending else "gt"
    id_op = "lt" if ordering.id_descending else "gt"
    if value is None:
        rest_of_nulls = Q(**{f"{f}__isnull": True, f"pk__{id_op}": pk})
        return [rest_of_nulls, Q(**{f"{f}__isnull": False})] if ordering.descending else [rest_of_nulls]
    # `f >= value` alone is the index condition; the OR only trims the ties.
    after = Q(**{f"{f}__{op}e": value}) & (Q(**{f"{f}__{op}": value}) | Q(**{f: value, f"pk__{id_op}": pk}))
    if nullable and not ordering.descending:
        return [after, Q(**{f"{f}__isnull": True})]
    return [after]


def _rows_after(queryset: QuerySet, ordering: Ordering, cursor, limit: int, *, nullable: bool) -> list:
    """Up to `limit` rows of `queryset` in `ordering`, after `cursor` (value, pk) if given."""
    ordered = queryset.order_by(*ordering.order_by())
    if cursor is None:
        return list(ordered[:limit])
    rows: list = []
    for part in beyond(ordering, *cursor, nullable=nullable):
        rows += list(ordered.filter(part)[: limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


# --- Pages ---------------------------------------------------------------------------


@dataclass
class Page:
    rows: list
    number: int
    per_page: int
    has_next: bool
    has_previous: bool
    next_url: str = ""
    previous_url: str = ""
    first_url: str = ""
    last_url: str = ""
    total_count: int | None = None

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.rows) - 1 if self.rows else 0

    @property
    def page_count(self) -> int | None:
        if self.total_count is None:
            return None
        return max(1, math.ceil(self.total_count / self.per_page))


def page_size(request: HttpRequest) -> int:
    try:
        size = int(request.GET.get("per_page", DEFAULT_PAGE_SIZE))
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def keyset_page(
    request: HttpRequest,
    queryset: QuerySet,
    ordering: Ordering,
    *,
    per_page: int,
    total_count: int | None = None,
) -> Page:
    """One page of `queryset` in `ordering`, positioned by ?after=, ?before= or ?last=1."""
    model = queryset.model
    nullable = _resolve_field(model, ordering.field).null if ordering.nullable is None else ordering.nullable
    after = decode_cursor(request.GET.get("after", ""), model, ordering) if request.GET.get("after") else None
    before = decode_cursor(request.GET.get("before", ""), model, ordering) if request.GET.get("before") else None

    if after:
        value, pk, number = after
        rows = _rows_after(queryset, ordering, (value, pk), per_page + 1, nullable=nullable)
        number += 1
        has_next, has_previous = len(rows) > per_page, True
        rows = rows[:per_page]
    elif before:
        back = ordering.reversed()
        value, pk, number = before
        rows = _rows_after(queryset, back, (value, pk), per_page + 1, nullable=nullable)
        has_previous = len(rows) > per_page
        rows = rows[:per_page][::-1]
        number = max(1, number - 1) if has_previous else 1
        has_next = True
    elif request.GET.get("last") and total_count is not None:
        remainder = total_count % per_page or per_page
        rows = list(queryset.order_by(*ordering.reversed().order_by())[:remainder])[::-1]
        number = max(1, math.ceil(total_count / per_page))
        has_next, has_previous = False, number > 1
    else:
        rows = list(queryset.order_by(*ordering.order_by())[: per_page + 1])
        number = 1
        has_next, has_previous = len(rows) > per_page, False
        rows = rows[:per_page]

    page = Page(rows, number, per_page, has_next, has_previous, total_count=total_count)
    base = canonical_query(request, drop=CURSOR_PARAMS)
    page.first_url = _with(request.path, base)
    if rows and has_next:
        last_row = rows[-1]
        page.next_url = _with(
            request.path, base, after=encode_cursor(_row_value(last_row, ordering.field), last_row.pk, number)
        )
        if total_count is not None:
            page.last_url = _with(request.path, base, last="1")
    if rows and has_previous:
        if number <= 2:
            page.previous_url = page.first_url
        else:
            first_row = rows[0]
            page.previous_url = _with(
                request.path, base, before=encode_cursor(_row_value(first_row, ordering.field), first_row.pk, number)
            )
    return page


# --- Query strings ---------------------------------------------------------------------


def canonical_query(request: HttpRequest, *, drop: Iterable[str] = (), **changes) -> list[tuple[str, str]]:
    """The request's query as (name, value) pairs without empty values, `drop`ped names and `changes`."""
    return query_pairs(request.GET, drop=drop, **changes)


def query_pairs(query: Mapping[str, Any], *, drop: Iterable[str] = (), **changes) -> list[tuple[str, str]]:
    """A query (a QueryDict or a dict of values or lists) as (name, value) pairs, as canonical_query."""
    dropped = set(drop) | set(changes)
    pairs = [
        (name, str(value))
        for name, values in as_query(query).lists()
        if name not in dropped
        for value in values
        if value not in ("", None)
    ]
    pairs.extend((name, str(value)) for name, value in changes.items() if value not in (None, ""))
    return pairs


def _with(path: str, pairs: list[tuple[str, str]], **extra) -> str:
    pairs = list(pairs) + [(name, value) for name, value in extra.items()]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def list_url(request: HttpRequest, *, path: str | None = None, drop: Iterable[str] = (), **changes) -> str:
    """A link to this list (or to `path`, e.g. its CSV export) with the same filters."""
    return _with(path or request.path, canonical_query(request, drop=(*CURSOR_PARAMS, *drop), **changes))


def wants_partial(request: HttpRequest, target: str = "results") -> bool:
    """htmx asking for the results only; a history restore needs the whole page."""
    htmx = getattr(request, "htmx", None)  # django-htmx's details; false for a plain request
    if not htmx:
        return False
    return not htmx.history_restore_request and htmx.target == target


def render_list(request: HttpRequest, template: str, partial_template: str, context: dict) -> HttpResponse:
    """The whole page, or for htmx only the results (then the address bar gets the tidy URL:
    the filter form sends its empty fields too)."""
    partial = wants_partial(request)
    response = render(request, partial_template if partial else template, {**context, "partial": partial})
    if partial:
        push_url(response, _with(request.path, canonical_query(request)))
    # The full page and its partial share a URL: caches must tell them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- Totals ------------------------------------------------------------------------------


@dataclass
class Totals:
    count: int = 0
    by_currency: list[dict] = field(default_factory=list)


def as_query(filters: Mapping[str, Any] | None) -> QueryDict:
    """A list's filters as a query string would give them: request.GET as it is; a dict's
    values (one value or a list of them) as a QueryDict's lists, so {"payment_status": "paid"}
    and {"payment_status": ["paid", "overpaid"]} both work."""
    if isinstance(filters, QueryDict):
        return filters
    query = QueryDict(mutable=True)
    for name, value in (filters or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        query.setlist(name, [str(v) for v in values if v is not None])
    return query


def filter_messages(filterset) -> str:
    """A FilterSet's form errors as one line: "field: message; field: message"."""
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in filterset.errors.items())


def validated(filterset):
    """The bound FilterSet, validated: InvalidInput with the form's messages when it is not.
    What every list selector applies its filters through."""
    if not filterset.is_valid():
        raise InvalidInput(f"These filters are not valid: {filter_messages(filterset)}")
    return filterset


def only_filtered_by(cleaned_data: dict, fields: set[str]) -> bool:
    """True when no filter outside `fields` has a value (the kept totals can answer)."""
    return all(value in (None, "", [], False) for name, value in cleaned_data.items() if name not in fields)


def currency_totals(queryset: QuerySet, query: Mapping[str, Any] | None = None, **sums: str) -> Totals:
    """Count and sums of the filtered set per currency, in one query (amounts in different
    currencies are never added together).

    Over a million rows this aggregate is the most expensive part of a list request, so
    with the list's `query` (request.GET) it runs when a filtered set is first shown and the
    result is reused while the clerk pages through that same set (?after/?before/?last),
    for a few minutes.
    """
    key = None
    if query is not None:
        filters = query_pairs(query, drop=(*CURSOR_PARAMS, "sort", "per_page"))
        digest = hashlib.sha256(f"{queryset.model._meta.label}?{urlencode(sorted(filters))}".encode()).hexdigest()
        key = f"settle:totals:{digest}"
        if any(query.get(name) for name in CURSOR_PARAMS):
            cached = cache.get(key)
            if cached is not None:
                return cached
    rows = list(
        queryset.order_by()
        .values("currency")
        .annotate(count=Count("pk"), **{name: Sum(path) for name, path in sums.items()})
        .order_by("currency")
    )
    totals = Totals(count=sum(row["count"] for row in rows), by_currency=rows)
    if key:
        cache.set(key, totals, TOTALS_TTL)
    return totals


# --- CSV ------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


# Spreadsheets (Excel, LibreOffice) also read the full-width forms of = + - @ as a formula start.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_text(value: str | None) -> str:
    """Free text as a spreadsheet will not run it as a formula (names, emails, references)."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_csv(
    queryset: QuerySet,
    columns: list[tuple[str, str]],
    *,
    filename: str,
    text_columns: Iterable[str] = (),
) -> StreamingHttpResponse:
    """The list's rows (its selector's queryset, in the list's order) as CSV, every row.

    `columns` are (header, ORM path) pairs; datetimes are written in local time, ISO 8601.
    """
    paths = [path for _name, path in columns]
    text_positions = [i for i, (name, _path) in enumerate(columns) if name in set(text_columns)]

    def rows() -> Iterator[list]:
        for row in queryset.values_list(*paths).iterator(chunk_size=2000):
            row = [timezone.localtime(v).isoformat() if isinstance(v, datetime.datetime) else v for v in row]
            for i in text_positions:
                row[i] = csv_text(row[i])
            yield row

    return stream_csv(f"{filename}-{timezone.localdate().isoformat()}.csv", [name for name, _path in columns], rows())


def invalid_filters(error: InvalidInput) -> HttpResponse:
    """What an export answers to filters that do not validate."""
    return HttpResponse(str(error), status=400, content_type="text/plain")


def stream_csv(filename: str, header: list[str], rows: Iterator[Iterable]) -> StreamingHttpResponse:
    """A CSV download written row by row: no page size, no copy of the set in memory.

    Amounts are written as the Decimal's plain string ("1234.50"), dates as ISO dates.
    """
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
