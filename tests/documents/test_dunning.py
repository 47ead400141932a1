"""Dunning letters: the worked example of issue 11 (three runs across 40 days: three letters,
then none after payment; a promise to pay holding a reminder), fees, the reset rule, two runs
at once, and the start-up check of SETTLE_DUNNING_LEVELS."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import connection

from allocations.services import allocate
from billing.errors import InvalidState
from documents.models import Delivery, Document, DocumentKind
from documents.reminders import due_reminders
from documents.services import issue_reminder, render_document, run_dunning, sha256_of
from dunning.selectors import promises_due
from dunning.services import add_collection_note
from invoices.models import Invoice
from tests.documents.conftest import moment, on, send_queued_letters
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.ledger.test_concurrency import outcomes, run_together

DUE = datetime.date(2026, 10, 1)


def day(n: int) -> datetime.date:
    """n days past the worked example's due date."""
    return DUE + datetime.timedelta(days=n)


@pytest.fixture
def outbox(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def overdue(customer, provider):
    """Invoice of 100.00 issued 2026-09-01, due 2026-10-01."""
    with on(datetime.date(2026, 9, 1)):
        return make_invoice(
            customer=customer, provider=provider, total="100.00", issue_date=datetime.date(2026, 9, 1), due_date=DUE
        )


def run(n: int, clerk=None, send: bool = False) -> list[Document]:
    """The night of day n; `send`: and a worker sends the mail it queued."""
    with on(day(n)):
        issued = run_dunning(by=clerk)
        if send:
            send_queued_letters()
        return issued


def levels() -> list[int]:
    return list(Document.objects.filter(kind=DocumentKind.REMINDER).order_by("id").values_list("level", flat=True))


@pytest.mark.django_db
def test_three_runs_across_forty_days_send_three_letters_then_none_after_payment(customer, overdue, clerk, outbox):
    first = run(8, clerk, send=True)
    assert [d.level for d in first] == [1]
    assert run(15, clerk) == []  # level 1 had, level 2 not yet due
    assert [d.level for d in run(22, clerk, send=True)] == [2]
    (final,) = run(36, clerk, send=True)
    assert final.level == 3 and final.figures["title"] == "Final notice"
    assert run(36, clerk) == []  # the same day again: nothing
    assert levels() == [1, 2, 3]

    figures = final.figures
    assert figures["overdue"] == [
        {
            "number": overdue.number,
            "issue_date": "2026-09-01",
            "due_date": "2026-10-01",
            "days_past_due": 36,
            "total": "100.00",
            "balance_due": "100.00",
        }
    ]
    assert (figures["overdue_total"], figures["amount_due"], figures["fee"]) == ("100.00", "100.00", None)
    assert final.number.startswith("RM-") and final.account == overdue.account
    assert render_document(final) == final.html and sha256_of(final.html) == final.sha256  # reproducible

    # Each letter went by email once, to the customer.
    assert [m.to for m in outbox] == [[customer.email]] * 3
    assert Delivery.objects.filter(result="ok").count() == 3

    with on(day(37)):
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(day(37)))
        allocate(payment, overdue, Decimal("100.00"), by=clerk)
    assert run(40, clerk) == [] and run(60, clerk) == []
    assert levels() == [1, 2, 3]


@pytest.mark.django_db
def test_a_promise_to_pay_holds_the_reminder_until_its_date(customer, overdue, clerk):
    assert [d.level for d in run(8)] == [1]
    with on(day(10)):
        note = add_collection_note(
            overdue.account,
            outcome="promised_to_pay",
            promised_date=day(25),
            promised_amount=Decimal("100.00"),
            by=clerk,
        )
        assert list(promises_due(today=day(10))) == []
    assert run(22) == []  # level 2 due, held by the promise
    assert run(25) == []  # the promised day itself: still held
    with on(day(26)):
        assert [n.pk for n in promises_due(today=day(26))] == [note.pk]  # a broken promise
    assert [d.level for d in run(26)] == [2]


