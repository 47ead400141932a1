"""Forms of the payment actions. Plain forms: status fields never go near a model form."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from allocations.rules import PlannedSplit
from billing.errors import InvalidAmount
from billing.form_fields import AmountField, customer_choices, parse_amount_field
from billing.models import Customer
from billing.money import CURRENCY_CHOICES, format_money, parse_amount
from billing.validation import parse_id
from invoices.models import Invoice
from payments.models import Payment, PaymentMethod
from submissions.forms import SubmitOnceForm

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})


class RecordPaymentForm(SubmitOnceForm):
    customer = forms.TypedChoiceField(coerce=int, label="Customer")
    amount = AmountField(label="Amount")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="EUR")
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
    reference = forms.CharField(
        required=False,
        max_length=100,
        help_text="The bank's or processor's reference: recording it twice finds the same payment.",
    )
    received_on = forms.DateField(label="Received on", widget=forms.DateInput(attrs={"type": "date"}))
    pending = forms.BooleanField(required=False, label="Awaiting the bank's confirmation (pending)")

    def __init__(self, *args, customer_query: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("received_on", timezone.localdate())
        selected = self.data.get("customer") if self.is_bound else self.initial.get("customer")
        cast(forms.TypedChoiceField, self.fields["customer"]).choices = customer_choices(customer_query, selected)

    def clean_customer(self) -> Customer:
        try:
            return Customer.objects.get(pk=self.cleaned_data["customer"])
        except Customer.DoesNotExist:
            raise ValidationError("Choose a customer.") from None

    def clean(self):
        data = super().clean()
        if data.get("amount") is not None and data.get("currency"):
            try:
                data["amount"] = parse_amount_field(data["amount"], data["currency"], "amount")
            except ValidationError as error:
                self.add_error("amount", error)
        received_on = data.get("received_on")
        if received_on is not None:
            if received_on > timezone.localdate():
                self.add_error("received_on", "The money cannot arrive in the future.")
            else:
                # Midnight of that day: recording the same bank line again gives the same data (idempotent).
                data["received_at"] = timezone.make_aware(datetime.datetime.combine(received_on, datetime.time()))
        return data


@dataclass(frozen=True)
class SplitRow:
    invoice: Invoice
    field_name: str
    planned: PlannedSplit[Invoice] | None
    field: forms.BoundField


def split_field_name(invoice_id: int) -> str:
    return f"amount_{invoice_id}"


def posted_invoice_ids(data) -> list[int]:
    """Invoices the POST put money on, even if they left the open list since the form was shown."""
    ids = []
    for key, value in data.items():
        if key.startswith("amount_") and (pk := parse_id(key[7:])) is not None and str(value).strip():
            ids.append(pk)
    return ids


@dataclass
class InvoiceGroup:
    """The split form's invoices of one order (or of no order: `order` None), in the form's order."""

    order: Any
    rows: list[SplitRow]

    @property
    def balance_due(self) -> Decimal:
        return sum((row.invoice.balance_due for row in self.rows), Decimal("0.00"))


class AllocateForm(SubmitOnceForm):
    """One amount per open invoice of the customer, prefilled with the automatic rule's plan."""

    note = forms.CharField(required=False, max_length=200, label="Note (optional)")

    def __init__(
        self,
        *args,
        payment: Payment,
        invoices: list[Invoice],
        plan: list[PlannedSplit[Invoice]],
        prefill: bool = True,
        planned_in_all: int | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.prefilled = prefill
        # How many splits the rule planned in all: more than `plan` when the view capped it.
        self.planned_in_all = len(plan) if planned_in_all is None else planned_in_all
        planned = {split.invoice.pk: split for split in plan}
        self.rows: list[SplitRow] = []
        for invoice in invoices:
            name = split_field_name(invoice.pk)
            split = planned.get(invoice.pk)
            self.fields[name] = AmountField(
                required=False,
                currency=payment.currency,
                label=f"Amount for {invoice}",
                initial=split.amount if split and prefill else None,
            )
            self.rows.append(SplitRow(invoice, name, split, self[name]))

    def clean(self):
        data = super().clean()
        # Blank or zero means "not this invoice"; anything else, even negative, goes to
        # allocate_many, which says what is wrong with it.
        data["splits"] = [
            (row.invoice, data[row.field_name])
            for row in self.rows
            if data.get(row.field_name) not in (None, Decimal("0"))
        ]
        return data

    @property
    def planned_shown(self) -> int:
        """How many of the rule's splits the form shows (and prefills)."""
        return sum(1 for row in self.rows if row.planned)

    @property
    def grouped(self) -> bool:
        """Some invoice bills an order: the form shows the invoices grouped by order."""
        return any(row.invoice.order_id for row in self.rows)

    def groups(self) -> list[InvoiceGroup]:
        """The rows grouped by the order their invoice bills, groups in the order of their first
        (oldest due) invoice; invoices of no order make a group of their own."""
        groups: dict[int | None, InvoiceGroup] = {}
        for row in self.rows:
            key = row.invoice.order_id
            if key not in groups:
                groups[key] = InvoiceGroup(row.invoice.order if key else None, [])
            groups[key].rows.append(row)
        return list(groups.values())

    def entered_total(self) -> Decimal:
        """Sum of the amounts that parse, for the remaining counter (even while others are invalid)."""
        total = Decimal("0.00")
        for row in self.rows:
            raw = self[row.field_name].value()
            if raw in (None, ""):
                continue
            try:
                total += parse_amount(raw, self.payment.currency)
            except InvalidAmount:
                continue
        return total

    def remaining(self) -> Decimal:
        return self.payment.unallocated - self.entered_total()

    def bad_inputs(self) -> list[str]:
        """Invoices whose amount does not parse: the counter says it ignored them."""
        bad = []
        for row in self.rows:
            raw = self[row.field_name].value()
            if raw in (None, ""):
                continue
            try:
                parse_amount(raw, self.payment.currency)
            except InvalidAmount:
                bad.append(str(row.invoice))
        return bad


class DeallocateForm(SubmitOnceForm):
    invoice = forms.TypedChoiceField(coerce=int, label="Invoice")
    amount = AmountField(required=False, label="Amount", help_text="Leave empty to take back all of it.")
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)

    def __init__(self, *args, payment: Payment, nets: list[tuple[Invoice, Decimal]], **kwargs):
        super().__init__(*args, **kwargs)
        cast(AmountField, self.fields["amount"]).currency = payment.currency
        self.invoices = {invoice.pk: invoice for invoice, _ in nets}
        cast(forms.TypedChoiceField, self.fields["invoice"]).choices = [
            (invoice.pk, f"{invoice} · {format_money(net, payment.currency)} allocated") for invoice, net in nets
        ]

    def clean_invoice(self) -> Invoice:
        return self.invoices[self.cleaned_data["invoice"]]


class AmountReasonForm(SubmitOnceForm):
    """Refund and chargeback: an amount, a reason, and the confirmation step's flag."""

    amount = AmountField(label="Amount")
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        cast(AmountField, self.fields["amount"]).currency = payment.currency


class CancelForm(SubmitOnceForm):
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)


class SettleForm(SubmitOnceForm):
    """Pending to settled: a button and its one-time token."""


class CorrectForm(SubmitOnceForm):
    """Correct a payment: the amount and value date as they should have been, and why.

    Both start as the payment has them; the confirmation step posts them back (confirmed)."""

    amount = AmountField(label="Amount")
    received_on = forms.DateField(label="Value date (received on)", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        cast(AmountField, self.fields["amount"]).currency = payment.currency
        if not self.is_bound:
            self.initial.setdefault("amount", payment.amount)
            self.initial.setdefault("received_on", timezone.localdate(payment.received_at))

    def clean(self):
        data = super().clean()
        received_on = data.get("received_on")
        if received_on is not None:
            if received_on > timezone.localdate():
                self.add_error("received_on", "The money cannot arrive in the future.")
            else:
                data["received_at"] = timezone.make_aware(datetime.datetime.combine(received_on, datetime.time()))
        return data
