"""The order list's filters and sorts; the list page, its CSV export and the benchmark share them.

Billing status and payment status are one value each (not several): with one status the
newest-first list walks order_billing_idx / order_payment_idx (status, placed_at, id), or
with a provider order_provider_billing_idx / order_provider_payment_idx, and stops after a
page. The placed-at range is a range of that same index's second column. The dates are
local days, turned into [start of the first day, start of the day after the last) so the
column is compared as it is indexed (placed_at::date would defeat the index).
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from billing.listing import Ordering, both_ways, chosen_sort
from billing.models import Provider
from billing.money import CURRENCY_CHOICES
from billing.search import customer_search
from billing.status import PaymentStatus
from orders.models import BillingStatus, Order

ORDER_SORTS: dict[str, Ordering] = {
    **both_ways("placed_at", "placed_at"),
    **both_ways("number", "number"),
    **both_ways("customer", "customer__name"),
}
DEFAULT_ORDER_SORT = "-placed_at"  # newest first, along the status indexes
AMOUNT_SORTS: tuple[str, ...] = ()  # none: amounts of different currencies are never ranked together


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


def start_of_day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


class OrderFilter(django_filters.FilterSet):
    number = django_filters.CharFilter(
        method="filter_number",
        label="Order number",
        widget=forms.TextInput(attrs={"placeholder": "O-ACME-0001…", "autocomplete": "off", "spellcheck": "false"}),
    )
    customer = django_filters.CharFilter(
        method="filter_customer",
        label="Customer",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email, reference or phone", "autocomplete": "off"}
        ),
    )
    provider = django_filters.ModelChoiceFilter(queryset=Provider.objects.all(), empty_label="All providers")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES, empty_label="All")
    billing_status = django_filters.ChoiceFilter(
        choices=BillingStatus.choices, empty_label="Any", label="Billing status"
    )
    payment_status = django_filters.ChoiceFilter(
        choices=PaymentStatus.choices, empty_label="Any", label="Payment status"
    )
    placed_from = django_filters.DateFilter(method="filter_placed_from", label="Placed from", widget=_date_input())
    placed_to = django_filters.DateFilter(method="filter_placed_to", label="Placed to", widget=_date_input())

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_number(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Numbers are upper case (O-ACME-000042); a prefix walks the unique index's pattern twin.
        return queryset.filter(number__startswith=value.strip().upper())

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return customer_search(queryset, value) if value else queryset

    def filter_placed_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(placed_at__gte=start_of_day(value))

    def filter_placed_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(placed_at__lt=start_of_day(value + datetime.timedelta(days=1)))

    @property
    def is_filtered(self) -> bool:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return any(value not in (None, "", [], False) for value in data.values())


def order_sort(filterset: OrderFilter) -> str:
    """The ?sort= asked for, else newest placed first."""
    return chosen_sort(filterset.data or {}, ORDER_SORTS, DEFAULT_ORDER_SORT)
