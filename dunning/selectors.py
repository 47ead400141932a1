"""Reads of the collections queue: which accounts owe, how old their debt is, the last call.

The queue is `account_list(filters=...)` and its figures `account_totals(filters=...)`, both
through AccountFilter. Accounts page by their cached balance or oldest due date (indexed,
DESIGN.md §5); aging depends on today, so it is computed only for the accounts on the page,
in one query over their open unpaid or partially paid invoices (the partial index on
(account, due_date)).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum

from billing.listing import Totals, as_query, currency_totals, validated
from billing.models import Account
from dunning.filters import COLLECTION_SORTS, AccountFilter, account_sort
from dunning.models import CollectionNote
from invoices.models import Invoice, open_work

ZERO = Decimal("0.00")

Filters = Mapping[str, Any] | AccountFilter


@dataclass(frozen=True)
class Bucket:
    key: str
    label: str
    # Days past due, inclusive; None is open-ended.
    low: int | None
    high: int | None


AGING_BUCKETS = (
    Bucket("current", "Current", None, 0),
    Bucket("d1_30", "1–30", 1, 30),
    Bucket("d31_60", "31–60", 31, 60),
    Bucket("d61_90", "61–90", 61, 90),
    Bucket("d90_plus", "90+", 91, None),
)


def _due_between(bucket: Bucket, today: datetime.date) -> Q:
    # k days past due means due_date = today - k; a higher day count is an earlier date.
    condition = Q()
    if bucket.high is not None:
        condition &= Q(due_date__gte=today - datetime.timedelta(days=bucket.high))
    if bucket.low is not None:
        condition &= Q(due_date__lte=today - datetime.timedelta(days=bucket.low))
    return condition


def owing_accounts() -> QuerySet[Account]:
    return Account.objects.filter(balance_due__gt=0).select_related("customer", "provider")


def account_filter(filters: Filters) -> AccountFilter:
    """AccountFilter over the owing accounts, bound to `filters` (request.GET or a dict) and
    validated; raises InvalidInput with the form's messages."""
    if isinstance(filters, AccountFilter):
        return validated(filters)
    return validated(AccountFilter(as_query(filters), queryset=owing_accounts()))


def account_list(*, filters: Filters) -> QuerySet[Account]:
    """The accounts that owe, as the filters select them (customer, provider, currency,
    min_balance), largest balance first or with ?sort=age oldest debt first."""
    filterset = account_filter(filters)
    return filterset.qs.order_by(*COLLECTION_SORTS[account_sort(filterset)].order_by())


def account_totals(*, filters: Filters) -> Totals:
    """How many accounts owe, and how much, per currency: one aggregate (the owing-account
    indexes keep it small), reused while the clerk pages through the same set."""
    filterset = account_filter(filters)
    return currency_totals(filterset.qs, filterset.data, balance_due="balance_due")


def aging(account_ids: Iterable[int], today: datetime.date) -> dict[int, dict[str, Decimal]]:
    """{account id: {bucket key: balance due}} for the given accounts, in one query.

    The same open invoices the account cache sums, so the buckets add up to Account.balance_due.
    """
    ids = list(account_ids)
    if not ids:
        return {}
    rows = (
        Invoice.objects.filter(open_work(), account_id__in=ids)
        .order_by()
        .values("account_id")
        .annotate(**{b.key: Sum("balance_due", filter=_due_between(b, today), default=ZERO) for b in AGING_BUCKETS})
    )
    empty = {b.key: ZERO for b in AGING_BUCKETS}
    result = {pk: dict(empty) for pk in ids}
    for row in rows:
        # The row is the account id and one sum per bucket (the annotations are built by key).
        buckets: dict[str, Any] = dict(row)
        result[buckets.pop("account_id")] = buckets
    return result


def latest_notes(account_ids: Iterable[int]) -> dict[int, CollectionNote]:
    """The newest note of each account, in one query (DISTINCT ON over the (account, -id) index)."""
    ids = list(account_ids)
    if not ids:
        return {}
    notes = (
        CollectionNote.objects.filter(account_id__in=ids)
        .order_by("account_id", "-id")
        .distinct("account_id")
        .select_related("created_by")
    )
    return {note.account_id: note for note in notes}


def account_open_invoices(account: Account) -> QuerySet[Invoice]:
    """What the customer still owes on the account, oldest due first."""
    return Invoice.objects.filter(open_work(), account=account).order_by("due_date", "id")


def promises_due(*, today: datetime.date) -> QuerySet[CollectionNote]:
    """Broken promises: each account's newest promise to pay whose date has passed while the
    account is still overdue, oldest promised date first.

    The newest note with a promised date is the promise that counts (a later call may move
    the date). A promise is kept, and leaves this list, once the account has nothing
    overdue; run_dunning held the account's letters until the promised date and sends them
    again from the day after.
    """
    newest = (
        CollectionNote.objects.filter(promised_date__isnull=False)
        .order_by("account_id", "-id")
        .distinct("account_id")
        .values("id")
    )
    return (
        CollectionNote.objects.filter(
            id__in=newest,
            promised_date__lt=today,
            account__balance_due__gt=0,
            account__oldest_due_date__lt=today,
        )
        .select_related("account__customer", "account__provider", "created_by")
        .order_by("promised_date", "id")
    )
