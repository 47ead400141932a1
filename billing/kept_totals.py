"""The trigger-kept queue totals: what they keep, reading them, folding their deltas.

A queue-total table (invoices.InvoiceQueueTotal, payments.PaymentQueueTotal) holds, per
key (state, status, currency[, due date]), a count and sums of the rows it counts; a
trigger appends a delta row in every writing transaction. Its KeptFigures is the one
definition of those columns: the list totals, the dashboard, the nav counts, the
compaction command and the drift reconciliation all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, connections, router, transaction
from django.db.models import Model

from billing.listing import Totals


@dataclass(frozen=True)
class KeptFigures:
    """A queue-total table's figures: `count` counts the rows, each of `sums` is the SUM of
    the counted rows' column of the same name."""

    model: type[Model]
    count: str
    sums: tuple[str, ...]

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.count, *self.sums)

    @property
    def keys(self) -> tuple[str, ...]:
        """The key columns (state, status, currency[, due date]): every other concrete column."""
        # A concrete field has a column (that is what concrete means); the check tells the type checker.
        return tuple(
            f.column
            for f in self.model._meta.concrete_fields
            if f.column is not None and f.column not in {"id", *self.columns}
        )

    def aggregates(self) -> dict[str, str]:
        """Each kept column -> the SQL aggregate over the counted rows that it must equal."""
        return {self.count: "COUNT(*)", **{name: f"SUM({name})" for name in self.sums}}


def kept_totals(figures: KeptFigures, *, conditions: list[str], params: dict) -> Totals:
    """The list Totals (count, and per currency its count and sums) of the keys matching
    `conditions` (SQL, ANDed), from the kept deltas: exact, and a few ms whatever the size
    of the set, where the aggregate over the rows takes hundreds.

    The rows are deltas, so the sums equal a COUNT/SUM over the live rows in the same
    snapshot. A read never writes: folding the deltas is compact_queue_totals' job (cron
    or the worker, every few minutes). The key index (state, status, currency, ...
    INCLUDE the figures) makes this an index-only scan of the matching deltas: measured
    here, 1 ms at 20,000 delta rows, 6 ms at 200,000, 32 ms at 1,000,000 (bench/RESULTS.md).
    """
    where = " AND ".join(conditions) or "TRUE"
    selected = ", ".join(f"SUM({name})" for name in figures.columns)
    # A read: the replica's copy on the pages that read from it (billing/replicas.py).
    with connections[router.db_for_read(figures.model)].cursor() as cursor:
        cursor.execute(
            f"SELECT currency, {selected} FROM {figures.table} WHERE {where} GROUP BY currency ORDER BY currency",
            params,
        )
        rows = cursor.fetchall()
    by_currency: list[dict] = []
    for currency, n, *values in rows:
        if n:
            sums: dict[str, Decimal] = dict(zip(figures.sums, values, strict=True))
            by_currency.append({"currency": currency, "count": int(n), **sums})
    return Totals(count=sum(row["count"] for row in by_currency), by_currency=by_currency)


def compact_totals(figures: KeptFigures) -> int:
    """Fold a queue-total table's rows into one per key; returns how many rows remain.

    Deletes the rows this transaction sees and inserts their sums in one statement, so
    every reader sees either the old rows or the folded ones; deltas committed meanwhile
    are not seen, not deleted, and stay. One compaction at a time (advisory lock).
    """
    table = figures.table
    keys = figures.keys
    columns = ", ".join([*keys, *figures.columns])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [table])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(
            f"WITH gone AS (DELETE FROM {table} RETURNING {columns}) "
            f"INSERT INTO {table} ({columns}) "
            f"SELECT {', '.join(keys)}, {', '.join(f'SUM({name})' for name in figures.columns)} FROM gone "
            f"GROUP BY {', '.join(keys)} HAVING {' OR '.join(f'SUM({name}) <> 0' for name in figures.columns)}"
        )
        return cursor.rowcount
