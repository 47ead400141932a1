"""Drift in the trigger-kept queue totals (InvoiceQueueTotal, PaymentQueueTotal, OrderQueueTotal,
PlanQueueTotal), found and repaired in one statement each.

The kept rows are deltas; per key (state, status, currency[, due date]) their sums must
equal a COUNT/SUM over the live invoices or payments. One statement compares the two in
one snapshot (a writing transaction commits its rows and its deltas together, so any
snapshot sees both or neither) and, when fixing, appends a correcting delta per drifted
key in the same statement: a concurrent write or compaction cannot slip between the
comparison and the repair, because the correction is relative to that snapshot and
every later change brings its own deltas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model

from billing.kept_totals import KeptFigures
from invoices.models import INVOICE_QUEUE_FIGURES
from orders.models import ORDER_QUEUE_FIGURES
from payments.models import PAYMENT_QUEUE_FIGURES
from plans.models import PLAN_QUEUE_FIGURES
from reconciliation.models import ObjectKind


@dataclass(frozen=True)
class KeptQueue:
    kind: str
    kept: KeptFigures
    source: str  # the table whose rows the totals count

    @property
    def model(self) -> type[Model]:
        return self.kept.model

    @property
    def table(self) -> str:
        return self.kept.table

    @property
    def keys(self) -> tuple[str, ...]:
        return self.kept.keys

    @property
    def figures(self) -> Mapping[str, str]:
        """Kept column -> the aggregate over the source rows."""
        return self.kept.aggregates()


QUEUES = (
    KeptQueue(
        ObjectKind.INVOICE_TOTALS,
        INVOICE_QUEUE_FIGURES,
        "invoices_invoice",
    ),
    KeptQueue(
        ObjectKind.PAYMENT_TOTALS,
        PAYMENT_QUEUE_FIGURES,
        "payments_payment",
    ),
    KeptQueue(
        ObjectKind.ORDER_TOTALS,
        ORDER_QUEUE_FIGURES,
        "orders_order",
    ),
    KeptQueue(
        ObjectKind.PLAN_TOTALS,
        PLAN_QUEUE_FIGURES,
        "plans_plan",
    ),
)


@dataclass(frozen=True)
class KeyDrift:
    kind: str
    key: dict
    cached: dict
    ledger: dict

    @property
    def label(self) -> str:
        return " / ".join(str(value) for value in self.key.values())

    @property
    def fields(self) -> list[str]:
        return [name for name in self.cached if self.cached[name] != self.ledger[name]]


def _drift_sql(queue: KeptQueue) -> str:
    # The two sides meet by GROUP BY over a UNION ALL rather than by a FULL JOIN on the keys: a
    # key may be NULL (a plan owing nothing has no oldest due date), and GROUP BY puts NULLs
    # together where a join's equality never matches them.
    keys = ", ".join(queue.keys)
    names = list(queue.figures)
    live = ", ".join(
        [
            *(f"0 AS cached_{name}" for name in names),
            *(f"{aggregate} AS ledger_{name}" for name, aggregate in queue.figures.items()),
        ]
    )
    kept = ", ".join([*(f"SUM({name}) AS cached_{name}" for name in names), *(f"0 AS ledger_{name}" for name in names)])
    summed = ", ".join(f"SUM({side}_{name}) AS {side}_{name}" for side in ("cached", "ledger") for name in names)
    differs = " OR ".join(f"SUM(cached_{name}) <> SUM(ledger_{name})" for name in names)
    corrections = ", ".join(f"ledger_{name} - cached_{name}" for name in names)
    return f"""
        WITH sides AS (
            SELECT {keys}, {live} FROM {queue.source} GROUP BY {keys}
            UNION ALL
            SELECT {keys}, {kept} FROM {queue.table} GROUP BY {keys}
        ),
        diff AS (SELECT {keys}, {summed} FROM sides GROUP BY {keys} HAVING {differs}),
        fixed AS (
            INSERT INTO {queue.table} ({keys}, {", ".join(names)})
            SELECT {keys}, {corrections} FROM diff WHERE %(fix)s
            RETURNING 1
        )
        SELECT * FROM diff ORDER BY {keys}
    """


def find_queue_total_drift(queue: KeptQueue, *, fix: bool) -> list[KeyDrift]:
    """The keys whose kept totals differ from the live rows; with `fix`, corrected as found."""
    with connection.cursor() as cursor:
        cursor.execute(_drift_sql(queue), {"fix": fix})
        columns = [col.name for col in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    count = next(iter(queue.figures))  # a SUM of counts comes back as numeric: show it as one

    def figures(row: dict, side: str) -> dict:
        return {name: int(row[f"{side}_{name}"]) if name == count else row[f"{side}_{name}"] for name in queue.figures}

    return [
        KeyDrift(
            kind=queue.kind,
            key={key: row[key] for key in queue.keys},
            cached=figures(row, "cached"),
            ledger=figures(row, "ledger"),
        )
        for row in rows
    ]
