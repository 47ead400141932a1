"""Form fields shared by the money forms: exact amounts and a customer picker that scales."""

from __future__ import annotations

from decimal import Decimal

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from billing.errors import InvalidAmount
from billing.models import Customer
from billing.money import parse_amount, parse_amount_bound
from billing.search import search_customers
from billing.validation import parse_id

CUSTOMER_CHOICES_LIMIT = 50


class AmountInput(forms.TextInput):
    """Right-aligned, numeric keyboard on phones; text, so no browser ever rounds through a float."""

    def __init__(self, attrs=None):
        super().__init__({"class": "amount", "inputmode": "decimal", "autocomplete": "off", **(attrs or {})})


class AmountField(forms.CharField):
    """An exact Decimal in the form's currency, parsed by billing.money.parse_amount.

    The currency is usually the invoice's or payment's. When it is another field of the
    same form (recording a payment), leave it None: the field returns the stripped text
    and the form's clean() parses it with parse_amount_field once it knows the currency.
    """

    widget = AmountInput

    def __init__(self, *, currency: str | None = None, **kwargs):
        kwargs.setdefault("max_length", 24)
        super().__init__(**kwargs)
        self.currency = currency

    def clean(self, value) -> Decimal | str | None:
        value = super().clean(value)
        if value in (None, ""):
            return None
        if self.currency is None:
            return value  # the form parses it once it knows the currency
        # A label may be lazy text; parse_amount_field works on the label as a str.
        return parse_amount_field(value, self.currency, None if self.label is None else str(self.label))


def parse_amount_field(value: str, currency: str, label: str | None = None) -> Decimal:
    """parse_amount for a form: the same exact rules, raised as a field error."""
    try:
        label = label or "amount"
        # Only the label's first letter is lowered ("Amount for BOLT-000544" -> "amount for BOLT-000544"):
        # invoice numbers and names in it keep their case.
        return parse_amount(value, currency, field=label[:1].lower() + label[1:])
    except InvalidAmount as error:
        message = str(error)
        if "," in str(value):
            message += " Write decimals with a point: 1234.50, or 1,234.50 with thousands in groups of three."
        raise ValidationError(message, code=error.code) from None


def matching_customers(query: str = ""):
    """Customers whose name, email, reference or phone matches what the clerk typed (all when blank)."""
    return search_customers(Customer.objects.all(), query)


def no_customer_match(query: str = "") -> str:
    """What the picker says when a search finds nobody (it used to show an empty list and nothing else)."""
    query = (query or "").strip()
    if not query or matching_customers(query).exists():
        return ""
    return f"No customer matches “{query}”."


class AmountBoundField(forms.CharField):
    """A list filter's amount bound (total from, balance at least): parse_amount's grammar,
    two decimals at most, so no exponent or NaN ever reaches a query (numeric overflow)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 24)
        super().__init__(**kwargs)

    def clean(self, value) -> Decimal | None:
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            return parse_amount_bound(value, field=(self.label or "amount").lower())
        except InvalidAmount as error:
            raise ValidationError(str(error), code=error.code) from None


class AmountFilter(django_filters.Filter):
    """`field_name__lookup_expr` an amount, for the lists' amount filters."""

    field_class = AmountBoundField


def customer_choices(query: str = "", selected: int | str | None = None) -> list[tuple[str, str]]:
    """At most CUSTOMER_CHOICES_LIMIT customers matching `query` (name, email or reference),
    plus the selected one, for a <select> that stays small with millions of customers."""
    found = list(matching_customers(query).order_by("name", "id")[:CUSTOMER_CHOICES_LIMIT])
    selected_id = parse_id(selected)
    if selected_id is not None and all(c.pk != selected_id for c in found):
        found = list(Customer.objects.filter(pk=selected_id)) + found
    return [("", "Choose a customer")] + [(str(c.pk), f"{c.name} · {c.email}" if c.email else c.name) for c in found]
