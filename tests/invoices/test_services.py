"""Invoice services: create, issue (numbering), void, credit; every bad input leaves the database unchanged."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from allocations.services import allocate
from billing.errors import BillingError, ExceedsBalance, InvalidAmount, InvalidInput, InvalidState
from billing.models import Account
from invoices.models import Invoice
from invoices.services import create_invoice, issue_credit_note, issue_invoice, void_invoice
from tests.dbstate import unchanged_database
from tests.factories import TODAY, due_in, make_invoice, make_payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal
DUE = due_in(30)


def draft(customer, provider, *, lines=(("Window cleaning", "1", "100.00"),), currency="EUR", **kwargs):
    kwargs.setdefault("due_date", DUE)
    return create_invoice(customer=customer, provider=provider, currency=currency, lines=lines, by=None, **kwargs)


# create_invoice


def test_create_invoice_makes_a_draft_without_number(customer, provider, clerk):
    invoice = create_invoice(
        customer=customer,
        provider=provider,
        currency="EUR",
        lines=[("Window cleaning", "2", "45.50"), ("Ladder fee", "1.5", "0.99")],
        due_date=DUE,
        by=clerk,
    )
    assert (invoice.state, invoice.number, invoice.sequence, invoice.issue_date) == ("draft", None, None, None)
    # 1.5 x 0.99 = 1.485 is booked as 1.49 (half up), and the total is the sum of the booked lines.
    assert [line.amount for line in invoice.lines.all()] == [D("91.00"), D("1.49")]
    assert (invoice.total, invoice.balance_due, invoice.payment_status) == (D("92.49"), D("92.49"), "unpaid")
    assert invoice.created_by == clerk
    # A draft is not owed yet: the account exists but carries nothing.
    account = Account.objects.get(customer=customer, provider=provider, currency="EUR")
    assert (account.balance_due, account.open_invoice_count) == (D("0.00"), 0)
    assert_invariants()


def test_create_invoice_in_yen(customer, provider):
    invoice = draft(customer, provider, currency="JPY", lines=[("Tatami", "3", "1500")])
    assert invoice.total == D("4500")


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        ([], InvalidInput, "An invoice needs at least one line"),
        ([("", "1", "10.00")], InvalidInput, "Line 1 needs a description"),
        (
            [("Work", "1", "10.00"), ("Parts", "1")],
            InvalidInput,
            r"Line 2 must be \(description, quantity, unit price\)",
        ),
        (  # a fourth item is the order line billed (orders.services); a fifth is a mistake
            [("Work", "1", "10.00", None, "10%")],
            InvalidInput,
            r"Line 1 must be \(description, quantity, unit price\)",
        ),
        ([("Work", "0", "10.00")], InvalidInput, "Line 1: the quantity must be greater than zero"),
        ([("Work", "-1", "10.00")], InvalidInput, "Line 1: the quantity must be greater than zero"),
        ([("Work", "1.0001", "10.00")], InvalidInput, "Line 1: the quantity allows at most 3 decimals"),
        ([("Work", 1.5, "10.00")], InvalidInput, "Line 1: the quantity must be an exact decimal, not float"),
        ([("Work", "lots", "10.00")], InvalidInput, "Line 1: the quantity 'lots' is not a number"),
        (
            [("Work", "1", "10.005")],
            InvalidAmount,
            r"unit price of line 1 10.005 EUR has more decimals than EUR allows \(2\)",
        ),
        ([("Work", "1", 10.0)], InvalidAmount, "unit price of line 1 must be an exact decimal, not float"),
        ([("Work", "1", "10.00"), ("Discount", "1", "-20.00")], InvalidInput, "total would be -10.00 EUR"),
    ],
)
def test_create_invoice_refuses_bad_lines(customer, provider, lines, error, message):
    with unchanged_database(), pytest.raises(error, match=message):
        draft(customer, provider, lines=lines)


def test_create_invoice_refuses_fractional_yen(customer, provider):
    with unchanged_database(), pytest.raises(InvalidAmount, match=r"10.5 JPY has more decimals than JPY allows \(0\)"):
        draft(customer, provider, currency="JPY", lines=[("Tatami", "1", "10.5")])


def test_create_invoice_refuses_unknown_currency(customer, provider):
    with unchanged_database(), pytest.raises(InvalidAmount, match="Currency 'XYZ' is not supported"):
        draft(customer, provider, currency="XYZ")


def test_create_invoice_refuses_due_date_before_issue_date(customer, provider):
    with (
        unchanged_database(),
        pytest.raises(InvalidInput, match="due date 2026-11-01 is before the issue date 2026-11-22"),
    ):
        draft(customer, provider, issue_date=TODAY, due_date=datetime.date(2026, 11, 1))


def test_create_invoice_needs_a_due_date(customer, provider):
    with unchanged_database(), pytest.raises(InvalidInput, match="needs a due date"):
        draft(customer, provider, due_date=None)


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        (
            [("Sand", "1000000000", "1.00")],
            InvalidInput,
            "Line 1: the quantity 1000000000 is larger than 999999999.999",
        ),
        ([("Sand", "1000000", "999999999.00")], InvalidAmount, "Line 1 comes to 999999999000000.00 EUR, more than"),
        (
            [("Work", "1", "999999999999.99"), ("Parts", "1", "1.00")],
            InvalidAmount,
            r"total would be 1,000,000,000,000.99 EUR, more than the largest amount Settle can book",
        ),
    ],
)
def test_create_invoice_refuses_amounts_a_money_column_cannot_hold(customer, provider, lines, error, message):
    # Regression: these used to fail at the database with a DataError (numeric field overflow).
    with unchanged_database(), pytest.raises(error, match=message):
        draft(customer, provider, lines=lines)


# issue_invoice: numbering


def test_issue_numbers_are_sequential_per_provider(customer, provider, other_provider, clerk):
    acme = [draft(customer, provider) for _ in range(3)]
    bolt = [draft(customer, other_provider) for _ in range(2)]
    # Issue in an interleaved, non-creation order: numbers follow issue order, per provider.
    for invoice in [acme[2], bolt[1], acme[0], bolt[0], acme[1]]:
        issue_invoice(invoice, by=clerk)
    assert [i.number for i in acme] == ["ACME-000002", "ACME-000003", "ACME-000001"]
    assert [i.sequence for i in acme] == [2, 3, 1]
    assert [i.number for i in bolt] == ["BOLT-000002", "BOLT-000001"]
    provider.refresh_from_db()
    assert provider.last_invoice_number == 3
    assert all(i.state == "open" and i.issue_date == timezone.localdate() for i in acme + bolt)
    assert_invariants()


def test_drafts_have_no_number_until_issued(customer, provider):
    issued = issue_invoice(draft(customer, provider), by=None)
    still_draft = draft(customer, provider)
    voided_draft = void_invoice(draft(customer, provider), by=None, reason="Never sent")
    next_one = issue_invoice(draft(customer, provider), by=None)
    still_draft.refresh_from_db()
    assert (issued.number, still_draft.number, voided_draft.number) == ("ACME-000001", None, None)
    # Discarding a draft does not burn a number: no gaps.
    assert next_one.number == "ACME-000002"
    assert Invoice.objects.filter(number__isnull=True).count() == 2


def test_issue_keeps_a_given_issue_date_and_opens_the_account(customer, provider, clerk):
    invoice = issue_invoice(draft(customer, provider, issue_date=TODAY, due_date=DUE), by=clerk)
    assert invoice.issue_date == TODAY
    account = invoice.account
    account.refresh_from_db()
    assert (account.balance_due, account.open_invoice_count, account.oldest_due_date) == (D("100.00"), 1, DUE)
    history = list(invoice.status_changes.values_list("field", "old", "new", "created_by"))
    assert history == [("state", "draft", "open", clerk.pk)]


def test_issue_twice_is_refused(customer, provider):
    invoice = issue_invoice(draft(customer, provider), by=None)
    with (
        unchanged_database(),
        pytest.raises(InvalidState, match="Invoice ACME-000001 is Open; only a draft can be issued"),
    ):
        issue_invoice(invoice, by=None)


def test_issue_a_void_draft_is_refused(customer, provider):
    invoice = void_invoice(draft(customer, provider), by=None, reason="Duplicate")
    with unchanged_database(), pytest.raises(InvalidState, match="is Void; only a draft can be issued"):
        issue_invoice(invoice, by=None)


def test_issue_today_with_a_past_due_date_is_refused_without_burning_a_number(customer, provider):
    invoice = draft(customer, provider, due_date=timezone.localdate() - datetime.timedelta(days=1))
    with unchanged_database(), pytest.raises(InvalidInput, match="is before the issue date"):
        issue_invoice(invoice, by=None)
    provider.refresh_from_db()
    assert provider.last_invoice_number == 0


# void_invoice


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_void_needs_a_reason(customer, provider, reason):
    invoice = make_invoice(customer=customer, provider=provider)
    with unchanged_database(), pytest.raises(InvalidInput, match="Give a reason to void invoice ACME-000001"):
        void_invoice(invoice, by=None, reason=reason)


def test_void_twice_is_refused(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider)
    void_invoice(invoice, by=clerk, reason="Wrong customer")
    with unchanged_database(), pytest.raises(InvalidState, match="Invoice ACME-000001 is already void"):
        void_invoice(invoice, by=clerk, reason="Again")
    assert invoice.void_reason == "Wrong customer"


def test_void_leaves_every_work_queue_and_keeps_its_history(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="80.00")
    payment = make_payment(customer=customer, amount="50.00")
    allocate(payment, invoice, "50.00", by=clerk)
    void_invoice(invoice, by=clerk, reason="Cancelled order")
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.state, invoice.paid_total, invoice.balance_due, invoice.payment_status) == (
        "void",
        D("0.00"),
        D("0.00"),  # a void invoice owes nothing (DESIGN.md section 3)
        "unpaid",
    )
    assert invoice.voided_at is not None
    assert (payment.allocation_status, payment.unallocated) == ("unallocated", D("50.00"))
    invoice.account.refresh_from_db()
    assert (invoice.account.balance_due, invoice.account.open_invoice_count) == (D("0.00"), 0)
    assert_invariants()


# issue_credit_note


def test_credit_note_reduces_what_is_due(customer, provider, clerk):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    note = issue_credit_note(invoice, amount="30.00", by=clerk, reason="Goodwill")
    assert (note.amount, note.created_by, note.reason) == (D("30.00"), clerk, "Goodwill")
    assert (invoice.credited_total, invoice.balance_due, invoice.payment_status) == (D("30.00"), D("70.00"), "unpaid")
    issue_credit_note(invoice, amount="70.00", by=clerk, reason="Service not delivered")
    # Nothing left to ask for: paid, out of the collections queue.
    assert (invoice.balance_due, invoice.payment_status) == (D("0.00"), "paid")
    invoice.account.refresh_from_db()
    assert invoice.account.open_invoice_count == 0
    assert_invariants()


def test_credit_more_than_total_is_refused(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    with (
        unchanged_database(),
        pytest.raises(
            ExceedsBalance, match="Invoice ACME-000001 can be credited at most 100.00 EUR; you asked for 100.01 EUR"
        ),
    ):
        issue_credit_note(invoice, amount="100.01", by=None, reason="Too much")


def test_credit_more_than_what_is_left_to_credit_is_refused(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    issue_credit_note(invoice, amount="60.00", by=None, reason="First")
    with (
        unchanged_database(),
        pytest.raises(ExceedsBalance, match="can be credited at most 40.00 EUR; you asked for 50.00 EUR"),
    ):
        issue_credit_note(invoice, amount="50.00", by=None, reason="Second")


@pytest.mark.parametrize(
    ("amount", "error", "message"),
    [
        ("0", InvalidAmount, "must be greater than zero"),
        ("-5.00", InvalidAmount, "must be greater than zero"),
        ("10.005", InvalidAmount, r"more decimals than EUR allows \(2\)"),
        (10.0, InvalidAmount, "must be an exact decimal"),
    ],
)
def test_credit_bad_amounts_are_refused(customer, provider, amount, error, message):
    invoice = make_invoice(customer=customer, provider=provider)
    with unchanged_database(), pytest.raises(error, match=message):
        issue_credit_note(invoice, amount=amount, by=None, reason="Goodwill")


def test_credit_fractional_yen_is_refused(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="1000", currency="JPY")
    with unchanged_database(), pytest.raises(InvalidAmount, match=r"10.5 JPY has more decimals than JPY allows"):
        issue_credit_note(invoice, amount="10.5", by=None, reason="Goodwill")


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_credit_needs_a_reason(customer, provider, reason):
    invoice = make_invoice(customer=customer, provider=provider)
    with unchanged_database(), pytest.raises(InvalidInput, match="Give a reason to credit invoice"):
        issue_credit_note(invoice, amount="10.00", by=None, reason=reason)


def test_credit_a_draft_or_void_invoice_is_refused(customer, provider):
    a_draft = make_invoice(customer=customer, provider=provider, issue=False)
    with unchanged_database(), pytest.raises(InvalidState, match="is Draft; only an open invoice can be credited"):
        issue_credit_note(a_draft, amount="10.00", by=None, reason="Goodwill")
    voided = void_invoice(make_invoice(customer=customer, provider=provider), by=None, reason="Duplicate")
    with unchanged_database(), pytest.raises(InvalidState, match="is Void; only an open invoice can be credited"):
        issue_credit_note(voided, amount="10.00", by=None, reason="Goodwill")


def test_credit_after_full_payment_makes_the_invoice_overpaid(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    allocate(make_payment(customer=customer, amount="100.00"), invoice, "100.00", by=None)
    issue_credit_note(invoice, amount="25.00", by=None, reason="Late delivery")
    assert (invoice.payment_status, invoice.balance_due) == ("overpaid", D("-25.00"))
    assert_invariants()


def test_every_invoice_error_is_a_billing_error():
    for error in (ExceedsBalance, InvalidAmount, InvalidInput, InvalidState):
        assert issubclass(error, BillingError)
