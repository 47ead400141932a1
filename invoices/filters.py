"""The invoice list's filters and sorts; the list page and its CSV export share them.

Without a `state` in the query the list shows open invoices (the default view); `all`
lifts that. Overdue is not stored (DESIGN.md §3): unpaid or partially paid, open, and
due before today, which the partial queue index (payment_status, due_date, id) serves.
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from billing.form_fields import AmountFilter
from billing.listing import Ordering, both_ways, chosen_sort
from billing.models import Provider
from billing.money import CURRENCY_CHOICES
from billing.search import customer_search
from billing.status import PaymentStatus
from invoices.models import Invoice, InvoiceState, overdue

ALL_STATES = "all"
STATE_CHOICES = [*InvoiceState.choices, (ALL_STATES, "Any state")]

INVOICE_SORTS: dict[str, Ordering] = {
    **both_ways("number", "number"),
    **both_ways("customer", "customer__name"),
    **both_ways("provider", "provider__name"),
    **both_ways("issue_date", "issue_date"),
    **both_ways("due_date", "due_date"),
    **both_ways("total", "total"),
    **both_ways("balance_due", "balance_due"),
}
DEFAULT_INVOICE_SORT = "-issue_date"  # newest first
AMOUNT_SORTS = ("total", "balance_due")  # within one currency only (billing.listing.amount_sort_currency)
OVERDUE_SORT = "due_date"  # the overdue queue: oldest debt first, along the queue index


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


def _amount_input(placeholder: str) -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "amount", "step": "0.01", "min": "0", "placeholder": placeholder})


class InvoiceFilter(django_filters.FilterSet):
    number = django_filters.CharFilter(
        method="filter_number",
        label="Invoice number",
        widget=forms.TextInput(attrs={"placeholder": "ACME-0001…", "autocomplete": "off", "spellcheck": "false"}),
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
    state = django_filters.ChoiceFilter(choices=STATE_CHOICES, method="filter_state", empty_label=None, label="State")
    payment_status = django_filters.MultipleChoiceFilter(
        choices=PaymentStatus.choices, widget=forms.CheckboxSelectMultiple, label="Payment status", distinct=False
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", widget=forms.CheckboxInput, label="Overdue only")
    total_min = AmountFilter(field_name="total", lookup_expr="gte", label="Total from", widget=_amount_input("min"))
    total_max = AmountFilter(field_name="total", lookup_expr="lte", label="Total to", widget=_amount_input("max"))
    issued_from = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", label="Issued from", widget=_date_input()
    )
    issued_to = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", label="Issued to", widget=_date_input()
    )
    due_from = django_filters.DateFilter(
        field_name="due_date", lookup_expr="gte", label="Due from", widget=_date_input()
    )
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte", label="Due to", widget=_date_input())

    class Meta:
        model = Invoice
        fields: list[str] = []

    def __init__(self, data=None, *args, today: datetime.date | None = None, **kwargs):
        data = data.copy() if data is not None else None
        if data is not None and not data.get("state"):
            data["state"] = InvoiceState.OPEN
        super().__init__(data, *args, **kwargs)
        self.today = today or timezone.localdate()  # what "overdue" is measured against

    def filter_number(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Numbers are upper case (ACME-000042); a prefix walks the unique index (C collation).
        return queryset.filter(number__startswith=value.strip().upper())

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return customer_search(queryset, value) if value else queryset

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ALL_STATES:
            return queryset
        if value == InvoiceState.DRAFT:
            return queryset.filter(state=value)
        # Issued invoices always have an issue date (a check constraint); saying so lets the
        # newest-first scan of (issue_date, id) skip the drafts' NULLs, which sort first.
        return queryset.filter(state=value, issue_date__isnull=False)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(overdue(self.today))

    @staticmethod
    def only_overdue(query) -> bool:
        """Does this query string ask for the overdue queue (read as the form's checkbox reads it)?"""
        return bool(forms.CheckboxInput().value_from_datadict(query, MultiValueDict(), "overdue"))  # no files

    @property
    def is_filtered(self) -> bool:
        """Anything beyond the default view (open invoices)?"""
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return any(
            value not in (None, "", [], False) and not (name == "state" and value == InvoiceState.OPEN)
            for name, value in data.items()
        )


def invoice_sort(filterset: InvoiceFilter) -> str:
    """The ?sort= asked for, else oldest due first for the overdue queue, else newest first."""
    only_overdue = filterset.is_valid() and filterset.form.cleaned_data.get("overdue")
    return chosen_sort(filterset.data or {}, INVOICE_SORTS, OVERDUE_SORT if only_overdue else DEFAULT_INVOICE_SORT)
