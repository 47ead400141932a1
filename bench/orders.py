"""Orders in `make bench` (issue 12): invoice_order of a 20-line order, and the orders list.

invoice_order is timed alone: each repeat places a fresh 20-line order on an existing
account (create_order, untimed), then times the one call that bills it all (one issued
invoice of 20 lines, its journal entry, the refresh of the invoice, account and order).

The orders list is measured as the invoice list is (bench.lists.measure: the real view
through the Django test client, cold cache, round-robin repeats), at the URL name in
bench.targets. When that name does not resolve (the page is built on another branch), or
the page answers with an error, the section says so instead of failing the run.
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from bench import lists, targets
from bench.stats import summary_ms

ORDER_LINES = 20
INVOICE_ORDER_MEDIAN_MS = 20
ORDER_LIST_P95_MS = 50


def measure(client, *, by, repeats: int, invoice_repeats: int = 50, log=print) -> dict:
    result: dict = {"invoice_order": measure_invoice_order(by=by, repeats=invoice_repeats, log=log)}
    result["list"] = measure_list(client, repeats=repeats, log=log)
    return result


def measure_invoice_order(*, by, repeats: int, lines: int = ORDER_LINES, warmup: int = 2, log=print) -> dict:
    from billing.models import Account
    from orders.services import create_order, invoice_order

    # Existing accounts (a new one would be created by create_order and is not what is timed).
    accounts = list(
        Account.objects.select_related("customer", "provider").filter(currency="EUR").order_by("id")[: repeats + warmup]
    )
    order_lines = [(f"Bench article {n}", 1 + n % 5, f"{10 + n}.50") for n in range(1, lines + 1)]
    samples, create = [], []
    for n in range(repeats + warmup):
        account = accounts[n % len(accounts)]
        started = time.perf_counter()
        order = create_order(
            customer=account.customer, provider=account.provider, currency="EUR", lines=order_lines, by=by
        )
        placed = time.perf_counter()
        invoice = invoice_order(order, by=by)
        elapsed = time.perf_counter() - placed
        if n >= warmup:
            samples.append(elapsed)
            create.append(placed - started)
    assert invoice.lines.count() == lines, f"the last invoice has {invoice.lines.count()} lines, not {lines}"
    # One more, untimed, to count its queries (what a slow median is made of).
    order = create_order(customer=account.customer, provider=account.provider, currency="EUR", lines=order_lines, by=by)
    with CaptureQueriesContext(connection) as captured:
        invoice_order(order, by=by)
    found = {"lines": lines, "repeats": repeats, "queries": len(captured.captured_queries), **summary_ms(samples)}
    found["create_order_median_ms"] = round(statistics.median(create) * 1000, 2)
    log(
        f"  invoice_order of a {lines}-line order: median {found['median_ms']:.2f} ms, p95 {found['p95_ms']:.2f} ms "
        f"({repeats} orders, {found['queries']} queries; create_order median {found['create_order_median_ms']:.2f} ms)"
    )
    return found


def measure_list(client, *, repeats: int, log=print) -> dict:
    try:
        path = reverse(targets.ORDER_LIST_URL_NAME)
    except NoReverseMatch:
        log(f"  orders list: view not available (no URL named {targets.ORDER_LIST_URL_NAME!r} in this branch)")
        return {"available": False, "reason": f"no URL named {targets.ORDER_LIST_URL_NAME!r}"}
    requests = targets.order_requests()
    try:
        rows = lists.measure(client, {"order_list": path}, requests, repeats=repeats, log=log)
    except Exception as exc:  # noqa: BLE001 - a page that errors is reported, the run's other figures kept
        log(f"  orders list: failed ({type(exc).__name__}: {exc})")
        return {"available": False, "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}
    for row, request in zip(rows, requests, strict=True):
        row["count"] = _count(request.query)
    return {"available": True, "view": f"real view {targets.ORDER_LIST_URL_NAME}", "rows": rows}


def _count(query: str) -> int:
    """How many orders carry the status the request filters by (from the cached status columns)."""
    from orders.models import Order

    field, value = query.split("=", 1)
    return Order.objects.filter(**{field: value}).count()


def verdicts(found: dict) -> list[dict]:
    checks = []
    median = found["invoice_order"]["median_ms"]
    checks.append(
        {
            "target": f"invoice_order of a {found['invoice_order']['lines']}-line order, median ms",
            "value": median,
            "goal": f"< {INVOICE_ORDER_MEDIAN_MS} ms",
            "met": median < INVOICE_ORDER_MEDIAN_MS,
        }
    )
    for row in found["list"].get("rows", []):
        checks.append(
            {
                "target": f"p95 {row['label']}",
                "value": row["p95_ms"],
                "goal": f"< {ORDER_LIST_P95_MS} ms",
                "met": row["p95_ms"] < ORDER_LIST_P95_MS,
            }
        )
    return checks


def table(found: dict) -> str:
    lines = []
    io = found["invoice_order"]
    lines.append(
        f"invoice_order, {io['lines']}-line order ({io['repeats']} orders)  median {io['median_ms']:.1f} ms  "
        f"p95 {io['p95_ms']:.1f} ms  max {io['max_ms']:.1f} ms  {io.get('queries', '?')} queries  "
        f"(create_order median {io['create_order_median_ms']:.1f} ms, untimed)"
    )
    listed = found["list"]
    if not listed.get("available"):
        lines.append(f"orders list: view not available ({listed.get('reason', '')})")
        return "\n".join(lines)
    header = f"{'orders list (server time, test client)':<36}{'p50 ms':>9}{'p95 ms':>9}{'qs':>4}{'rows':>10}"
    lines += ["", header, "-" * len(header)]
    for row in listed["rows"]:
        lines.append(
            f"{row['label']:<36}{row['median_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['queries']:>4}{row['count']:>10}"
        )
    return "\n".join(lines)
