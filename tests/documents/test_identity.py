"""What documents take as "the same": each compared field changed alone is NOT the same (issue 18).

A reminder level is "already had" when a reminder of the same account is dated after the account's
oldest due date (documents.reminders.levels_had for the clerk's button, the selection's SQL for the
night); a letter is "already sent" when that document has a delivery (documents.mailing.send_letters);
a PDF is "already made" when that document has one (render_pdf); a stored body is what its kind's
template prints for its number and figures (render_document, sha256). Each test changes one of those
fields alone and shows the two are told apart; the clerk's button and the nightly run alike.

Not tested alone: the kind of a reminder. Both comparisons count the levels of reminders only, but
no service writes a level on another kind (statements and notices have none), so a document of
another kind with a level cannot be made to differ in the kind alone.
"""

from __future__ import annotations

import copy
import datetime
from decimal import Decimal

import pytest
from django.core import mail

from allocations.services import allocate
from billing.errors import InvalidState
from documents.models import Delivery, Document
from documents.services import (
    issue_reminder,
    issue_statement,
    render_document,
    render_pdf,
    run_dunning,
    send_document,
    sha256_of,
)
from tests.documents.conftest import moment, on, send_queued_letters
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db

DUE = datetime.date(2026, 10, 1)
SEPT_1 = datetime.date(2026, 9, 1)


def day(n: int) -> datetime.date:
    return DUE + datetime.timedelta(days=n)


def owed(customer, provider, *, total: str = "100.00", due: int = 0, currency: str = "EUR"):
    with on(SEPT_1):
        return make_invoice(
            customer=customer, provider=provider, total=total, currency=currency, issue_date=SEPT_1, due_date=day(due)
        )


def level_one_goes_out(account, n: int, path: str) -> bool:
    """Whether level 1 is sent for `account` on day n: by the clerk's button, or by the nightly run."""
    with on(day(n)):
        if path == "button":
            try:
                return issue_reminder(account, level=1, by=None).level == 1
            except InvalidState as refused:
                assert "already had level 1" in str(refused)
                return False
        return [(d.account_id, d.level) for d in run_dunning(by=None)] == [(account.pk, 1)]


@pytest.fixture
def outbox(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    mail.outbox = []
    return mail.outbox


# A level had in this cycle: a reminder of the same account, dated after its oldest due date.


@pytest.mark.parametrize(
    ("letter_day", "counts"),
    [(10, False), (11, True)],
    ids=["dated-on-the-new-oldest-due-date", "dated-a-day-after-it"],
)
@pytest.mark.parametrize("path", ["button", "night"])
def test_a_reminder_is_in_the_cycle_only_when_dated_after_the_oldest_due_date(
    customer, provider, path, letter_day, counts
):
    """Invoice X fell due on day 0, Y on day 10. A level-1 letter goes on day 10 or 11, then X is
    paid: the cycle now starts at Y's due date, day 10. A letter of day 10 was before Y was late
    (not in the cycle: level 1 again when Y is 7 days late); a letter of day 11 listed Y (in it)."""
    x = owed(customer, provider, due=0)
    owed(customer, provider, total="50.00", due=10)
    with on(day(letter_day)):
        issue_reminder(x.account, level=1, by=None)
    with on(day(12)):
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(day(12)))
        allocate(payment, x, Decimal("100.00"), by=None)
    x.account.refresh_from_db()
    assert x.account.oldest_due_date == day(10)
    assert level_one_goes_out(x.account, 17, path) is not counts


@pytest.mark.parametrize("other", ["provider", "currency"])
@pytest.mark.parametrize("path", ["button", "night"])
def test_a_reminder_of_another_account_of_the_customer_is_not_a_level_had(
    customer, provider, other_provider, path, other
):
    first = owed(customer, provider)
    second = (
        owed(customer, other_provider) if other == "provider" else owed(customer, provider, currency="USD")
    )  # the same days late, another account
    assert first.account_id != second.account_id
    with on(day(8)):
        issue_reminder(first.account, level=1, by=None)
    assert level_one_goes_out(second.account, 8, path)
    assert level_one_goes_out(first.account, 8, path) is False


# A letter sent: that document has a delivery.


def test_the_mail_job_sends_the_letters_without_a_delivery_and_not_one_the_clerk_sent(
    customer, provider, other_provider, outbox, django_capture_on_commit_callbacks
):
    owed(customer, provider)
    owed(customer, other_provider)
    with on(day(8)):
        sent_by_hand, waiting = run_dunning(by=None)  # two letters to the same customer and address
        with django_capture_on_commit_callbacks(execute=True):
            send_document(sent_by_hand, by=None)
        assert send_queued_letters() == 1
    assert [m.subject for m in outbox] == [f"Reminder {sent_by_hand.number}", f"Reminder {waiting.number}"]
    assert sorted(Delivery.objects.values_list("document_id", flat=True)) == sorted([sent_by_hand.pk, waiting.pk])


# The stored bytes: the PDF of that document; the body of that number and those figures.


def test_the_same_statement_issued_twice_is_two_documents_with_their_own_bytes_and_pdf(customer, provider):
    owed(customer, provider)
    with on(day(1)):
        first = issue_statement(customer, as_of=day(1), by=None)
        second = issue_statement(customer, as_of=day(1), by=None)
    assert first.figures == second.figures and first.number != second.number
    assert first.sha256 != second.sha256 and second.number in second.html and second.number not in first.html
    pdf = render_pdf(first)
    assert Document.objects.get(pk=second.pk).pdf is None  # the first one's PDF is not the second's
    assert render_pdf(second) != pdf
    assert render_pdf(Document.objects.get(pk=first.pk)) == pdf


@pytest.mark.parametrize("field", ["number", "a figure"])
def test_a_body_differs_when_its_number_or_one_figure_alone_differs(customer, provider, field):
    owed(customer, provider)
    with on(day(1)):
        stored = issue_statement(customer, as_of=day(1), by=None)
    assert render_document(stored) == stored.html and sha256_of(stored.html) == stored.sha256
    changed = copy.deepcopy(stored)
    if field == "number":
        changed.number = stored.number[:-1] + str((int(stored.number[-1]) + 1) % 10)
    else:
        section = changed.figures["sections"][0]
        section["closing"] = str(Decimal(section["closing"]) + Decimal("0.01"))
    assert sha256_of(render_document(changed)) != stored.sha256
