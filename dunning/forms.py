"""The form a clerk fills in after chasing an account. Notes are appended, never edited."""

from __future__ import annotations

from typing import cast

from django import forms

from billing.actors import Actor
from billing.errors import InvalidAmount
from billing.form_fields import AmountField
from billing.models import Account
from billing.money import parse_positive_amount
from dunning.models import CollectionNote, CollectionOutcome
from dunning.services import TEXT_LIMIT, add_collection_note, note_problems
from submissions.forms import SubmitOnceForm


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
        # The model field's form field is a TypedChoiceField; no empty "-----" radio.
        cast(forms.TypedChoiceField, self.fields["outcome"]).choices = CollectionOutcome.choices
        self.fields["promised_amount"].help_text = f"In {account.currency}; optional."
        self.fields["promised_date"].help_text = "Optional."

    def clean_promised_amount(self):
        amount = self.cleaned_data.get("promised_amount")
        if amount in (None, ""):
            return None
        try:
            return parse_positive_amount(amount, self.account.currency, field="promised amount")
        except InvalidAmount as error:
            raise forms.ValidationError(error.messages) from None

    def clean_text(self):
        return (self.cleaned_data.get("text") or "").strip()

    def clean(self):
        cleaned = super().clean()
        if "outcome" not in cleaned:
            return cleaned
        problems = note_problems(
            outcome=cleaned["outcome"],
            text=cleaned.get("text") or "",
            promised_date=cleaned.get("promised_date"),
            promised_amount=cleaned.get("promised_amount"),
        )
        for field, message in problems.items():
            if field not in self.errors:
                self.add_error(field, message)
        return cleaned

    def save(self, *, by: Actor) -> CollectionNote:  # type: ignore[override]
        data = self.cleaned_data
        return add_collection_note(
            self.account,
            outcome=data["outcome"],
            text=data.get("text") or "",
            promised_date=data.get("promised_date"),
            promised_amount=data.get("promised_amount"),
            by=by,
        )
