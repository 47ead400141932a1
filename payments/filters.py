"""The payment list's filters and sorts; the list page and its CSV export share them.

`?queue=needs_work` is the allocation work queue (DESIGN.md §3): money that arrived
(settled, or charged back but still holding allocations) and is not allocated exactly.
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from billing.form_fields import AmountFilter
from billing.listing import Ordering, both_ways, chosen_sort
from billing.money import CURRENCY_CHOICES
from billing.search import customer_search
from billing.status import AllocationStatus
from payments.models import NEEDS_WORK_STATES, NEEDS_WORK_STATUSES, Payment, PaymentMethod, PaymentState

NEEDS_WORK = "needs_work"

PAYMENT_SORTS: dict[str, Ordering] = {
    **both_ways("received", "received_at"),
    **both_ways("number", "pk"),
    **both_ways("customer", "customer__name"),
    **both_ways("amount", "amount"),
    **both_ways("unallocated", "unallocated"),
}
DEFAULT_PAYMENT_SORT = "-received"  # newest first
AMOUNT_SORTS = ("amount", "unallocated")  # within one currency only (billing.listing.amount_sort_currency)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


def _amount_input(placeholder: str) -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "amount", "step": "0.01", "min": "0", "placeholder": placeholder})


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class PaymentFilter(django_filters.FilterSet):
    queue = django_filters.ChoiceFilter(
        choices=[(NEEDS_WORK, "Needs work")], method="filter_queue", empty_label="All payments", label="Queue"
    )
    customer = django_filters.CharFilter(
        method="filter_customer",
        label="Customer",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email, reference or phone", "autocomplete": "off"}
        ),
    )
    reference = django_filters.CharFilter(
        method="filter_reference",
        label="Reference",
        widget=forms.TextInput(attrs={"placeholder": "Starts with…", "autocomplete": "off", "spellcheck": "false"}),
    )
    method = django_filters.ChoiceFilter(choices=PaymentMethod.choices, empty_label="Any method")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES, empty_label="All")
    state = django_filters.ChoiceFilter(choices=PaymentState.choices, empty_label="Any state")
    allocation_status = django_filters.MultipleChoiceFilter(
        choices=AllocationStatus.choices, widget=forms.CheckboxSelectMultiple, label="Allocation status", distinct=False
    )
    amount_min = AmountFilter(field_name="amount", lookup_expr="gte", label="Amount from", widget=_amount_input("min"))
    amount_max = AmountFilter(field_name="amount", lookup_expr="lte", label="Amount to", widget=_amount_input("max"))
    received_from = django_filters.DateFilter(
        method="filter_received_from", label="Received from", widget=_date_input()
    )
    received_to = django_filters.DateFilter(method="filter_received_to", label="Received to", widget=_date_input())

    class Meta:
        model = Payment
        fields: list[str] = []

    def filter_queue(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value != NEEDS_WORK:
            return queryset
        return queryset.filter(state__in=NEEDS_WORK_STATES, allocation_status__in=NEEDS_WORK_STATUSES)

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return customer_search(queryset, value) if value else queryset

    def filter_reference(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(reference__istartswith=value) if value else queryset

    # Received dates are whole local days, compared as datetimes so the (received_at, id) index serves them.
    def filter_received_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(received_at__gte=_start_of(value))

    def filter_received_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        if value == datetime.date.max:
            return queryset  # the end of the calendar bounds nothing (and the next day overflows)
        return queryset.filter(received_at__lt=_start_of(value + datetime.timedelta(days=1)))

    @property
    def is_filtered(self) -> bool:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return any(value not in (None, "", [], False) for value in data.values())


def payment_sort(filterset: PaymentFilter) -> str:
    """The ?sort= asked for, else newest received first."""
    return chosen_sort(filterset.data or {}, PAYMENT_SORTS, DEFAULT_PAYMENT_SORT)
