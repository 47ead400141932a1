"""Every kind of amount form refuses what is not an amount, with the message of billing.money
(issue 8, money input): the field with a known currency, the record form whose currency is
another field, the invoice line, the split rows, the promised amount and the list filters."""

from decimal import Decimal

import pytest

from billing.models import Account
from dunning.filters import AccountFilter
from dunning.forms import CollectionNoteForm
from invoices.filters import InvoiceFilter
from invoices.forms import CreditNoteForm, NewInvoiceForm
from payments.filters import PaymentFilter
from payments.forms import AllocateForm, AmountReasonForm, RecordPaymentForm
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db

REFUSED = ["1e3", "١٢", "１２３", "1_000", "+5", "NaN", "1 000", "1e999999999"]


def _amount_errors(form, field="amount") -> str:
    assert not form.is_valid()
    return " ".join(form.errors.get(field, []))


@pytest.mark.parametrize("value", REFUSED)
def test_credit_note_form_refuses(value, customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    form = CreditNoteForm({"amount": value, "reason": "r"}, user=clerk, invoice=invoice)
    assert "is not a number" in _amount_errors(form)


@pytest.mark.parametrize("value", REFUSED)
def test_refund_and_chargeback_form_refuses(value, customer, clerk):
    payment = make_payment(customer=customer, amount="100.00")
    form = AmountReasonForm({"amount": value, "reason": "r"}, user=clerk, payment=payment)
    assert "is not a number" in _amount_errors(form)


@pytest.mark.parametrize("value", REFUSED)
def test_record_payment_form_refuses(value, customer, clerk):
    data = {
        "customer": str(customer.pk),
        "amount": value,
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2026-01-02",
    }
    assert "is not a number" in _amount_errors(RecordPaymentForm(data, user=clerk))


def test_record_payment_form_reads_grouped_thousands(customer, clerk):
    data = {
        "customer": str(customer.pk),
        "amount": "1,000.50",
        "currency": "EUR",
        "method": "bank_transfer",
        "received_on": "2026-01-02",
    }
    form = RecordPaymentForm(data, user=clerk)
    form.is_valid()
    assert "amount" not in form.errors
    assert form.cleaned_data["amount"] == Decimal("1000.50")


@pytest.mark.parametrize("value", REFUSED)
def test_invoice_line_refuses(value, customer, provider, clerk):
    data = {
        "customer": str(customer.pk),
        "provider": str(provider.pk),
        "currency": "EUR",
        "due_date": "2026-02-01",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-description": "Cleaning",
        "lines-0-quantity": "1",
        "lines-0-unit_price": value,
    }
    form = NewInvoiceForm(data, user=clerk)
    assert not form.is_valid()
    assert "is not a number" in " ".join(form.lines.forms[0].errors["unit_price"])


@pytest.mark.parametrize("value", REFUSED)
def test_allocate_split_row_refuses(value, customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = make_payment(customer=customer, amount="100.00")
    form = AllocateForm({f"amount_{invoice.pk}": value}, user=clerk, payment=payment, invoices=[invoice], plan=[])
    assert "is not a number" in _amount_errors(form, f"amount_{invoice.pk}")
    assert form.remaining() == Decimal("100.00")  # the counter ignores what does not parse


@pytest.mark.parametrize("value", [*REFUSED, "-5"])
def test_promised_amount_refuses(value, customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    account = Account.objects.get(pk=invoice.account_id)
    form = CollectionNoteForm(
        {"outcome": "promised", "promised_amount": value, "text": ""}, account=account, user=clerk
    )
    errors = _amount_errors(form, "promised_amount")
    assert ("must be greater than zero" if value == "-5" else "is not a number") in errors


@pytest.mark.parametrize(
    ("filterset", "field"),
    [(InvoiceFilter, "total_min"), (PaymentFilter, "amount_max"), (AccountFilter, "min_balance")],
)
@pytest.mark.parametrize("value", ["1e-999999999", "1e999999", "NaN", "١٢"])
def test_list_amount_filters_refuse(filterset, field, value):
    filters = filterset({field: value}, queryset=filterset._meta.model.objects.all())
    assert not filters.is_valid()
    assert "is not a number" in " ".join(filters.errors[field])


def test_a_refused_comma_says_how_to_write_the_amount(customer, clerk):
    payment = make_payment(customer=customer, amount="100.00")
    form = AmountReasonForm({"amount": "1.000,50", "reason": "r"}, user=clerk, payment=payment)
    assert "Write decimals with a point: 1234.50, or 1,234.50" in _amount_errors(form)
