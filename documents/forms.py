"""The forms that issue and send documents: submit-once, like every form that writes."""

from __future__ import annotations

from django import forms

from billing.models import Account, Customer, Provider
from billing.money import CURRENCY_CHOICES
from submissions.forms import SubmitOnceForm


class StatementForm(SubmitOnceForm):
    """Issue a statement; posted by the "Statement" button of an account page (documents_tags)."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.all(), widget=forms.HiddenInput)
    provider = forms.ModelChoiceField(queryset=Provider.objects.all(), required=False, widget=forms.HiddenInput)
    currency = forms.ChoiceField(choices=[("", "All"), *CURRENCY_CHOICES], required=False, widget=forms.HiddenInput)
    period_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    as_of = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ReminderForm(SubmitOnceForm):
    """Issue the dunning letter an account is due now; posted by the customer page's "Reminder" buttons."""

    account = forms.ModelChoiceField(queryset=Account.objects.all(), widget=forms.HiddenInput)


class SendForm(SubmitOnceForm):
    to = forms.EmailField(label="Send to", max_length=254)


class MakePdfForm(SubmitOnceForm):
    """No fields: the POST that makes the PDF (a GET never writes)."""
