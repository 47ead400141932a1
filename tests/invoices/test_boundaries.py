"""Credit note limits at the limit, one minor unit over and one under, and line rounding (issue 18)."""

import datetime
from decimal import Decimal

import pytest

from allocations.services import allocate
from billing.errors import ExceedsBalance, InvalidInput
from invoices.models import InvoiceLine
from invoices.services import create_invoice, issue_credit_note, issue_invoice
from tests.dbstate import unchanged_database
from tests.factories import TODAY, due_in, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(("amount", "refused"), [("59.99", False), ("60.00", False), ("60.01", True)])
def test_credit_around_what_is_left_to_credit_after_an_earlier_note(customer, provider, amount, refused):
    """Invoice 100.00 credited 40.00: at most 60.00 more, whatever was paid."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    issue_credit_note(invoice, amount="40.00", by=None, reason="Discount")
    allocate(make_payment(customer=customer, amount="30.00"), invoice, "30.00", by=None)
    if refused:
        with unchanged_database(), pytest.raises(ExceedsBalance, match="can be credited at most 60.00 EUR"):
            issue_credit_note(invoice, amount=amount, by=None, reason="More discount")
        return
    issue_credit_note(invoice, amount=amount, by=None, reason="More discount")
    invoice.refresh_from_db()
    assert invoice.credited_total == D("40.00") + D(amount)
    # Paid 30.00 of a net of 0.00 or 0.01: overpaid (a work item, the balance negative), never refused.
    assert invoice.payment_status == "overpaid"
    assert invoice.balance_due == D("60.00") - D(amount) - D("30.00")
    assert_invariants()


@pytest.mark.parametrize(
    ("amount", "status", "balance"),
    [("69.99", "partially_paid", "0.01"), ("70.00", "paid", "0.00"), ("70.01", "overpaid", "-0.01")],
)
def test_a_credit_note_at_the_unpaid_rest_settles_the_invoice_exactly(customer, provider, amount, status, balance):
    """Paid 30.00 of 100.00: a note of exactly the unpaid 70.00 makes it paid; a cent more, overpaid."""
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    allocate(make_payment(customer=customer, amount="30.00"), invoice, "30.00", by=None)
    issue_credit_note(invoice, amount=amount, by=None, reason="Goodwill")
    invoice.refresh_from_db()
    assert (invoice.payment_status, invoice.balance_due) == (status, D(balance))


@pytest.mark.parametrize(
    ("quantity", "unit_price", "currency", "amount"),
    [
        ("0.5", "0.05", "EUR", "0.03"),  # 0.025: half up, not to even (0.02)
        ("0.5", "0.01", "EUR", "0.01"),  # 0.005 rounds up
        ("0.333", "0.01", "EUR", "0.00"),  # 0.00333 rounds down
        ("2.5", "1", "JPY", "3"),  # 2.5 yen: half up, not to even (2)
        ("1.499", "1", "JPY", "1"),
        ("1.5", "-10", "EUR", "-15.00"),  # a discount line
        ("0.125", "0.10", "EUR", "0.01"),  # 0.0125
        ("0.15", "0.10", "EUR", "0.02"),  # 0.015: half up
    ],
)
def test_line_amounts_round_half_up_to_the_minor_unit(customer, provider, quantity, unit_price, currency, amount):
    lines = [("Service", quantity, unit_price)]
    if D(amount) <= 0:
        lines.insert(0, ("Base", "1", "100"))
    invoice = create_invoice(
        customer=customer,
        provider=provider,
        currency=currency,
        lines=lines,
        due_date=due_in(30),
        by=None,
    )
    line = InvoiceLine.objects.get(invoice=invoice, description="Service")
    assert line.amount == D(amount)
    assert invoice.total == sum((row.amount for row in InvoiceLine.objects.filter(invoice=invoice)), D("0"))


def test_a_credit_by_quantity_leaves_no_rounding_behind(customer, provider):
    """A line of 10.01 credited in thirds: 3.34 + 3.34 (3.335 half up), and the last third takes the rest, 3.33."""
    invoice = create_invoice(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Hours", "0.3", "33.35")],
        due_date=due_in(30),
        by=None,
    )
    line = InvoiceLine.objects.get(invoice=invoice)
    assert line.amount == D("10.01")  # 0.3 x 33.35 = 10.005, half up
    issue_invoice(invoice, by=None)
    first = issue_credit_note(invoice, lines={line: "0.1"}, by=None, reason="Returned")
    second = issue_credit_note(invoice, lines={line: "0.1"}, by=None, reason="Returned")
    assert (first.amount, second.amount) == (D("3.34"), D("3.34"))  # 3.335 half up
    last = issue_credit_note(invoice, lines={line: "0.1"}, by=None, reason="Returned")
    assert last.amount == D("3.33")  # the rest of the line, not 3.34 again
    invoice.refresh_from_db()
    assert (invoice.credited_total, invoice.balance_due, invoice.payment_status) == (D("10.01"), D("0.00"), "paid")
    with unchanged_database(), pytest.raises(ExceedsBalance):
        issue_credit_note(invoice, lines={line: "0.001"}, by=None, reason="Returned")


def credited_by_lines(customer, provider, lines, credit):
    """Issue an invoice of `lines`, then credit {description: quantity} by quantity."""
    invoice = create_invoice(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=lines,
        due_date=due_in(30),
        by=None,
    )
    issue_invoice(invoice, by=None)
    by_description = {line.description: line for line in InvoiceLine.objects.filter(invoice=invoice)}
    return issue_credit_note(
        invoice, lines={by_description[d]: q for d, q in credit.items()}, by=None, reason="Returned"
    )


def test_a_part_of_a_line_credited_by_quantity_rounds_half_up(customer, provider):
    note = credited_by_lines(customer, provider, [("Stamps", "2", "0.05")], {"Stamps": "0.5"})
    assert note.amount == D("0.03")  # 0.025: half up, not to even (0.02)


@pytest.mark.parametrize("unit_price", ["0.00", "0.01"])
def test_a_line_at_no_price_or_one_minor_unit_is_credited_by_quantity(customer, provider, unit_price):
    """Only a negative price is a discount (credited by amount); a free sample or a line of one
    cent is credited by quantity like any other."""
    note = credited_by_lines(
        customer,
        provider,
        [("Service", "1", "10.00"), ("Sample", "3", unit_price)],
        {"Service": "1", "Sample": "1"},
    )
    assert note.amount == D("10.00") + D(unit_price)
    assert sorted((line.invoice_line.description, line.quantity, line.amount) for line in note.lines.all()) == [
        ("Sample", D("1"), D(unit_price)),
        ("Service", D("1"), D("10.00")),
    ]


@pytest.mark.parametrize(("quantity", "refused"), [("999999999.999", False), ("1000000000.000", True)])
def test_a_line_quantity_up_to_what_the_column_holds(customer, provider, quantity, refused):
    lines = [("Screws", quantity, "0.01")]
    due = due_in(30)
    if refused:
        with unchanged_database(), pytest.raises(InvalidInput, match="larger than 999999999.999"):
            create_invoice(customer=customer, provider=provider, currency="EUR", lines=lines, due_date=due, by=None)
        return
    invoice = create_invoice(customer=customer, provider=provider, currency="EUR", lines=lines, due_date=due, by=None)
    line = InvoiceLine.objects.get(invoice=invoice)
    assert (line.quantity, line.amount, invoice.total) == (D(quantity), D("10000000.00"), D("10000000.00"))


@pytest.mark.parametrize("length", [300, 301])
def test_a_line_description_is_kept_up_to_300_characters(customer, provider, length):
    description = "Consulting, " + "x" * (length - 12)
    invoice = create_invoice(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[(description, "1", "10.00")],
        due_date=due_in(30),
        by=None,
    )
    assert InvoiceLine.objects.get(invoice=invoice).description == description[:300]
