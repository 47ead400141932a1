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
    # The account set also groups the payment side's rows (account NULL); HAVING drops that group.
    aggregate = """
        SELECT CASE WHEN GROUPING(customer_id) = 0 THEN 'customer' ELSE 'account' END AS level,
               COALESCE(customer_id, account_id) AS object_id, COALESCE(currency, '') AS currency, kind,
               SUM(amount) AS total, COUNT(*) AS entries
        FROM {source} src
        GROUP BY GROUPING SETS ((customer_id, currency, kind), (account_id, kind))
        HAVING GROUPING(customer_id) = 0 OR account_id IS NOT NULL
    """
    journal = aggregate.format(source="ledger_entry")
    rows = aggregate.format(source=f"({expected_entries_sql()})")
    return f"""
        WITH journal AS ({journal}), rows AS ({rows})
        SELECT level, object_id, currency, kind,
               COALESCE(journal.total, 0) AS journal_total, COALESCE(rows.total, 0) AS rows_total,
               COALESCE(journal.entries, 0) AS journal_entries, COALESCE(rows.entries, 0) AS rows_entries
        FROM journal FULL JOIN rows USING (level, object_id, currency, kind)
        WHERE COALESCE(journal.total, 0) <> COALESCE(rows.total, 0)
           OR COALESCE(journal.entries, 0) <> COALESCE(rows.entries, 0)
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
