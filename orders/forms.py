"""Forms of the order actions. Plain forms: statuses never go near a model form.

Quantities travel as the text typed; the services parse them (exact decimals, at most three
places) and say what is wrong, so a form only leaves out the lines left blank or at zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from billing.form_fields import AmountField
from invoices.forms import CustomerLinesForm
from invoices.models import CreditReason
from orders.models import InvoicingPolicy, OrderLine, OrderLineKind
from orders.selectors import CreditableLine
from submissions.forms import SubmitOnceForm

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})


def quantity_field(label: str, initial: Decimal | None = None) -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=20,
        label=label,
        initial=show_quantity(initial) if initial else "",
        widget=forms.TextInput(attrs={"class": "amount qty", "inputmode": "decimal", "autocomplete": "off"}),
    )


def show_quantity(quantity: Decimal | None) -> str:
    """10.000 -> '10': what a clerk would type."""
    return "" if quantity is None else f"{quantity.normalize():f}"


def _is_blank(value: str) -> bool:
    text = (value or "").strip()
    if not text:
        return True
    try:
        return Decimal(text) == 0
    except (InvalidOperation, ValueError):
        return False  # the service says what is wrong with it


@dataclass(frozen=True)
class QuantityRow:
    """A line of the form: the order or invoice line, its quantity input, and how much is left to act on."""

    line: Any
    field: forms.BoundField
    left: Decimal


class LineQuantitiesForm(SubmitOnceForm):
    """One quantity per line; blank or zero leaves the line out. `quantities` is {line: text}.

    `left(line)` is what the action may still take of the line (shown beside the input, and
    the input's value when `prefill`); the service is what enforces it.
    """

    def __init__(
        self,
        *args,
        lines: Sequence,
        left: Callable[[Any], Decimal],
        verb: str,
        prefill: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.rows: list[QuantityRow] = []
        for line in lines:
            name = f"quantity_{line.pk}"
            remaining = left(line)
            self.fields[name] = quantity_field(
                f"Quantity to {verb} of line {line.position}", remaining if prefill else None
            )
            self.rows.append(QuantityRow(line, self[name], remaining))

    def clean(self):
        data = super().clean()
        data["quantities"] = {
            row.line: data[row.field.name].strip()
            for row in self.rows
            if row.field.name in data and not _is_blank(data[row.field.name])
        }
        return data


class DeliveryForm(LineQuantitiesForm):
    def clean(self):
        data = super().clean()
        if not data["quantities"] and not self.errors:
            raise ValidationError("Type the quantity delivered on at least one line.")
        return data


class InvoiceOrderForm(LineQuantitiesForm):
    due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for the usual payment terms (14 days).",
    )
    apply_credit = forms.BooleanField(
        required=False,
        label="Apply the customer's unallocated payments in this currency (deposits), oldest first",
    )

    def clean(self):
        data = super().clean()
        # "Invoice everything that may be invoiced" sends None: the service takes every invoiceable quantity.
        if "everything" in self.data:
            data["quantities"] = None
        elif not data["quantities"] and not self.errors:
            raise ValidationError("Type a quantity on at least one line, or invoice everything that may be invoiced.")
        return data


class AddLineForm(SubmitOnceForm):
    kind = forms.ChoiceField(choices=OrderLineKind.choices, initial=OrderLineKind.FEE)
    description = forms.CharField(max_length=300)
    quantity = forms.CharField(
        max_length=20, initial="1", widget=forms.TextInput(attrs={"class": "amount qty", "inputmode": "decimal"})
    )
    unit_price = AmountField(label="Unit price")

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        cast(AmountField, self.fields["unit_price"]).currency = currency


class CancelLinesForm(LineQuantitiesForm):
    # Not required here: cancel_order_lines' own check gives the message (validation through the service).
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)

    def clean(self):
        data = super().clean()
        if not data["quantities"] and not self.errors:
            raise ValidationError("Type the quantity to cancel on at least one line.")
        return data


class CreditLinesForm(LineQuantitiesForm):
    reason_code = forms.ChoiceField(choices=CreditReason.choices, initial=CreditReason.RETURN, label="Kind of credit")
    reopen_quantity = forms.BooleanField(
        required=False,
        label="Give the quantity back to the order (the goods are shipped again and may be invoiced again)",
        help_text=(
            "Leave it unticked for a return or a price concession: the customer owes less and the order line "
            "stays invoiced, so the same quantity can never be billed twice."
        ),
    )
    reason = forms.CharField(required=False, widget=REASON_WIDGET, max_length=1000)

    def __init__(self, *args, creditable: Sequence[CreditableLine], **kwargs):
        left = {row.line.pk: row.left for row in creditable}
        super().__init__(
            *args,
            lines=[row.line for row in creditable if row.left > 0],
            left=lambda line: left[line.pk],
            verb="credit",
            **kwargs,
        )

    def clean(self):
        data = super().clean()
        if not data["quantities"] and not self.errors:
            raise ValidationError("Type the quantity to credit on at least one line.")
        return data


class NewOrderForm(CustomerLinesForm):
    invoicing = forms.ChoiceField(
        choices=InvoicingPolicy.choices,
        initial=InvoicingPolicy.ORDERED,
        label="Invoicing policy",
        help_text="As ordered: everything may be invoiced at once. As delivered: only what was recorded as delivered.",
    )


def left_to_deliver(line: OrderLine) -> Decimal:
    return line.quantity - line.canceled_quantity - line.delivered_quantity


def left_to_cancel(line: OrderLine) -> Decimal:
    """What cancel_order_lines accepts: neither invoiced nor delivered."""
    return line.quantity - line.canceled_quantity - max(line.invoiced_quantity, line.delivered_quantity)
