"""The collections queue's filters and sorts: accounts that owe, by balance or by age."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from billing.form_fields import AmountFilter
from billing.listing import Ordering, chosen_sort
from billing.models import Account, Provider
from billing.money import CURRENCY_CHOICES
from billing.search import customer_search

COLLECTION_SORTS: dict[str, Ordering] = {
    # Served by account_owing_balance_idx (-balance_due, id) and account_owing_age_idx (oldest_due_date, id).
    "balance": Ordering("balance_due", descending=True, id_descending=False),
    "age": Ordering("oldest_due_date", descending=False, id_descending=False, nullable=False),
}
DEFAULT_COLLECTION_SORT = "balance"
AMOUNT_SORTS = ("balance",)  # within one currency only (billing.listing.amount_sort_currency)


class AccountFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(
        method="filter_customer",
        label="Customer",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email, reference or phone", "autocomplete": "off"}
        ),
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


def account_sort(filterset: AccountFilter) -> str:
    """The ?sort= asked for (balance or age), else largest balance first."""
    return chosen_sort(filterset.data or {}, COLLECTION_SORTS, DEFAULT_COLLECTION_SORT)
