"""Forms of the plan pages. Plain forms: a plan's state never goes near a model form.

Amounts, rates and whole numbers travel as the text typed where the service parses them
(plans.services.parse_rule says what is wrong with a rate or a cap), so a form only turns
blank fields into "not given".
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from billing.form_fields import AmountField, customer_choices
from billing.models import Customer, Provider
from billing.money import CURRENCY_CHOICES
from plans.models import PenaltyFrequency, PenaltyKind
from submissions.forms import SubmitOnceForm

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


def _decimal_input() -> forms.TextInput:
    return forms.TextInput(attrs={"class": "amount", "inputmode": "decimal", "autocomplete": "off"})


class PenaltyRuleFields(SubmitOnceForm):
    """The penalty rule's fields (DESIGN.md section 7): `rule` in cleaned_data, or None when no kind is chosen."""

    kind = forms.ChoiceField(choices=[("", "No penalty"), *PenaltyKind.choices], required=False, label="Penalty")
    rate = forms.CharField(
        required=False,
        max_length=12,
        label="Rate (% of the overdue balance)",
        widget=_decimal_input(),
        help_text="For a percent penalty, e.g. 2 for 2% a period.",
    )
    amount = AmountField(required=False, label="Fixed amount", help_text="For a fixed penalty.")
    grace_days = forms.IntegerField(min_value=0, max_value=3650, initial=0, required=False, label="Grace days")
    frequency = forms.ChoiceField(choices=PenaltyFrequency.choices, initial=PenaltyFrequency.MONTHLY, label="Charged")
    cap = AmountField(
        required=False,
        label="Cap per installment",
        help_text="Optional: the most all penalties of one installment may come to.",
    )

    rule_required = False

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            if self.rule_required and not self.errors:
                self.add_error("kind", "Choose percent or fixed.")
            data["rule"] = None
            return data
        rule: dict[str, Any] = {
            "kind": kind,
            "grace_days": data.get("grace_days") or 0,
            "frequency": data.get("frequency") or PenaltyFrequency.MONTHLY,
        }
        rate = (data.get("rate") or "").strip()
        if kind == PenaltyKind.PERCENT:
            if not rate:
                self.add_error("rate", "Give the rate of a percent penalty, e.g. 2.")
            rule["rate"] = rate
        elif not data.get("amount"):
            self.add_error("amount", "Give the amount of a fixed penalty.")
        else:
            rule["amount"] = data["amount"]
        if data.get("cap"):
            rule["cap"] = data["cap"]
        data["rule"] = rule
        return data


class NewPlanForm(PenaltyRuleFields):
    customer = forms.TypedChoiceField(coerce=int, label="Customer")
    provider = forms.ModelChoiceField(queryset=Provider.objects.order_by("name", "id"), empty_label="Choose a provider")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="EUR")
    principal = forms.CharField(max_length=24, label="Principal", widget=_decimal_input())
    installments = forms.IntegerField(min_value=1, max_value=600, label="Installments", initial=12)
    first_due_date = forms.DateField(label="First due date", widget=_date_input())
    every_months = forms.IntegerField(min_value=1, max_value=120, initial=1, label="Every N months")
    issue_date = forms.DateField(
        required=False, widget=_date_input(), help_text="Leave empty for today; earlier to take over a running loan."
    )
    description = forms.CharField(required=False, max_length=300)

    field_order = [
        "customer",
        "provider",
        "currency",
        "principal",
        "installments",
        "first_due_date",
        "every_months",
        "issue_date",
        "description",
    ]

    def __init__(self, *args, customer_query: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        selected = self.data.get("customer") if self.is_bound else self.initial.get("customer")
        cast(forms.TypedChoiceField, self.fields["customer"]).choices = customer_choices(customer_query, selected)

    def clean_customer(self) -> Customer:
        try:
            return Customer.objects.get(pk=self.cleaned_data["customer"])
        except Customer.DoesNotExist:
            raise ValidationError("Choose a customer.") from None

    def clean_principal(self) -> str:
        return self.cleaned_data["principal"].strip()  # create_plan parses it in the plan's currency


class ChangeRuleForm(PenaltyRuleFields):
    effective_from = forms.DateField(label="Takes effect on", widget=_date_input())
    field_order = ["effective_from"]
    rule_required = True

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("amount", "cap"):
            cast(AmountField, self.fields[name]).currency = currency
        kind = cast(forms.ChoiceField, self.fields["kind"])
        kind.choices = PenaltyKind.choices
        kind.required = True


class WaivePenaltyForm(SubmitOnceForm):
    amount = AmountField(
        required=False, label="Amount to waive", help_text="Leave empty to waive all that is left of this penalty."
    )
    # Not required here: waive_penalty's own check gives the message (validation through the service).
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        cast(AmountField, self.fields["amount"]).currency = currency


class WaiveFutureForm(SubmitOnceForm):
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)


class NoticeForm(SubmitOnceForm):
    """No fields: the POST that issues an installment's notice as of today."""


class AssessForm(SubmitOnceForm):
    """No fields: the POST that assesses this plan's penalties now."""
