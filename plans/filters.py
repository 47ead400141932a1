"""The plan list's and the waiver report's filters; their pages, CSV exports and selectors share them.

A plan is overdue when one of its invoices (an installment or a penalty) is open work due
before today (invoices.models.overdue): its kept oldest_due_date, the earliest due date of
those invoices (ledger.plans), is before today.
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.listing import Ordering
from billing.models import Provider
from billing.money import CURRENCY_CHOICES
from billing.search import customer_search
from plans.models import Plan, PlanState

# Newest first by id (the primary key; plan_state_idx with a state): a plan's id grows as plans are made.
PLAN_ORDERING = Ordering("id", descending=True, id_descending=True, nullable=False)

OVERDUE_CHOICES = [("yes", "Overdue"), ("no", "Not overdue")]


def overdue_plans(today: datetime.date | None = None) -> Q:
    """The plans with an overdue invoice: open work due before `today` (the local day by default)."""
    return Q(oldest_due_date__lt=today or timezone.localdate())


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


def _customer_widget() -> forms.TextInput:
    return forms.TextInput(
        attrs={"type": "search", "placeholder": "Name, email, reference or phone", "autocomplete": "off"}
    )


class _Filtered(django_filters.FilterSet):
    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return customer_search(queryset, value) if value else queryset

    @property
    def is_filtered(self) -> bool:
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return any(value not in (None, "", [], False) for value in data.values())


class PlanFilter(_Filtered):
    customer = django_filters.CharFilter(method="filter_customer", label="Customer", widget=_customer_widget())
    provider = django_filters.ModelChoiceFilter(queryset=Provider.objects.all(), empty_label="All providers")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES, empty_label="All")
    state = django_filters.ChoiceFilter(choices=PlanState.choices, empty_label="Any", label="State")
    overdue = django_filters.ChoiceFilter(
        choices=OVERDUE_CHOICES, method="filter_overdue", empty_label="Any", label="Overdue"
    )

    class Meta:
        model = Plan
        fields: list[str] = []

    def filter_overdue(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "yes":
            return queryset.filter(overdue_plans())
        if value == "no":
            return queryset.exclude(overdue_plans())
        return queryset


class WaiverFilter(_Filtered):
    """The waiver report's filters; the dates are the local days the waivers were written."""

    customer = django_filters.CharFilter(method="filter_customer", label="Customer", widget=_customer_widget())
    provider = django_filters.ModelChoiceFilter(queryset=Provider.objects.all(), empty_label="All providers")
    waived_from = django_filters.DateFilter(method="filter_from", label="Waived from", widget=_date_input())
    waived_to = django_filters.DateFilter(method="filter_to", label="Waived to", widget=_date_input())

    class Meta:
        model = Plan
        fields: list[str] = []

    # The report applies these to its rows itself (selectors.waiver_rows): two kinds of rows.
    def filter_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset

    def filter_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset
