"""Reads of the collections queue: which accounts owe, how old their debt is, the last call.

Accounts page by their cached balance or oldest due date (indexed, DESIGN.md §5); aging
depends on today, so it is computed only for the accounts on the page, in one query
over their open unpaid or partially paid invoices (the partial index on (account, due_date)).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Q, QuerySet, Sum

from billing.form_fields import AmountFilter
from billing.listing import Ordering
from billing.models import Account, Provider
from dunning.models import CollectionNote
from billing.money import CURRENCY_CHOICES
from invoices.filters import customer_search
from invoices.models import OPEN_WORK_STATUSES, Invoice, InvoiceState

COLLECTION_SORTS: dict[str, Ordering] = {
    # Served by account_owing_balance_idx (-balance_due, id) and account_owing_age_idx (oldest_due_date, id).
    "balance": Ordering("balance_due", descending=True, id_descending=False),
    "age": Ordering("oldest_due_date", descending=False, id_descending=False, nullable=False),
}
DEFAULT_COLLECTION_SORT = "balance"

ZERO = Decimal("0.00")


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


def aging(account_ids: Iterable[int], today: datetime.date) -> dict[int, dict[str, Decimal]]:
    """{account id: {bucket key: balance due}} for the given accounts, in one query."""
    ids = list(account_ids)
    if not ids:
        return {}
    rows = (
        Invoice.objects.filter(account_id__in=ids, state=InvoiceState.OPEN, payment_status__in=OPEN_WORK_STATUSES)
        .order_by()
        .values("account_id")
        .annotate(**{b.key: Sum("balance_due", filter=_due_between(b, today), default=ZERO) for b in AGING_BUCKETS})
    )
    empty = {b.key: ZERO for b in AGING_BUCKETS}
    result = {pk: dict(empty) for pk in ids}
    for row in rows:
        result[row.pop("account_id")] = row
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
    return Invoice.objects.filter(
        account=account, state=InvoiceState.OPEN, payment_status__in=OPEN_WORK_STATUSES
    ).order_by("due_date", "id")


class AccountFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(
        method="filter_customer",
        label="Customer",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, email, reference or phone", "autocomplete": "off"}),
    )
    provider = django_filters.ModelChoiceFilter(queryset=Provider.objects.all(), empty_label="All providers")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES, empty_label="All")
    min_balance = AmountFilter(
        field_name="balance_due",
        lookup_expr="gte",
        label="Balance at least",
        widget=forms.NumberInput(attrs={"class": "amount", "step": "0.01", "min": "0", "placeholder": "min"}),
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return customer_search(queryset, value) if value else queryset

    @property
    def is_filtered(self) -> bool:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return any(value not in (None, "") for value in data.values())
