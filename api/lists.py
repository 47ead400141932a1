"""List endpoints: the pages' selectors and FilterSets, their keyset cursors and totals, as JSON.

A list answers {items, links, totals, page, per_page}. `links.next` / `links.previous` carry the
keyset cursor (?after= / ?before=) with the same filters, as the pages' links do; `per_page` is
capped at MAX_PAGE_SIZE. Amount sorts stay within one currency (DESIGN.md section 5): the page
picks one for the clerk, the API asks the caller to name it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja import Field, Schema

from api.schemas import PageLinks, Totals, totals_out
from billing.errors import InvalidInput
from billing.listing import DEFAULT_PAGE_SIZE, Ordering, keyset_page

MAX_PAGE_SIZE = 200


class PageQuery(Schema):
    per_page: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    after: str | None = Field(None, max_length=500, description="cursor from links.next")
    before: str | None = Field(None, max_length=500, description="cursor from links.previous")
    last: int | None = Field(None, ge=1, le=1, description="1: the last page (links.last)")
    sort: str | None = Field(None, max_length=40)


class Page(Schema):
    page: int
    per_page: int
    links: PageLinks
    totals: Totals


def require_currency_for_amount_sort(request: HttpRequest, amount_sorts: Iterable[str]) -> None:
    sort = request.GET.get("sort", "").lstrip("-")
    if sort in {s.lstrip("-") for s in amount_sorts} and not request.GET.get("currency"):
        raise InvalidInput(f"Sorting by {sort} compares amounts of one currency: add currency= to the query.")


def page_out(request: HttpRequest, queryset, ordering: Ordering, totals, *, per_page: int) -> dict:
    page = keyset_page(request, queryset, ordering, per_page=per_page, total_count=totals.count)
    return {
        "items": page.rows,
        "page": page.number,
        "per_page": per_page,
        "links": {
            "next": page.next_url or None,
            "previous": page.previous_url or None,
            "first": page.first_url or None,
            "last": page.last_url or None,
        },
        "totals": totals_out(totals),
    }
