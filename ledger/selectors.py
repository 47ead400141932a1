"""Reads of the entry journal: balances as of any date, and entries in journal order.

A balance as of a date is the sum of the entries effective on or before it: never
stored, always derived (DESIGN.md §5). entry_customer_balance_idx (customer, currency,
effective_date) INCLUDE (amount) makes it one index-only range scan, and
entry_account_balance_idx does the same for an account.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import QuerySet, Sum

from billing.models import Account, Customer
from ledger.models import Entry


def balance_as_of(
    *, customer: Customer, currency: str, as_of: datetime.date, account: Account | None = None
) -> Decimal:
    """What the customer owed in `currency` at the end of `as_of` (negative: in credit).

    With `account`, the account's entries only: what its provider charged the customer
    net of credit notes and voids. Payments belong to the customer, not to an account
    (DESIGN.md §5), and allocations write no entries, so this is not the account's
    balance due; the customer's balance is the one that nets payments.
    """
    if account is not None:
        if account.customer_id != customer.pk or account.currency != currency:
            raise ValueError(f"Account {account.pk} is not {customer}'s account in {currency}.")
        entries = Entry.objects.filter(account=account, effective_date__lte=as_of)
    else:
        entries = Entry.objects.filter(customer=customer, currency=currency, effective_date__lte=as_of)
    total = entries.aggregate(balance=Sum("amount"))["balance"]
    return total if total is not None else Decimal("0.00")


def journal_entries(
    *,
    customer: Customer,
    currency: str | None = None,
    account: Account | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> QuerySet[Entry]:
    """A customer's entries in journal order (the order they were written), effective from
    `start` to `end` inclusive, optionally of one currency or one account."""
    entries = Entry.objects.filter(customer=customer)
    if currency is not None:
        entries = entries.filter(currency=currency)
    if account is not None:
        entries = entries.filter(account=account)
    if start is not None:
        entries = entries.filter(effective_date__gte=start)
    if end is not None:
        entries = entries.filter(effective_date__lte=end)
    return entries.order_by("id")
