"""The collections queue: accounts that owe money, and their aging (DESIGN.md §5)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.errors import InvalidInput
from billing.models import Account
from billing.queues import QueueTotals, queue_totals

COLLECTIONS_ORDERS = {
    # Each matches a partial index on billing_account WHERE balance_due > 0.
    "balance": ("-balance_due", "id"),
    "age": ("oldest_due_date", "id"),
}
AGING_BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")


def collections_queue(
    *,
    order: str = "balance",
    customer_id: int | None = None,
    provider_id: int | None = None,
    currency: str | None = None,
) -> QuerySet[Account]:
    """Accounts with a balance due, largest balance (or oldest due date) first.

    Pages come from the cached balance and oldest due date (account_owing_*_idx); the
    aging, which depends on today, is added for the accounts of one page only by
    attach_aging.
    """
    if order not in COLLECTIONS_ORDERS:
        raise InvalidInput(f"Order the collections queue by {' or '.join(COLLECTIONS_ORDERS)}, not {order!r}.")
    queryset = Account.objects.filter(balance_due__gt=0).select_related("customer", "provider")
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    if provider_id is not None:
        queryset = queryset.filter(provider_id=provider_id)
    if currency:
        queryset = queryset.filter(currency=currency)
    return queryset.order_by(*COLLECTIONS_ORDERS[order])


def collections_totals(queryset: QuerySet[Account]) -> QueueTotals:
    """How many accounts owe, and how much, per currency, in one query."""
    return queue_totals(queryset, ["balance_due"])


@dataclass(frozen=True)
class Aging:
    current: Decimal
    days_1_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    days_over_90: Decimal


ZERO_AGING = Aging(*(Decimal("0.00") for _ in AGING_BUCKETS))


def aging_by_account(account_ids: Iterable[int], *, today: datetime.date | None = None) -> dict[int, Aging]:
    """Balance due of the accounts' open invoices by days past due, in one aggregate query.

    Reads invoice_account_open_idx (account, due_date) INCLUDE (balance_due): the same
    open invoices the account cache sums, so the buckets add up to Account.balance_due.
    """
    from invoices.models import OPEN_WORK_STATUSES, Invoice, InvoiceState

    account_ids = list(account_ids)
    if not account_ids:
        return {}
    today = today or timezone.localdate()
    day = datetime.timedelta(days=1)

    def bucket(condition: Q) -> Coalesce:
        return Coalesce(
            Sum("balance_due", filter=condition), Value(Decimal("0.00")), output_field=DecimalField()
        )

    rows = (
        Invoice.objects.filter(
            account_id__in=account_ids, state=InvoiceState.OPEN, payment_status__in=OPEN_WORK_STATUSES
        )
        .order_by()
        .values("account_id")
        .annotate(
            n=Count("*"),
            current=bucket(Q(due_date__gte=today)),
            days_1_30=bucket(Q(due_date__lt=today, due_date__gte=today - 30 * day)),
            days_31_60=bucket(Q(due_date__lt=today - 30 * day, due_date__gte=today - 60 * day)),
            days_61_90=bucket(Q(due_date__lt=today - 60 * day, due_date__gte=today - 90 * day)),
            days_over_90=bucket(Q(due_date__lt=today - 90 * day)),
        )
    )
    return {row["account_id"]: Aging(*(row[name] for name in AGING_BUCKETS)) for row in rows}


def attach_aging(accounts: list[Account], *, today: datetime.date | None = None) -> list[Account]:
    """Set `account.aging` on each account of a page (one query for the whole page)."""
    aging = aging_by_account([account.pk for account in accounts], today=today)
    for account in accounts:
        account.aging = aging.get(account.pk, ZERO_AGING)
    return accounts
