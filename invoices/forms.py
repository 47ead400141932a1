"""Forms of the invoice actions. Plain forms: status fields never go near a model form."""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.exceptions import ValidationError

from billing.form_fields import AmountField, customer_choices, parse_amount_field
from billing.models import Customer, Provider
from billing.money import CURRENCY_CHOICES
from submissions.forms import SubmitOnceForm

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})


class IssueForm(SubmitOnceForm):
    """Draft to open: a button and its one-time token."""


class VoidForm(SubmitOnceForm):
    # Not required here: void_invoice's own check gives the message (validation through the service).
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)


class CreditNoteForm(SubmitOnceForm):
    amount = AmountField(label="Amount")
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)

    def __init__(self, *args, invoice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = invoice.currency


class LineForm(forms.Form):
    description = forms.CharField(required=False, max_length=300)
    quantity = forms.CharField(
        required=False,
        max_length=20,
        initial="1",
        widget=forms.TextInput(attrs={"class": "amount qty", "inputmode": "decimal"}),
    )
    unit_price = AmountField(required=False, label="Unit price")

    def __init__(self, *args, currency: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def has_content(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return bool(data.get("description") or data.get("unit_price"))

    def clean(self):
        data = super().clean()
        if not self.has_content():
            return data
        if not data.get("description"):
            self.add_error("description", "Describe what is invoiced.")
        raw_price = data.get("unit_price")
        if raw_price in (None, ""):
            self.add_error("unit_price", "Give the unit price.")
        elif self.currency:
            try:
                data["unit_price"] = parse_amount_field(raw_price, self.currency, "unit price")
            except ValidationError as error:
                self.add_error("unit_price", error)
        return data


LineFormSet = forms.formset_factory(LineForm, extra=3, max_num=200)


class CustomerLinesForm(SubmitOnceForm):
    """A new document for a customer from a provider, in a currency, with lines (description,
    quantity, unit price): the new invoice's and the new order's forms."""

    customer = forms.TypedChoiceField(coerce=int, label="Customer")
    provider = forms.ModelChoiceField(queryset=Provider.objects.order_by("name", "id"), empty_label="Choose a provider")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="EUR")

    def __init__(self, *args, customer_query: str = "", line_initial: list[dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        selected = self.data.get("customer") if self.is_bound else self.initial.get("customer")
        cast(forms.TypedChoiceField, self.fields["customer"]).choices = customer_choices(customer_query, selected)
        currency = self.data.get("currency") if self.is_bound else None
        if currency not in dict(CURRENCY_CHOICES):
            currency = None
        if self.is_bound:
            self.lines = LineFormSet(self.data, prefix="lines", form_kwargs={"currency": currency})
        else:
            line_formset = (
                LineFormSet if line_initial is None else forms.formset_factory(LineForm, extra=0, max_num=200)
            )
            self.lines = line_formset(initial=line_initial, prefix="lines")

    def clean_customer(self) -> Customer:
        try:
            return Customer.objects.get(pk=self.cleaned_data["customer"])
        except Customer.DoesNotExist:
            raise ValidationError("Choose a customer.") from None

    def clean(self):
        data = super().clean()
        if not self.lines.is_valid():
            raise ValidationError("Some lines need attention; see below.")
        data["lines"] = [
            (line.cleaned_data["description"], line.cleaned_data["quantity"] or "1", line.cleaned_data["unit_price"])
            for line in self.lines
            if line.has_content()
        ]
        return data  # the service refuses a document without lines, with its own message

    @classmethod
    def with_one_more_line(cls, data, *, user):
        """Without JavaScript, 'Add a line' shows the form again, as typed, with one more empty line.

        The copy is unbound (rendered from initial values), so no error shows for what is not submitted yet.
        """
        posted = cls(data, user=user)
        lines = [
            {name: line.data.get(line.add_prefix(name), "") for name in ("description", "quantity", "unit_price")}
            for line in posted.lines.forms
        ]
        initial = {name: data.get(name, "") for name in cls.base_fields if name not in SubmitOnceForm.base_fields}
        return cls(user=user, initial=initial, line_initial=lines + [{"quantity": "1"}])


class NewInvoiceForm(CustomerLinesForm):
    issue_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty to use the day it is issued.",
    )
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
