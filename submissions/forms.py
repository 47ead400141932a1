"""The base of every form that writes: a hidden one-time token and service errors on the right field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from billing.errors import BillingError
from submissions.tokens import InvalidToken, find_submission, issue_token, nonce_of

# Which field a service error belongs next to, when the form has that field.
FIELD_FOR_ERROR_CODE = {
    "invalid_amount": "amount",
    "insufficient_funds": "amount",
    "exceeds_balance": "amount",
    "reason_required": "reason",
}


class SubmitOnceForm(forms.Form):
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "reason" in self.fields:
            # Left optional here so the service's own message shows; marked required for the clerk.
            self.fields["reason"].required_by_service = True
        if not self.is_bound:
            self.initial["form_token"] = issue_token(user)

    @property
    def token(self) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix("form_token"), "")
        return self.initial["form_token"]

    def is_replay(self) -> bool:
        return self.is_bound and find_submission(self.token) is not None

    def clean_form_token(self) -> str:
        token = self.cleaned_data.get("form_token", "")
        try:
            nonce_of(self.user, token)
        except InvalidToken as error:
            # Show the problem at the top and give the re-rendered form a fresh token.
            self.add_error(None, str(error))
            # Bound data is request.POST (a QueryDict) or, in tests, a dict: both copy to a mutable one.
            data = cast("QueryDict | dict[str, Any]", self.data).copy()
            data[self.add_prefix("form_token")] = issue_token(self.user)
            self.data = data
        return token

    def add_billing_error(self, error: BillingError) -> None:
        """Show a service's message next to the field it is about, or at the top."""
        field = FIELD_FOR_ERROR_CODE.get(error.code or "")
        if field not in self.fields:
            field = None
        self.add_error(field, ValidationError(str(error), code=error.code))
