"""The JSON API in `make bench` (issue 15): POST a payment with auto-allocation, and the list endpoints.

Through the real API views with the Django test client and a bearer token (the whole middleware
stack, auth, idempotency and JSON rendering; no network), on the bench's data (1M invoices at
scale 1.0):

* `POST /api/v1/payments` with `auto_allocate` and an Idempotency-Key, as a card processor sends
  it: each payment is the balance of one open unpaid invoice of a different customer, so the rule
  finds an exact match and allocates it. Target: median under 15 ms.
* The list endpoints with the pages' filters (invoices by payment status and overdue, payments by
  allocation status and the work queue, orders by billing status) and a second page by cursor,
  round-robin, cold totals cache. Target: p95 under 50 ms for each.
"""

from __future__ import annotations

import json
import time
import uuid

from django.core.cache import cache
from django.test import Client

from bench.stats import summary_ms

PAYMENT_MEDIAN_MS = 15
LIST_P95_MS = 50
LIST_QUERIES = [
    ("invoices unpaid", "/api/v1/invoices", "payment_status=unpaid"),
    ("invoices partially_paid", "/api/v1/invoices", "payment_status=partially_paid"),
    ("invoices paid", "/api/v1/invoices", "payment_status=paid"),
    ("invoices overpaid", "/api/v1/invoices", "payment_status=overpaid"),
    ("invoices unpaid overdue", "/api/v1/invoices", "payment_status=unpaid&overdue=true"),
    ("payments unallocated", "/api/v1/payments", "allocation_status=unallocated"),
    ("payments fully_allocated", "/api/v1/payments", "allocation_status=fully_allocated"),
    ("payments needs work", "/api/v1/payments", "queue=needs_work"),
    ("orders not_invoiced", "/api/v1/orders", "billing_status=not_invoiced"),
]


def measure(user, *, repeats: int, payments: int = 100, log=print) -> dict:
    from api.tokens import create_token

    _token, text = create_token(user=user, name=f"bench {uuid.uuid4().hex[:6]}", by=None)
    client = Client(headers={"Authorization": f"Bearer {text}"})
    result: dict = {"payment": measure_payments(client, count=payments, log=log)}
    result["lists"] = measure_lists(client, repeats=repeats, log=log)
    return result


def _targets(count: int) -> list:
    """Open unpaid invoices of `count` different customers, spread over the table."""
    from invoices.models import Invoice

    picked, seen = [], set()
    invoices = Invoice.objects.filter(state="open", payment_status="unpaid", balance_due__gt=0).order_by("id")
    for invoice in invoices.only("id", "customer_id", "currency", "balance_due")[: count * 20 : 7]:
        if invoice.customer_id not in seen:
            seen.add(invoice.customer_id)
            picked.append(invoice)
        if len(picked) == count:
            break
    return picked


def measure_payments(client: Client, *, count: int, log=print) -> dict:
    targets = _targets(count + 5)
    times, allocated, errors = [], 0, 0
    for i, invoice in enumerate(targets):
        body = {
            "customer_id": invoice.customer_id,
            "amount": str(invoice.balance_due),
            "currency": invoice.currency,
            "method": "card",
            "reference": f"bench-api-{uuid.uuid4().hex}",
            "auto_allocate": True,
        }
        data = json.dumps(body)
        started = time.perf_counter()
        response = client.post(
            "/api/v1/payments", data, content_type="application/json", headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            errors += 1
            continue
        if i >= 5:  # the first few warm the process up (imports, caches, connection)
            times.append(elapsed)
            allocated += bool(response.json()["allocations"])
    found = {"requests": len(times), "allocated": allocated, "errors": errors, **summary_ms(times)}
    log(
        f"  POST payment + auto-allocate x {len(times)}: median {found['median_ms']} ms, p95 {found['p95_ms']} ms, "
        f"allocated {allocated}, errors {errors}"
    )
    return found


def measure_lists(client: Client, *, repeats: int, log=print) -> list[dict]:
    queries = list(LIST_QUERIES)
    first = client.get("/api/v1/invoices?payment_status=unpaid&per_page=50")
    next_link = first.json()["links"]["next"] if first.status_code == 200 else None
    if next_link:
        queries.append(("invoices unpaid page 2 (cursor)", next_link, ""))
    times: dict[str, list[float]] = {label: [] for label, _path, _query in queries}
    statuses: dict[str, set[int]] = {label: set() for label, _path, _query in queries}
    for _round in range(repeats + 1):
        for label, path, query in queries:
            cache.clear()  # the totals are computed as on a first view
            url = f"{path}?{query}" if query else path
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            statuses[label].add(response.status_code)
            if _round:  # round 0 warms up
                times[label].append(elapsed)
    rows = []
    for label, path, query in queries:
        row = {"label": label, "url": f"{path}?{query}" if query else path, "statuses": sorted(statuses[label])}
        row.update(summary_ms(times[label]))
        rows.append(row)
        log(f"  {label:<34} median {row['median_ms']:>7.2f} ms  p95 {row['p95_ms']:>7.2f} ms  {row['statuses']}")
    return rows


def verdicts(found: dict) -> list[dict]:
    payment = found["payment"]
    checks = [
        {
            "target": "API POST payment + auto-allocate, median ms",
            "value": payment["median_ms"],
            "goal": f"< {PAYMENT_MEDIAN_MS} ms",
            "met": payment["median_ms"] < PAYMENT_MEDIAN_MS and not payment["errors"],
        }
    ]
    worst = max(found["lists"], key=lambda row: row["p95_ms"])
    checks.append(
        {
            "target": "API list endpoints, worst p95 ms",
            "scope": worst["label"],
            "value": worst["p95_ms"],
            "goal": f"< {LIST_P95_MS} ms",
            "met": all(row["p95_ms"] < LIST_P95_MS and row["statuses"] == [200] for row in found["lists"]),
        }
    )
    return checks


def failed(found: dict) -> bool:
    """A refused payment or a list answering anything but 200 breaks the run (a slow one does not)."""
    return bool(found["payment"]["errors"]) or any(row["statuses"] != [200] for row in found["lists"])


def table(found: dict, machine: dict | None = None) -> str:
    lines = []
    if machine:
        lines.append(
            f"JSON API at scale {machine['scale']}: load average {machine['load_average_start'][0]} at start, "
            f"{machine.get('load_average_end', ['?'])[0]} at end"
        )
    payment = found["payment"]
    lines.append(
        f"POST /api/v1/payments + auto-allocate x {payment['requests']}: median {payment['median_ms']} ms "
        f"(target < {PAYMENT_MEDIAN_MS}), p95 {payment['p95_ms']} ms, allocated {payment['allocated']}, "
        f"errors {payment['errors']}"
    )
    header = f"{'list endpoint':<36}{'median ms':>10}{'p95 ms':>10}  (target p95 < {LIST_P95_MS})"
    lines += ["", header, "-" * len(header)]
    for row in found["lists"]:
        lines.append(f"{row['label']:<36}{row['median_ms']:>10.2f}{row['p95_ms']:>10.2f}")
    return "\n".join(lines)
