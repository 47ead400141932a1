"""Reads of the customer page (DESIGN.md §5: a customer's whole position on one page).

The accounts' figures are the collections queue's (dunning.selectors: one aging
definition, one "latest note"); the history is the entry journal (ledger, DESIGN.md §8)
with a running balance per currency, so what the page says a customer owed after an
entry is what balance_as_of says for that date.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet, Sum

from billing.models import Account, Customer
from billing.status import AllocationStatus
from dunning.models import CollectionNote
from dunning.selectors import AGING_BUCKETS, aging, latest_notes
from ledger.models import Entry
from payments.models import Payment, PaymentState

ZERO = Decimal("0.00")
HISTORY_PAGE = 50
NOTES_SHOWN = 50


@dataclass
class AccountRow:
    account: Account
    aging: list[Decimal]
    overdue: Decimal
    note: CollectionNote | None


@dataclass
class CurrencyPosition:
    """What the customer owes and holds in one currency."""

    currency: str
    owed: Decimal = ZERO  # open invoices' balance due (the accounts' cache)
    unapplied: Decimal = ZERO  # settled payments' unallocated money
    balance: Decimal = ZERO  # the journal's balance today (negative: the customer is owed money)

    @property
    def in_credit(self) -> bool:
        """DESIGN.md §5: settled payments not yet allocated exceed what is owed."""
        return self.unapplied > self.owed


@dataclass
class Position:
    accounts: list[AccountRow]
    currencies: list[CurrencyPosition]
    unapplied_payments: list[Payment] = field(default_factory=list)


def customer_position(customer: Customer, today: datetime.date) -> Position:
    """Every account with its aging and latest note, unapplied payments, and the per-currency
    position; a handful of queries whatever the customer's size (accounts are few)."""
    accounts = list(
        Account.objects.filter(customer=customer).select_related("provider").order_by("currency", "provider__name")
    )
    ids = [a.pk for a in accounts]
    buckets, notes = aging(ids, today), latest_notes(ids)
    rows = []
    for account in accounts:
        amounts = [buckets[account.pk][b.key] for b in AGING_BUCKETS]
        # Everything but the "current" bucket is past due: the same open invoices, one definition.
        overdue = sum((buckets[account.pk][b.key] for b in AGING_BUCKETS if b.key != "current"), ZERO)
        rows.append(AccountRow(account, amounts, overdue, notes.get(account.pk)))

    # payment_customer_idx (customer, allocation_status): only payments with money left.
    unapplied = list(
        Payment.objects.filter(
            customer=customer,
            state=PaymentState.SETTLED,
            allocation_status__in=(AllocationStatus.UNALLOCATED, AllocationStatus.PARTIALLY_ALLOCATED),
        ).order_by("received_at", "id")
    )
    positions: dict[str, CurrencyPosition] = {}

    def at(currency: str) -> CurrencyPosition:
        return positions.setdefault(currency, CurrencyPosition(currency))

    for account in accounts:
        at(account.currency).owed += account.balance_due
    for payment in unapplied:
        at(payment.currency).unapplied += payment.unallocated
    # One index-only scan of entry_customer_balance_idx: balance_as_of(today) for every currency.
    balances = (
        Entry.objects.filter(customer=customer, effective_date__lte=today)
        .order_by()
        .values_list("currency")
        .annotate(balance=Sum("amount"))
    )
    for currency, balance in balances:
        at(currency).balance = balance
    return Position(rows, [positions[c] for c in sorted(positions)], unapplied)


def customer_notes(customer: Customer, limit: int = NOTES_SHOWN) -> QuerySet[CollectionNote]:
    """The call notes of all the customer's accounts, latest first."""
    return (
        CollectionNote.objects.filter(account__customer=customer)
        .select_related("account__provider", "created_by")
        .order_by("-id")[:limit]
    )


# --- History ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    currency: str | None = None
    kinds: tuple[str, ...] = ()
    start: datetime.date | None = None
    end: datetime.date | None = None


@dataclass(frozen=True)
class Cursor:
    """The last row shown: the next page starts strictly before it (newest first)."""

    effective_date: datetime.date
    id: int

    def __str__(self) -> str:
        return f"{self.effective_date.isoformat()}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        try:
            day, pk = text.split(".", 1)
            return cls(datetime.date.fromisoformat(day), int(pk))
        except ValueError:
            return None


@dataclass
class HistoryLine:
    entry: Entry
    running_balance: Decimal


@dataclass
class HistoryPage:
    lines: list[HistoryLine]
    next_cursor: Cursor | None


# The running balance is a window over all the customer's entries of the currency in
# (effective_date, id) order, computed before the filters apply: a filtered or later page
# still shows what the customer owed after each entry, and the line of the last entry of a
# day equals balance_as_of(that day). The inner scan reads entry_customer_balance_idx.
_HISTORY_SQL = """
SELECT id, running FROM (
    SELECT id, kind, currency, effective_date,
           SUM(amount) OVER (PARTITION BY currency ORDER BY effective_date, id) AS running
    FROM ledger_entry
    WHERE customer_id = %(customer)s {currency}
) AS journal
WHERE TRUE {filters}
ORDER BY effective_date DESC, id DESC
LIMIT %(limit)s
"""


def customer_history(
    customer: Customer, *, filters: HistoryFilters, cursor: Cursor | None = None, per_page: int = HISTORY_PAGE
) -> HistoryPage:
    """One page of the customer's journal, newest first, each line with its running balance."""
    params: dict[str, Any] = {"customer": customer.pk, "limit": per_page + 1}
    currency = ""
    if filters.currency:
        currency, params["currency"] = "AND currency = %(currency)s", filters.currency
    conditions = []
    if filters.kinds:
        conditions.append("kind = ANY(%(kinds)s)")
        params["kinds"] = list(filters.kinds)
    if filters.start:
        conditions.append("effective_date >= %(start)s")
        params["start"] = filters.start
    if filters.end:
        conditions.append("effective_date <= %(end)s")
        params["end"] = filters.end
    if cursor:
        conditions.append("(effective_date, id) < (%(cursor_date)s, %(cursor_id)s)")
        params["cursor_date"], params["cursor_id"] = cursor.effective_date, cursor.id
    sql = _HISTORY_SQL.format(currency=currency, filters="".join(f" AND {c}" for c in conditions))
    with connections[router.db_for_read(Entry)].cursor() as db:  # the replica on the customer page
        db.execute(sql, params)
        found = db.fetchall()
    more = len(found) > per_page
    found = found[:per_page]
    entries = Entry.objects.select_related(
        "invoice", "credit_note__invoice", "payment", "refund__payment", "chargeback__payment"
    ).in_bulk([pk for pk, _ in found])
    lines = [HistoryLine(entries[pk], running) for pk, running in found]
    next_cursor = Cursor(lines[-1].entry.effective_date, lines[-1].entry.pk) if more and lines else None
    return HistoryPage(lines, next_cursor)


def customer_currencies(customer: Customer) -> list[str]:
    """The currencies the customer's journal has entries in (the history's currency filter)."""
    return list(
        Entry.objects.filter(customer=customer).order_by("currency").values_list("currency", flat=True).distinct()
    )
