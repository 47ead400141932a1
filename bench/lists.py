"""The list pages, measured through Django views with the test client as a superuser."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench import targets
from bench.stats import summary_ms


def resolve_targets() -> tuple[dict[str, str], dict[str, str]]:
    """The path of each target's list page, and which view serves it."""
    paths = {target: reverse(name) for target, name in targets.URL_NAMES.items()}
    return paths, {target: f"real view {name}" for target, name in targets.URL_NAMES.items()}


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass(frozen=True)
class _List:
    """What a list page reads through, and how it picks its sort (as its view does)."""

    rows: Callable
    totals: Callable
    sorts: dict
    default_sort: str
    amount_sorts: tuple[str, ...]


def _lists() -> dict[str, _List]:
    from dunning import filters as dunning_filters
    from dunning import selectors as dunning_selectors
    from invoices import filters as invoice_filters
    from invoices import selectors as invoice_selectors
    from payments import filters as payment_filters
    from payments import selectors as payment_selectors

    return {
        "invoice_list": _List(
            invoice_selectors.invoice_list,
            invoice_selectors.invoice_totals,
            invoice_filters.INVOICE_SORTS,
            invoice_filters.DEFAULT_INVOICE_SORT,
            invoice_filters.AMOUNT_SORTS,
        ),
        "payment_list": _List(
            payment_selectors.payment_list,
            payment_selectors.payment_totals,
            payment_filters.PAYMENT_SORTS,
            payment_filters.DEFAULT_PAYMENT_SORT,
            payment_filters.AMOUNT_SORTS,
        ),
        "collections": _List(
            dunning_selectors.account_list,
            dunning_selectors.account_totals,
            dunning_filters.COLLECTION_SORTS,
            dunning_filters.DEFAULT_COLLECTION_SORT,
            dunning_filters.AMOUNT_SORTS,
        ),
    }


def _page_filters(target: str, query: str) -> QueryDict:
    """The filters the list page applies for a bench request: its query string with ?order=
    as ?sort=, without ?page=, and (as the view does) an amount sort scoped to one currency."""
    from billing.listing import amount_sort_currency, chosen_sort
    from invoices.selectors import busiest_currency

    params = QueryDict(query, mutable=True)
    if "order" in params:
        params["sort"] = params.pop("order")[0]
    params.pop("page", None)
    listed = _lists()[target]
    # No session, so nothing is remembered: an amount sort gets the busiest currency.
    request = RequestFactory().get("/", params)
    amount_sort_currency(
        request,
        chosen_sort(request.GET, listed.sorts, listed.default_sort),
        listed.amount_sorts,
        busiest=busiest_currency,
    )
    return request.GET


def filtered_count(target: str, query: str) -> int:
    """How many rows the page lists for the request: its selector's totals, as the page shows them."""
    return _lists()[target].totals(filters=_page_filters(target, query)).count


def real_view_query(target: str, query: str) -> str:
    """The query string the list views take for a bench request.

    The lists page by keyset (?after=cursor, ?last=1) and sort with ?sort=. A clerk
    reaches page N by following Next; its URL carries the cursor of the last row of page
    N-1, so "page=N" becomes that cursor, computed here from the page's own selector and
    ordering, and the request measures exactly what the view runs at that depth.
    """
    from billing.listing import DEFAULT_PAGE_SIZE, encode_cursor

    params = QueryDict(query, mutable=True)
    if "order" in params:
        params["sort"] = params.pop("order")[0]
    page = params.pop("page", [None])[0]
    if page == "last":
        params["last"] = "1"
    elif page and int(page) > 1:
        listed = _lists()[target]
        rows = listed.rows(filters=_page_filters(target, query))
        field = rows.query.order_by[0].lstrip("-")
        number = min(int(page), max(1, -(-rows.count() // DEFAULT_PAGE_SIZE)))  # a small scale has fewer pages
        if number > 1:
            value, pk = rows.values_list(field, "pk")[(number - 1) * DEFAULT_PAGE_SIZE - 1]
            params["after"] = encode_cursor(value, pk, number - 1)
    return params.urlencode()


def _replica_queries():
    from contextlib import nullcontext

    from django.db import connections

    from billing.replicas import replica_alias

    alias = replica_alias()
    return CaptureQueriesContext(connections[alias]) if alias else nullcontext()


def measure(client: Client, paths: dict[str, str], requests, *, repeats: int, warmup: int = 2, log=print) -> list[dict]:
    """Time every request `repeats` times, round-robin so background noise hits them alike."""
    urls = []
    for request in requests:
        query = real_view_query(request.target, request.query)
        urls.append(paths[request.target] + (f"?{query}" if query else ""))
    queries = {}
    for _request, url in zip(requests, urls, strict=True):
        for _ in range(warmup):
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        # With DATABASE_REPLICA_URL set the list pages read the replica (billing/replicas.py): count there too.
        with CaptureQueriesContext(connection) as captured, _replica_queries() as on_replica:
            client.get(url)
        queries[url] = len(captured.captured_queries) + len(on_replica.captured_queries if on_replica else [])
    samples: dict[str, list[float]] = {url: [] for url in urls}
    for _ in range(repeats):
        for url in urls:
            cache.clear()  # cold: no cached totals or nav counts from the previous request
            started = time.perf_counter()
            client.get(url)
            samples[url].append(time.perf_counter() - started)
    results = []
    for request, url in zip(requests, urls, strict=True):
        row = {"label": request.label, "target": request.target, "url": url, "queries": queries[url]}
        row.update(summary_ms(samples[url]))
        if request.baseline:
            row["baseline"] = list(request.baseline)
        results.append(row)
        log(
            f"  {request.label:<34} p50 {row['median_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  "
            f"{row['queries']} queries"
        )
    return results