@pytest.mark.django_db
def test_a_kept_promise_leaves_the_promises_due(customer, overdue, clerk):
    with on(day(3)):
        add_collection_note(overdue.account, outcome="promised_to_pay", promised_date=day(5), by=clerk)
    with on(day(5)):
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(day(5)))
        allocate(payment, overdue, Decimal("100.00"), by=clerk)
    assert list(promises_due(today=day(9))) == []
    assert run(9) == []


@pytest.mark.django_db
def test_a_level_with_a_fee_issues_a_fee_invoice_with_the_letter(settings, customer, overdue, clerk):
    settings.SETTLE_DUNNING_LEVELS = [
        {"level": 1, "days": 7, "title": "Reminder", "text": "Please pay."},
        {
            "level": 2,
            "days": 21,
            "title": "Second reminder",
            "text": "Pay now.",
            "fee": {"EUR": "10.00", "GBP": "8.50"},
        },
    ]
    run(8)
    assert Invoice.objects.filter(customer=customer).count() == 1  # level 1: no fee
    (letter,) = run(22)
    fee = Invoice.objects.filter(customer=customer).exclude(pk=overdue.pk).get()
    assert (fee.total, fee.state, fee.issue_date, fee.due_date) == (Decimal("10.00"), "open", day(22), day(36))
    assert fee.account == overdue.account
    assert letter.figures["fee"] == {"number": fee.number, "amount": "10.00", "due_date": "2026-11-06"}
    assert (letter.figures["overdue_total"], letter.figures["amount_due"]) == ("100.00", "110.00")
    assert letter.figures["balance_due"] == "110.00"
    assert fee.lines.get().description == f"Second reminder fee (letter {letter.number})"


@pytest.mark.django_db
def test_a_long_overdue_account_gets_the_highest_level_alone(customer, overdue):
    assert [d.level for d in run(40)] == [3]
    assert run(41) == []


@pytest.mark.django_db
def test_paying_the_oldest_invoice_restarts_the_levels_but_a_partial_payment_does_not(
    customer, provider, overdue, clerk
):
    with on(datetime.date(2026, 9, 20)):
        later = make_invoice(
            customer=customer, provider=provider, total="50.00", issue_date=datetime.date(2026, 9, 20), due_date=day(20)
        )
    assert [d.level for d in run(8)] == [1]
    with on(day(9)):
        payment = make_payment(customer=customer, amount="40.00", received_at=moment(day(9)))
        allocate(payment, overdue, Decimal("40.00"), by=clerk)  # partial: the oldest is still open
    assert [d.level for d in run(22)] == [2]
    with on(day(23)):
        payment = make_payment(customer=customer, amount="60.00", received_at=moment(day(23)))
        allocate(payment, overdue, Decimal("60.00"), by=clerk)  # the oldest is paid: its cycle ends
    # The later invoice fell due on day 20, before the level-2 letter that listed it: that letter counts.
    assert [d.figures["overdue"][-1]["number"] for d in Document.objects.filter(level=2)] == [later.number]
    assert run(30) == []  # 10 days past due of the later invoice: level 1, had (level 2 on day 22)
    assert [d.level for d in run(55)] == [3]  # 35 days past its due date


@pytest.mark.django_db
def test_a_new_debt_after_payment_starts_again_at_level_one(customer, provider, overdue, clerk):
    run(8)
    with on(day(9)):
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(day(9)))
        allocate(payment, overdue, Decimal("100.00"), by=clerk)
    with on(day(10)):
        make_invoice(customer=customer, provider=provider, total="30.00", issue_date=day(10), due_date=day(20))
    assert run(26) == []  # 6 days past due
    assert [d.level for d in run(27)] == [1]


@pytest.mark.django_db
def test_a_customer_without_email_gets_a_letter_for_print(provider, outbox):
    customer = CustomerFactory(email="")
    with on(datetime.date(2026, 9, 1)):
        make_invoice(customer=customer, provider=provider, issue_date=datetime.date(2026, 9, 1), due_date=DUE)
    (letter,) = run(8, send=True)
    assert not letter.deliveries.exists() and outbox == []


