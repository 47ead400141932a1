"""The form a clerk fills in after chasing an account. Notes are appended, never edited."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from billing.errors import InvalidAmount
from billing.form_fields import AmountField
from billing.models import Account, CollectionNote, CollectionOutcome
from billing.money import parse_positive_amount
from submissions.forms import SubmitOnceForm

# Outcomes that mean nothing without a word of explanation.
NEEDS_TEXT = {CollectionOutcome.DISPUTED: "Say what the customer disputes.", CollectionOutcome.OTHER: "Say what happened."}
TEXT_LIMIT = 2000


class CollectionNoteForm(SubmitOnceForm, forms.ModelForm):
    """Submit-once like every form that writes: Back and re-submit must not save the note twice."""
    # Text, parsed by billing.money in clean_promised_amount: the same grammar and message
    # as every amount form (a DecimalField reads 1e3 and ١٢ as numbers).
    promised_amount = AmountField(required=False, label="Promised amount")

    class Meta:
        model = CollectionNote
        fields = ["outcome", "promised_date", "promised_amount", "text"]
        labels = {
            "outcome": "Outcome",
            "promised_date": "Promised payment date",
            "promised_amount": "Promised amount",
            "text": "Note",
        }
        widgets = {
            "outcome": forms.RadioSelect,
            "promised_date": forms.DateInput(attrs={"type": "date"}),
            "text": forms.Textarea(attrs={"rows": 3, "maxlength": TEXT_LIMIT}),
        }

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["outcome"].choices = CollectionOutcome.choices  # no empty "-----" radio
        self.fields["promised_amount"].help_text = f"In {account.currency}; optional."
        self.fields["promised_date"].help_text = "Optional."

    def clean_promised_date(self):
        promised = self.cleaned_data.get("promised_date")
        if promised and promised < timezone.localdate():
            raise forms.ValidationError("A promised payment date cannot be in the past.")
        return promised

    def clean_promised_amount(self):
        amount = self.cleaned_data.get("promised_amount")
        if amount in (None, ""):
            return None
        try:
            return parse_positive_amount(amount, self.account.currency, field="promised amount")
        except InvalidAmount as error:
            raise forms.ValidationError(error.messages) from None

    def clean_text(self):
        text = (self.cleaned_data.get("text") or "").strip()
        if len(text) > TEXT_LIMIT:
            raise forms.ValidationError(f"A note can have at most {TEXT_LIMIT} characters; this one has {len(text)}.")
        return text

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        promised = cleaned.get("promised_date") or cleaned.get("promised_amount")
        if outcome and promised and outcome != CollectionOutcome.PROMISED:
            self.add_error("outcome", "A promised date or amount needs the outcome “Promised to pay”.")
        if outcome in NEEDS_TEXT and not cleaned.get("text") and "text" not in self.errors:
            self.add_error("text", NEEDS_TEXT[outcome])
        return cleaned

    def save(self, *, by) -> CollectionNote:
        note = super().save(commit=False)
        note.account = self.account
        note.created_by = by
        note.save()
        return note
