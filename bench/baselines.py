"""What the cached statuses replace, answering the same list question on the same data.

* On the fly in SQL: GROUP BY over the ledger rows (allocations and credit notes, or
  allocations, refunds and chargebacks), derive the status with a CASE, filter by it;
  then the first page (50 rows, oldest due first, with names) and the count and
  per-currency totals, as the list page needs.
* In Python, the old approach: load the open invoices and every allocation and credit
  note, derive each status with billing.status, then filter, sort, count and sum.
"""

from __future__ import annotations

import time
from collections import defaultdict
from decimal import Decimal

from django.db import connection

from allocations.models import Allocation
from bench.stats import summary_ms
from billing.status import derive_payment_status
from invoices.models import CreditNote, Invoice

INVOICE_DERIVED = """
    WITH derived AS (
        SELECT i.id, i.due_date, i.currency, i.total, i.customer_id, i.provider_id, i.number,
               i.total - coalesce(c.s, 0) - coalesce(a.s, 0) AS balance_due,
               CASE WHEN coalesce(a.s, 0) > i.total - coalesce(c.s, 0) THEN 'overpaid'
                    WHEN coalesce(a.s, 0) = i.total - coalesce(c.s, 0) THEN 'paid'
                    WHEN coalesce(a.s, 0) = 0 THEN 'unpaid'
                    ELSE 'partially_paid' END AS status
        FROM invoices_invoice i
        LEFT JOIN (SELECT invoice_id, sum(amount) AS s FROM allocations_allocation GROUP BY 1) a
               ON a.invoice_id = i.id
        LEFT JOIN (SELECT invoice_id, sum(amount) AS s FROM invoices_creditnote GROUP BY 1) c
               ON c.invoice_id = i.id
        WHERE i.state = 'open')
"""
INVOICE_PAGE = (
    INVOICE_DERIVED
    + """
    SELECT d.id, d.number, cu.name, pr.name, d.due_date, d.total, d.balance_due
    FROM (SELECT * FROM derived WHERE status = %s ORDER BY due_date, id LIMIT 50) d
    JOIN billing_customer cu ON cu.id = d.customer_id JOIN billing_provider pr ON pr.id = d.provider_id
    ORDER BY d.due_date, d.id
"""
)
INVOICE_TOTALS = (
    INVOICE_DERIVED
    + """
    SELECT currency, count(*), sum(balance_due), sum(total) FROM derived WHERE status = %s GROUP BY currency
"""
)

PAYMENT_DERIVED = """
    WITH derived AS (
        SELECT p.id, p.received_at, p.currency, p.amount, p.customer_id, x.available,
               x.available - coalesce(a.s, 0) AS unallocated,
               CASE WHEN coalesce(a.s, 0) > x.available THEN 'overallocated'
                    WHEN coalesce(a.s, 0) = x.available THEN 'fully_allocated'
                    WHEN coalesce(a.s, 0) = 0 THEN 'unallocated'
                    ELSE 'partially_allocated' END AS status
        FROM payments_payment p
        LEFT JOIN (SELECT payment_id, sum(amount) AS s FROM allocations_allocation GROUP BY 1) a
               ON a.payment_id = p.id
        LEFT JOIN (SELECT payment_id, sum(amount) AS s FROM payments_refund GROUP BY 1) r ON r.payment_id = p.id
        LEFT JOIN (SELECT payment_id, sum(amount) AS s FROM payments_chargeback GROUP BY 1) c
               ON c.payment_id = p.id
        CROSS JOIN LATERAL (SELECT CASE WHEN p.state = 'canceled' THEN 0
                                        ELSE p.amount - coalesce(r.s, 0) - coalesce(c.s, 0) END AS available) x)
"""
PAYMENT_PAGE = (
    PAYMENT_DERIVED
    + """
    SELECT d.id, cu.name, d.received_at, d.amount, d.unallocated
    FROM (SELECT * FROM derived WHERE status = %s ORDER BY received_at, id LIMIT 50) d
    JOIN billing_customer cu ON cu.id = d.customer_id
    ORDER BY d.received_at, d.id
"""
)
PAYMENT_TOTALS = (
    PAYMENT_DERIVED
    + """
    SELECT currency, count(*), sum(amount), sum(unallocated) FROM derived WHERE status = %s GROUP BY currency
"""
)

SQL = {"invoice": (INVOICE_PAGE, INVOICE_TOTALS), "payment": (PAYMENT_PAGE, PAYMENT_TOTALS)}


def on_the_fly_sql(kind: str, status: str) -> tuple[list, list]:
    page_sql, totals_sql = SQL[kind]
    with connection.cursor() as cursor:
        cursor.execute(page_sql, [status])
        page = cursor.fetchall()
        cursor.execute(totals_sql, [status])
        totals = cursor.fetchall()
    return page, totals


def in_python(status: str) -> tuple[list, dict]:
    """The old way: every open invoice and ledger row into Python, statuses derived there."""
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, amount in Allocation.objects.values_list("invoice_id", "amount").iterator(chunk_size=20_000):
        paid[invoice_id] += amount
    credited: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, amount in CreditNote.objects.values_list("invoice_id", "amount").iterator(chunk_size=20_000):
        credited[invoice_id] += amount
    matching = []
    totals: dict[str, list] = {}
    rows = Invoice.objects.filter(state="open").values_list("id", "due_date", "currency", "total")
    for invoice_id, due_date, currency, total in rows.iterator(chunk_size=20_000):
        net = total - credited.get(invoice_id, Decimal(0))
        invoice_paid = paid.get(invoice_id, Decimal(0))
        if derive_payment_status(net=net, paid=invoice_paid) != status:
            continue
        matching.append((due_date, invoice_id))
        count_and_sums = totals.setdefault(currency, [0, Decimal(0), Decimal(0)])
        count_and_sums[0] += 1
        count_and_sums[1] += net - invoice_paid
        count_and_sums[2] += total
    matching.sort()
    page_ids = [invoice_id for _, invoice_id in matching[:50]]
    page = list(
        Invoice.objects.filter(pk__in=page_ids).select_related("customer", "provider").order_by("due_date", "id")
    )
    return page, totals


def measure_sql(kinds_and_statuses: list[tuple[str, str]], *, repeats: int, log=print) -> tuple[dict, dict]:
    """Time the on-the-fly answers; also return the last answer of each, to check the cached ones."""
    results, answers = {}, {}
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in kinds_and_statuses}
    for _ in range(repeats):
        for key in kinds_and_statuses:
            started = time.perf_counter()
            answers[key] = on_the_fly_sql(*key)
            samples[key].append(time.perf_counter() - started)
    for (kind, status), values in samples.items():
        results[f"{kind}:{status}"] = summary_ms(values)
        log(f"  on-the-fly SQL {kind} {status:<20} p50 {results[f'{kind}:{status}']['median_ms']:9.1f} ms")
    return results, answers


def measure_python(statuses: list[str], *, repeats: int, log=print) -> dict:
    results = {}
    for status in statuses:
        values = []
        for _ in range(repeats):
            started = time.perf_counter()
            in_python(status)
            values.append(time.perf_counter() - started)
        results[f"invoice:{status}"] = summary_ms(values)
        log(f"  Python baseline invoice {status:<16} p50 {results[f'invoice:{status}']['median_ms']:9.1f} ms")
    return results
