"""Forms of the registrations pages: a cart for a customer, a cancellation. Plain forms: a
registration's status never goes near a model form; the services say what is wrong."""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing.form_fields import AmountField, customer_choices
from billing.models import Customer, Provider
from billing.money import CURRENCY_CHOICES
from registrations.models import Workshop
from submissions.forms import SubmitOnceForm


class WorkshopChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        workshop = cast(Workshop, obj)
        left = "full: wait list" if workshop.seats_left <= 0 else f"{workshop.seats_left} seats left"
        when = timezone.localtime(workshop.starts_at)
        return f"{workshop.title} · {when:%Y-%m-%d %H:%M} · {workshop.price} {workshop.currency} · {left}"


class RegisterCartForm(SubmitOnceForm):
    customer = forms.TypedChoiceField(coerce=int, label="Customer")
    workshops = WorkshopChoice(
        queryset=Workshop.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Workshops in the cart",
        help_text="One order and one invoice for the confirmed seats; a full workshop puts the attendee on its "
        "wait list, charging nothing until a seat comes.",
    )
    attendee = forms.CharField(
        required=False, max_length=200, help_text="Who attends; leave empty for the customer themself."
    )

    def __init__(self, *args, customer_query: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        selected = self.data.get("customer") if self.is_bound else self.initial.get("customer")
        cast(forms.TypedChoiceField, self.fields["customer"]).choices = customer_choices(customer_query, selected)
        # Past workshops are offered too when already chosen (the service says why not), never listed.
        cast(WorkshopChoice, self.fields["workshops"]).queryset = (
            Workshop.objects.filter(starts_at__gt=timezone.now()).select_related("provider").order_by("starts_at", "id")
        )

    def clean_customer(self) -> Customer:
        try:
            return Customer.objects.get(pk=self.cleaned_data["customer"])
        except Customer.DoesNotExist:
            raise ValidationError("Choose a customer.") from None


class CancelRegistrationForm(SubmitOnceForm):
    # Not required here: cancel_registration's own check gives the message (validation through the service).
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)
    credit_anyway = forms.BooleanField(
        required=False,
        label="Credit in full anyway (after the deadline)",
        help_text="A finance decision: say why in the reason.",
    )


class NewWorkshopForm(SubmitOnceForm):
    provider = forms.ModelChoiceField(queryset=Provider.objects.order_by("name", "id"), empty_label="Choose a provider")
    title = forms.CharField(max_length=200)
    starts_at = forms.DateTimeField(
        label="Starts",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    capacity = forms.IntegerField(min_value=1, max_value=100_000, label="Seats")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="EUR")
    price = AmountField(label="Price a seat")  # text: create_workshop parses it in the chosen currency
    cancel_until_days = forms.IntegerField(
        min_value=0,
        max_value=365,
        initial=7,
        label="Full credit up to (days before the start)",
        help_text="A confirmed seat canceled up to this many days before the start's date is credited in full.",
    )