@pytest.mark.django_db
def test_issue_reminder_refuses_a_level_already_had_and_an_account_not_overdue(customer, provider, overdue, clerk):
    with on(day(8)):
        issue_reminder(overdue.account, level=2, by=clerk)
        with pytest.raises(InvalidState, match="already had level 2"):
            issue_reminder(overdue.account, level=1, by=clerk)
        other = make_invoice(customer=customer, provider=ProviderFactory(), issue_date=day(1), due_date=day(20))
        with pytest.raises(InvalidState, match="nothing overdue"):
            issue_reminder(other.account, level=1, by=clerk)


@pytest.mark.django_db
def test_the_selection_reads_each_accounts_level_in_one_query(customer, overdue, django_assert_num_queries):
    with django_assert_num_queries(1):
        (row,) = due_reminders(day(22))
    assert (row.account_id, row.days_past_due, row.level, row.last_level) == (overdue.account_id, 22, 2, 0)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_issue_each_letter_once(customer, overdue):
    # The clock is set once, around both threads: a patch per thread would restore in the wrong order.
    with on(day(8)):
        results = run_together([lambda: run_dunning(by=None)] * 2)
    assert outcomes(results) == ["ok", "ok"], results
    assert sorted(len(issued) for _, issued in results) == [0, 1]
    assert levels() == [1]


@pytest.mark.parametrize(
    ("levels_setting", "message"),
    [
        ([], "non-empty list"),
        ([{"level": 2, "days": 7, "title": "Reminder"}], "must be level 1"),
        ([{"level": 1, "days": 21, "title": "A"}, {"level": 2, "days": 7, "title": "B"}], "must come later"),
        ([{"level": 1, "days": 0, "title": "A"}], "at least 1"),
        ([{"level": 1, "days": 7, "title": ""}], "needs a title"),
        ([{"level": 1, "days": 7, "title": "A", "fee": {"EUR": "-5"}}], "greater than zero"),
        ([{"level": 1, "days": 7, "title": "A", "fee": {"XXX": "5.00"}}], "not a currency"),
        ([{"level": 1, "days": 7, "title": "A", "fees": {}}], "unknown keys: fees"),
    ],
)
def test_a_bad_level_list_stops_the_application_at_start(settings, levels_setting, message):
    settings.SETTLE_DUNNING_LEVELS = levels_setting
    with pytest.raises(SystemCheckError, match=f"settle.E002.*{message}"):
        call_command("check")


def test_the_default_levels_pass_the_check():
    call_command("check")


@pytest.mark.django_db
def test_the_command_lists_the_letters_due_then_sends_them(customer, overdue):
    out = StringIO()
    with on(day(22)):
        call_command("run_dunning", "--dry-run", stdout=out)
        assert "22 days past due, level 2 (Second reminder), had none" in out.getvalue()
        assert "1 letters due as of 2026-10-23" in out.getvalue()
        assert not Document.objects.exists()
        call_command("run_dunning", "--as-of", "2026-10-09", stdout=out)  # a missed night, caught up
        call_command("run_dunning", stdout=out)
        assert "1 letters as of 2026-10-23 (Second reminder: 1); 1 by email, 0 for print" in out.getvalue()
        with pytest.raises(CommandError, match="after today"):
            call_command("run_dunning", "--as-of", "2026-10-24")
    assert levels() == [1, 2]


@pytest.mark.django_db
def test_a_reminder_shows_on_the_document_pages(as_support):
    customer = CustomerFactory()
    with on(datetime.date(2026, 9, 1)):
        invoice = make_invoice(customer=customer, issue_date=datetime.date(2026, 9, 1), due_date=DUE)
    (letter,) = [d for d in run(22) if d.customer == customer]
    page = as_support.get(letter.get_absolute_url())
    assert page.status_code == 200 and letter.number in page.content.decode()
    listing = as_support.get("/documents/?kind=reminder")
    assert listing.status_code == 200 and letter.number in listing.content.decode()
    assert "Second reminder" in letter.html and invoice.number in letter.html
