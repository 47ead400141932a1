"""Allocation throughput: clerks as threads calling allocations.services.allocate.

* distinct: 1, 4 and 16 threads, each on its own payments and its own customers'
  invoices (no shared rows: what the fixed lock order costs when nobody collides);
* hot: 16 threads on one customer: each has its own payments, but all pick invoices
  (and so accounts) of that customer at random; a quarter of the calls are
  allocate_many over two invoices given in random order, which would deadlock
  without the fixed lock order.

Business refusals (an invoice paid off meanwhile) are counted, not hidden; a
deadlock or any other database error is a failure. Invariants are checked after.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from decimal import Decimal

from django.db import OperationalError, connection, connections

from allocations.services import allocate, allocate_many
from bench.stats import summary_ms
from billing.errors import BillingError
from billing.models import Customer
from invoices.models import Invoice
from payments.models import Payment
from payments.services import record_payment

STEP = Decimal("0.10")

ELIGIBLE_PAIRS = """
    WITH p AS (
        SELECT DISTINCT ON (customer_id) id, customer_id, currency FROM payments_payment
        WHERE state = 'settled' AND unallocated >= 100 AND reference NOT LIKE 'BENCH-%'
        ORDER BY customer_id, id)
    SELECT p.id, i.id, p.customer_id FROM p
    JOIN LATERAL (SELECT id FROM invoices_invoice i
                  WHERE i.customer_id = p.customer_id AND i.currency = p.currency AND i.state = 'open'
                    AND i.balance_due >= 100
                  ORDER BY i.due_date, i.id LIMIT 1) i ON true
    ORDER BY p.customer_id
"""
HOT_CUSTOMER = """
    SELECT customer_id, currency, count(*) FROM invoices_invoice
    WHERE state = 'open' AND payment_status IN ('unpaid', 'partially_paid') AND balance_due >= 20
    GROUP BY customer_id, currency ORDER BY count(*) DESC, customer_id LIMIT 1
