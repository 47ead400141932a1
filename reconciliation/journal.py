"""Drift between the entry journal and the rows it mirrors (I1), found in one set-based statement.

The rows say which entries there should be (ledger.journal_sql.expected_entries_sql);
the journal says which there are. Both sides are summed and counted per kind, for each
customer and currency and for each account (GROUPING SETS: one scan per side), and
every key where they differ is reported: the kind's sum, and its number of entries
when that differs too.

Journal drift is never repaired. The journal is append-only (the database refuses
anything else), and which side is wrong is a question for a person: an entry missing
or extra means some code wrote a money row without the journal (or the reverse), which
is a bug to report, not routine maintenance. A run that finds it ends "drift found" (or
"partly fixed" with --fix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from billing.models import Account, Customer
from ledger.journal_sql import expected_entries_sql
from reconciliation.models import ObjectKind


def _sides_sql() -> str:
    # One aggregation over both sides to the finest key (customer, account, currency, kind):
    # an account's key is that fine group itself (an account has one customer and currency),
    # and a customer's (customer, currency, kind) can only differ where one of its fine groups
    # does, so only those customers' groups are summed again. (GROUPING SETS over both
    # sides, then a full join, sorted every entry twice per side: about twice as slow.)
    return f"""
        WITH fine AS MATERIALIZED (
            SELECT customer_id, account_id, currency, kind,
                   COALESCE(SUM(amount) FILTER (WHERE journal), 0) AS journal_total,
                   COALESCE(SUM(amount) FILTER (WHERE NOT journal), 0) AS rows_total,
                   COUNT(*) FILTER (WHERE journal) AS journal_entries,
                   COUNT(*) FILTER (WHERE NOT journal) AS rows_entries
            FROM (SELECT true AS journal, customer_id, account_id, currency, kind::text AS kind, amount
                  FROM ledger_entry
                  UNION ALL
                  SELECT false, customer_id, account_id, currency, kind, amount
                  FROM ({expected_entries_sql()}) e) src
            GROUP BY customer_id, account_id, currency, kind),
        differs AS (
            SELECT * FROM fine WHERE journal_total <> rows_total OR journal_entries <> rows_entries)
        SELECT 'account' AS level, account_id AS object_id, '' AS currency, kind,
               journal_total, rows_total, journal_entries, rows_entries
        FROM differs WHERE account_id IS NOT NULL
        UNION ALL
        SELECT 'customer', customer_id, COALESCE(currency, ''), kind,
               SUM(journal_total), SUM(rows_total), SUM(journal_entries)::bigint, SUM(rows_entries)::bigint
        FROM fine
        WHERE (customer_id, currency, kind) IN (SELECT customer_id, currency, kind FROM differs)
        GROUP BY customer_id, currency, kind
        HAVING SUM(journal_total) <> SUM(rows_total) OR SUM(journal_entries) <> SUM(rows_entries)
        ORDER BY level DESC, object_id, currency, kind
    """


@dataclass
class JournalDrift:
    """One customer-and-currency or one account whose entries disagree with its rows."""

    kind: str  # ObjectKind.JOURNAL_CUSTOMER or JOURNAL_ACCOUNT
    id: int
    currency: str
    label: str = ""
    # (field, journal's figure, rows' figure): field is an entry kind (its sum) or "<kind> entries" (count).
    fields: list[tuple[str, object, object]] = field(default_factory=list)


def find_journal_drift() -> list[JournalDrift]:
    """Every customer (per currency) and account whose journal disagrees with its rows."""
    with connection.cursor() as cursor:
        cursor.execute(_sides_sql())
        rows = cursor.fetchall()
    found: dict[tuple[str, int, str], JournalDrift] = {}
    for level, object_id, currency, kind, journal_total, rows_total, journal_n, rows_n in rows:
        object_kind = ObjectKind.JOURNAL_CUSTOMER if level == "customer" else ObjectKind.JOURNAL_ACCOUNT
        drift = found.setdefault((level, object_id, currency), JournalDrift(object_kind, object_id, currency))
        if journal_total != rows_total:
            drift.fields.append((kind, Decimal(journal_total), Decimal(rows_total)))
        if journal_n != rows_n:
            drift.fields.append((f"{kind} entries", journal_n, rows_n))
    drifts = list(found.values())
    _label(drifts)
    return drifts


def _label(drifts: list[JournalDrift]) -> None:
    """How a clerk recognises each: "Ada (EUR)" for a customer, "Ada / Acme (EUR)" for an account."""
    customers = Customer.objects.in_bulk([d.id for d in drifts if d.kind == ObjectKind.JOURNAL_CUSTOMER])
    accounts = Account.objects.select_related("customer", "provider").in_bulk(
        [d.id for d in drifts if d.kind == ObjectKind.JOURNAL_ACCOUNT]
    )
    for drift in drifts:
        if drift.kind == ObjectKind.JOURNAL_CUSTOMER:
            customer = customers.get(drift.id)
            drift.label = f"{customer or f'Customer #{drift.id}'} ({drift.currency})"
        else:
            account = accounts.get(drift.id)
            drift.label = str(account) if account else f"Account #{drift.id}"
