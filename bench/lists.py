"""The list pages, measured through Django views with the test client as a superuser."""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, clear_url_caches, reverse, set_urlconf

from bench import targets
from bench.stats import summary_ms


def resolve_targets() -> tuple[dict[str, str], dict[str, str]]:
    """The path of each target and where it comes from: the real view or the bench harness."""
    paths, sources = {}, {}
    for target, name in targets.REAL_URL_NAMES.items():
        try:
            paths[target] = reverse(name)
            sources[target] = f"real view {name}"
        except NoReverseMatch:
            pass
    missing = [t for t in targets.REAL_URL_NAMES if t not in paths]
    if missing:
        if not targets.ALLOW_HARNESS:
            raise SystemExit(f"No real view for {', '.join(missing)} and the harness is disabled.")
        settings.ROOT_URLCONF = "bench.urls"
        clear_url_caches()
        set_urlconf(None)
        for target in missing:
            name = targets.HARNESS_URL_NAMES[target]
            paths[target] = reverse(name)
            sources[target] = f"bench harness {name} (same selectors)"
    return paths, sources


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def filtered_count(target: str, query: str) -> int:
    """How many rows the request's filters select (through the selectors' own totals)."""
    from dunning.selectors import collections_queue, collections_totals
    from invoices.selectors import invoice_queue, invoice_queue_totals
    from payments.selectors import payment_queue, payment_queue_totals

    params = QueryDict(query, mutable=True)
    params.pop("page", None)
    if target == "invoice_list":
        return invoice_queue_totals(invoice_queue(params)).count
    if target == "payment_list":
        return payment_queue_totals(payment_queue(params)).count
    return collections_totals(collections_queue(order=params.get("order") or "balance")).count


def _last_page(target: str, query: str) -> int:
    from billing.queues import PER_PAGE

    return max(1, -(-filtered_count(target, query) // PER_PAGE))


def real_view_query(target: str, query: str) -> str:
    """The query string the real list views take for a bench request.

    The real lists page by keyset (?after=cursor, ?last=1) and sort with ?sort=. A clerk
    reaches page N by following Next; its URL carries the cursor of the last row of page
    N-1, so "page=N" becomes that cursor, computed here from the view's own filter and
    ordering, and the request measures exactly what the view runs at that depth.
    """
    from django.test import RequestFactory

    from dunning.queries import COLLECTION_SORTS, DEFAULT_COLLECTION_SORT, AccountFilter, owing_accounts
    from billing.listing import DEFAULT_PAGE_SIZE, chosen_sort, encode_cursor
    from invoices.filters import INVOICE_SORTS, InvoiceFilter, invoice_sort
    from invoices.models import Invoice
    from payments.filters import DEFAULT_PAYMENT_SORT, PAYMENT_SORTS, PaymentFilter
    from payments.models import Payment

    params = QueryDict(query, mutable=True)
    if "order" in params:
        params["sort"] = params.pop("order")[0]
    page = params.pop("page", [None])[0]
    if page == "last":
        params["last"] = "1"
    elif page and int(page) > 1:
        request = RequestFactory().get("/", params)
        if target == "invoice_list":
            filterset = InvoiceFilter(request.GET, queryset=Invoice.objects.all())
            filterset.is_valid()
            ordering = INVOICE_SORTS[invoice_sort(request, filterset)]
        elif target == "payment_list":
            filterset = PaymentFilter(request.GET, queryset=Payment.objects.all())
            ordering = PAYMENT_SORTS[chosen_sort(request, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)]
        else:
            filterset = AccountFilter(request.GET, queryset=owing_accounts())
            ordering = COLLECTION_SORTS[chosen_sort(request, COLLECTION_SORTS, DEFAULT_COLLECTION_SORT)]
        rows = filterset.qs.order_by(*ordering.order_by())
        number = min(int(page), max(1, -(-rows.count() // DEFAULT_PAGE_SIZE)))  # a small scale has fewer pages
        if number > 1:
            value, pk = rows.values_list(ordering.field, "pk")[(number - 1) * DEFAULT_PAGE_SIZE - 1]
            params["after"] = encode_cursor(value, pk, number - 1)
    return params.urlencode()


def measure(
    client: Client, paths: dict[str, str], requests, *, repeats: int, warmup: int = 2, log=print, real: bool = False
) -> list[dict]:
    """Time every request `repeats` times, round-robin so background noise hits them alike."""
    urls = []
    for request in requests:
        query = request.query
        if real:
            query = real_view_query(request.target, query)
        elif "page=last" in query:
            query = re.sub(r"page=last", f"page={_last_page(request.target, query)}", query)
        urls.append(paths[request.target] + (f"?{query}" if query else ""))
    queries = {}
    for request, url in zip(requests, urls, strict=True):
        for _ in range(warmup):
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries[url] = len(captured.captured_queries)
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
        log(f"  {request.label:<34} p50 {row['median_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  "
            f"{row['queries']} queries")
    return results