"""


def _run(threads: int, prepare, *, seconds: float) -> dict:
    """Run `threads` clerks: each prepare(index) loads its rows and returns loop(deadline, record);
    the clock starts once every clerk is ready, so loading is not measured."""
    lock = threading.Lock()
    latencies: list[float] = []
    outcome = {"allocations": 0, "rows": 0, "refused": 0, "deadlocks": 0, "errors": 0}
    error_samples: list[str] = []

    def record(seconds_taken: float, rows: int = 0, kind: str = "ok", error: str = "") -> None:
        with lock:
            latencies.append(seconds_taken)
            if kind == "ok":
                outcome["allocations"] += 1
                outcome["rows"] += rows
            else:
                outcome[kind] += 1
                if error and len(error_samples) < 5:
                    error_samples.append(error[:300])

    ready, go = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    clock: dict[str, float] = {}

    def body(index: int) -> None:
        try:
            loop = prepare(index)
            ready.wait()
            go.wait()
            loop(clock["deadline"], record)
        except threading.BrokenBarrierError:
            pass
        except Exception as error:  # noqa: BLE001 - a clerk that cannot start is reported
            record(0.0, kind="errors", error=f"setup: {type(error).__name__}: {error}")
            ready.abort()
        finally:
            connection.close()

    pool = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    try:
        ready.wait()
        clock["started"] = time.perf_counter()
        clock["deadline"] = clock["started"] + seconds
        go.wait()
    except threading.BrokenBarrierError:
        go.abort()
        clock.setdefault("started", time.perf_counter())
    for thread in pool:
        thread.join()
    elapsed = max(time.perf_counter() - clock["started"], 1e-9)
    result: dict[str, object] = {
        "threads": threads,
        "seconds": round(elapsed, 2),
        **outcome,
        "error_samples": error_samples,
    }
    result["allocs_per_s"] = round(outcome["allocations"] / elapsed, 1)
    if latencies:
        result["latency"] = summary_ms(latencies)
    result["_latencies"] = latencies
    return result


def distinct_rounds(
    thread_counts: list[int], pairs: list[tuple[int, int, int]], *, seconds: float, rounds: int, by
) -> list[dict]:
    """Each clerk count `rounds` times, interleaved, so a burst of other work on the machine
    hits them alike; allocs/s is the median round, latency is over every call of every round."""
    runs: dict[int, list[dict]] = {threads: [] for threads in thread_counts}
    for _ in range(rounds):
        for threads in thread_counts:
            runs[threads].append(distinct(threads, pairs, seconds=seconds, by=by))
    merged = []
    for threads, results in runs.items():
        latencies = [x for result in results for x in result.pop("_latencies")]
        rates = sorted(result["allocs_per_s"] for result in results)
        row = {
            "threads": threads,
            "rounds": [result["allocs_per_s"] for result in results],
            "allocs_per_s": statistics.median(rates),
            "seconds": round(sum(result["seconds"] for result in results), 2),
        }
        for key in ("allocations", "rows", "refused", "deadlocks", "errors"):
            row[key] = sum(result[key] for result in results)
        row["error_samples"] = [e for result in results for e in result["error_samples"]][:5]
        if latencies:
            row["latency"] = summary_ms(latencies)
        merged.append(row)
    return merged


def _call(record, func, *args, **kwargs) -> None:
    started = time.perf_counter()
    try:
        created = func(*args, **kwargs)
    except BillingError as error:
        record(time.perf_counter() - started, kind="refused", error=str(error))
    except OperationalError as error:
        kind = "deadlocks" if "deadlock" in str(error).lower() else "errors"
        record(time.perf_counter() - started, kind=kind, error=str(error))
    except Exception as error:  # noqa: BLE001 - every other failure is reported, not raised in a thread
        record(time.perf_counter() - started, kind="errors", error=f"{type(error).__name__}: {error}")
    else:
        record(time.perf_counter() - started, rows=len(created) if isinstance(created, list) else 1)


def distinct(threads: int, pairs: list[tuple[int, int, int]], *, seconds: float, by, per_thread: int = 200) -> dict:
    """Each clerk owns the pairs of the customers with customer_id % threads == its index."""

    def prepare(index: int):
        mine = [(p, i) for p, i, customer in pairs if customer % threads == index][:per_thread]
        payments = Payment.objects.in_bulk([p for p, _ in mine])
        invoices = Invoice.objects.in_bulk([i for _, i in mine])
        work = [(payments[p], invoices[i]) for p, i in mine]

        def loop(deadline: float, record) -> None:
            n = 0
            while work and time.perf_counter() < deadline:
                payment, invoice = work[n % len(work)]
                n += 1
                _call(record, allocate, payment, invoice, STEP, by=by, note="bench")

        return loop

    return _run(threads, prepare, seconds=seconds)


def hot(threads: int, *, seconds: float, by, payments_per_thread: int = 3) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(HOT_CUSTOMER)
        customer_id, currency, open_invoices = cursor.fetchone()
    invoice_ids = list(
        Invoice.objects.filter(
            customer_id=customer_id,
            currency=currency,
            state="open",
            payment_status__in=["unpaid", "partially_paid"],
            balance_due__gte=20,
        ).values_list("pk", flat=True)
    )
    customer = Customer.objects.get(pk=customer_id)
    stamp = int(time.time())
    fresh = [
        record_payment(
            customer=customer,
            amount=Decimal("500.00"),
            currency=currency,
            method="bank_transfer",
            reference=f"BENCH-HOT-{stamp}-{n}",
            by=by,
        )
        for n in range(threads * payments_per_thread)
    ]

    def prepare(index: int):
        rng = random.Random(index)
        mine = fresh[index * payments_per_thread : (index + 1) * payments_per_thread]
        invoices = Invoice.objects.in_bulk(invoice_ids)

        def loop(deadline: float, record) -> None:
            n = 0
            while time.perf_counter() < deadline:
                payment = mine[n % len(mine)]
                n += 1
                if rng.random() < 0.25 and len(invoice_ids) > 1:
                    first, second = rng.sample(invoice_ids, 2)
                    splits = [(invoices[first], STEP), (invoices[second], STEP)]
                    _call(record, allocate_many, payment, splits, by=by, note="bench hot split")
                else:
                    _call(record, allocate, payment, invoices[rng.choice(invoice_ids)], STEP, by=by, note="bench hot")

        return loop

    result = _run(threads, prepare, seconds=seconds)
    result.update(customer_id=customer_id, open_invoices=open_invoices, hot_invoices=len(invoice_ids))
    result["touched_invoices"] = invoice_ids
    result["touched_payments"] = [p.pk for p in fresh]
    return result


def eligible_pairs() -> list[tuple[int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(ELIGIBLE_PAIRS)
        return cursor.fetchall()


def write_path_violations(invoice_ids: list[int], payment_ids: list[int]) -> int:
    """I4: the write path alone never makes a touched invoice overpaid or payment overallocated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM invoices_invoice WHERE id = ANY(%s) AND payment_status = 'overpaid')"
            " + (SELECT count(*) FROM payments_payment WHERE id = ANY(%s) AND allocation_status = 'overallocated')",
            [invoice_ids, payment_ids],
        )
        return cursor.fetchone()[0]


def close_all() -> None:
    connections.close_all()
