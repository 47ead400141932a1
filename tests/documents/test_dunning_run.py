"""The set-based nightly run (documents.reminder_letters) against the one-letter-at-a-time
path it replaced: the same letters, byte for byte, on a ledger with every kind of account;
a selection gone stale before the lock; chunk boundaries; queries that do not grow with the
letters; two runs at once over many accounts."""

from __future__ import annotations

import datetime
import logging
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from allocations.services import allocate
from billing.errors import BillingError
from billing.models import Account
from documents.models import Document, DocumentKind
from documents.reminder_letters import issue_due_letters
from documents.reminders import due_reminders
from documents.rendering import render_document, sha256_of
from documents.services import issue_reminder, run_dunning
from dunning.services import add_collection_note
from invoices.models import Invoice
from ledger.models import Entry
from tests.documents.conftest import moment, on
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.ledger.test_concurrency import outcomes, run_together

RUN = datetime.date(2026, 11, 10)  # the night of the run
START = RUN - datetime.timedelta(days=70)  # every invoice is issued on this day

FEE_LEVELS = [
    {"level": 1, "days": 7, "title": "Reminder", "text": "Please pay."},
    {"level": 2, "days": 21, "title": "Second reminder", "text": "Pay now.", "fee": {"EUR": "10.00"}},
    {"level": 3, "days": 35, "title": "Final notice", "text": "Last call."},
]


def before(days: int) -> datetime.date:
    return RUN - datetime.timedelta(days=days)


def owe(customer, *, past_due: int, currency: str = "EUR", total: str = "100.00", provider=None) -> Invoice:
    """An open invoice `past_due` days past due on the night of the run."""
    with on(START):
        return make_invoice(
            customer=customer,
            provider=provider or ProviderFactory(),
            total=total,
            currency=currency,
            issue_date=START,
            due_date=before(past_due),
        )


@pytest.fixture
def ledger(settings, customer, clerk) -> dict[str, Account]:
    """Accounts at each level, with letters already had, promises kept and broken, a fee in EUR
    but not GBP, several overdue invoices, a customer without email; by name."""
    settings.SETTLE_DUNNING_LEVELS = FEE_LEVELS
    accounts: dict[str, Account] = {}

    def add(name: str, invoice: Invoice) -> None:
        accounts[name] = invoice.account

    add("level 1", owe(customer, past_due=10))
    add("level 2, fee", owe(customer, past_due=25))
    add("level 2 in GBP, no fee", owe(customer, past_due=25, currency="GBP"))
    add("level 3", owe(customer, past_due=40))
    add("had 1, due 2", owe(customer, past_due=25))
    with on(before(15)):
        issue_reminder(accounts["had 1, due 2"], level=1, by=clerk)
    add("had 2", owe(customer, past_due=25))
    with on(before(2)):
        issue_reminder(accounts["had 2"], level=2, by=clerk)
    add("promised", owe(customer, past_due=25))
    with on(before(1)):
        add_collection_note(accounts["promised"], outcome="promised_to_pay", promised_date=RUN, by=clerk)
    add("promise broken", owe(customer, past_due=25))
    with on(before(10)):
        add_collection_note(accounts["promise broken"], outcome="promised_to_pay", promised_date=before(5), by=clerk)
    oldest = owe(customer, past_due=40, total="80.00")
    owe(customer, past_due=12, total="30.00", provider=oldest.provider)
    add("two overdue, one part paid", oldest)
    with on(before(20)):
        payment = make_payment(customer=customer, amount="50.00", received_at=moment(before(20)))
        allocate(payment, oldest, Decimal("50.00"), by=clerk)
    add("not yet", owe(customer, past_due=5))
    add("no email", owe(CustomerFactory(email=""), past_due=10))
    paid = owe(customer, past_due=25)
    add("paid", paid)
    with on(before(3)):
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(before(3)))
        allocate(payment, paid, Decimal("100.00"), by=clerk)
    return accounts


def fee_invoices() -> list[tuple[int, str]]:
    # A letter's fee is a standard invoice whose line names the letter (documents.reminder_letters).
    fees = Invoice.objects.filter(lines__description__contains=" fee (letter RM-")
    return sorted(fees.values_list("account_id", "number"))


def one_at_a_time(as_of: datetime.date) -> list[Document]:
    """The nightly run as it was before it went set-based: the selection, then issue_reminder per account."""
    issued = []
    for row in due_reminders(as_of):
        try:
            issued.append(issue_reminder(Account.objects.get(pk=row.account_id), level=row.level, as_of=as_of, by=None))
        except BillingError:
            continue
    return issued


def snapshot(documents: list[Document]) -> dict[int, tuple]:
    """What each letter says, by account: the number aside (a sequence: a rolled-back run used its own)."""
    found = {}
    for document in documents:
        document = Document.objects.get(pk=document.pk)
        top = Entry.objects.filter(account_id=document.account_id).order_by("-id").values_list("id", flat=True)[0]
        found[document.account_id] = (
            document.level,
            document.figures,
            document.html.replace(document.number, "RM-?"),
            document.sha256 == sha256_of(document.html),
            document.journal_position == top,  # every entry of the account, its fee's included
        )
    return found


@pytest.mark.django_db
def test_the_set_based_run_writes_the_letters_the_one_at_a_time_path_wrote(ledger):
    with on(RUN):
        with transaction.atomic():
            before_run = snapshot(one_at_a_time(RUN))
            fees_before = fee_invoices()
            transaction.set_rollback(True)
        issued = run_dunning(by=None)
        fees = fee_invoices()
        assert run_dunning(by=None) == []  # the same night again: nothing

    assert snapshot(issued) == before_run
    assert fees == fees_before
    names = {account.pk: name for name, account in ledger.items()}
    assert {names[d.account_id]: d.level for d in issued} == {
        "level 1": 1,
        "level 2, fee": 2,
        "level 2 in GBP, no fee": 2,
        "level 3": 3,
        "had 1, due 2": 2,
        "promise broken": 2,
        "two overdue, one part paid": 3,
        "no email": 1,
    }
    assert {names[account_id] for account_id, _ in fees} == {"level 2, fee", "had 1, due 2", "had 2", "promise broken"}
    by_name = {names[d.account_id]: Document.objects.get(pk=d.pk) for d in issued}
    fee_letter = by_name["level 2, fee"].figures
    assert (fee_letter["fee"]["amount"], fee_letter["overdue_total"], fee_letter["amount_due"]) == (
        "10.00",
        "100.00",
        "110.00",
    )
    assert fee_letter["balance_due"] == "110.00"  # the fee is owed on the account too
    assert by_name["level 2 in GBP, no fee"].figures["fee"] is None
    two = by_name["two overdue, one part paid"].figures
    assert [(i["balance_due"], i["days_past_due"]) for i in two["overdue"]] == [("30.00", 40), ("30.00", 12)]
    assert two["amount_due"] == "60.00"
    for document in by_name.values():
        assert render_document(document) == document.html  # reproducible from its figures


@pytest.mark.django_db
def test_issue_reminder_stores_the_bytes_the_nightly_run_would(ledger):
    account = ledger["level 3"]
    with on(RUN):
        with transaction.atomic():
            (nightly,) = issue_due_letters(
                [row for row in due_reminders(RUN) if row.account_id == account.pk], as_of=RUN, by=None
            )
            nightly_html = nightly.html.replace(nightly.number, "RM-?")
            transaction.set_rollback(True)
        clerk = issue_reminder(account, level=3, by=None)
    assert clerk.html.replace(clerk.number, "RM-?") == nightly_html


@pytest.mark.django_db
def test_an_account_that_changed_between_the_selection_and_its_lock_is_skipped_and_logged(
    ledger, customer, clerk, caplog
):
    with on(RUN):
        stale = due_reminders(RUN)
        names = {account.pk: name for name, account in ledger.items()}
        assert {"level 1", "level 3", "promise broken"} <= {names[row.account_id] for row in stale}
        # After the selection: level 1's invoice is paid, a promise holds level 3, a clerk sends the broken promise's letter.
        invoice = Invoice.objects.get(account=ledger["level 1"])
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(RUN))
        allocate(payment, invoice, Decimal("100.00"), by=clerk)
        add_collection_note(
            ledger["level 3"], outcome="promised_to_pay", promised_date=RUN + datetime.timedelta(days=3), by=clerk
        )
        issue_reminder(ledger["promise broken"], level=2, by=clerk)
        with caplog.at_level(logging.INFO, logger="documents.reminder_letters"):
            issued = issue_due_letters(stale, as_of=RUN, by=None)
    written = {names[d.account_id] for d in issued}
    assert written == {names[row.account_id] for row in stale} - {"level 1", "level 3", "promise broken"}
    skipped = [r.getMessage() for r in caplog.records if "No reminder for account" in r.getMessage()]
    assert len(skipped) == 3 and all("no longer due under its lock" in message for message in skipped)
    assert not Document.objects.filter(account=ledger["level 1"]).exists()


def many_overdue(n: int, *, past_due: int = 10) -> list[Account]:
    return [owe(CustomerFactory(), past_due=past_due).account for _ in range(n)]


@pytest.mark.django_db
def test_chunk_boundaries_lose_and_repeat_nothing(settings):
    settings.SETTLE_DUNNING_CHUNK = 2
    accounts = many_overdue(5)
    with on(RUN):
        issued = run_dunning(by=None)
        assert run_dunning(by=None) == []
    assert sorted(d.account_id for d in issued) == sorted(a.pk for a in accounts)
    assert len({d.number for d in issued}) == 5
    assert Document.objects.filter(kind=DocumentKind.REMINDER).count() == 5


@pytest.mark.django_db
def test_a_chunk_costs_the_same_statements_for_three_letters_or_thirty(settings):
    def statements(n: int) -> int:
        with transaction.atomic():
            many_overdue(n)
            with on(RUN), CaptureQueriesContext(connection) as captured:
                issued = run_dunning(by=None)
            assert len(issued) == n
            transaction.set_rollback(True)
        return len(captured)

    assert statements(3) == statements(30) <= 15


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_over_many_chunks_issue_each_letter_once(settings):
    settings.SETTLE_DUNNING_CHUNK = 3
    accounts = many_overdue(10)
    with on(RUN):
        results = run_together([lambda: run_dunning(by=None)] * 2)
    assert outcomes(results) == ["ok", "ok"], results
    assert sorted(len(issued) for _, issued in results) == [0, 10]
    letters = Document.objects.filter(kind=DocumentKind.REMINDER)
    assert sorted(letters.values_list("account_id", flat=True)) == sorted(a.pk for a in accounts)


@pytest.mark.django_db(transaction=True)
def test_a_clerks_button_during_the_run_and_the_run_send_the_level_once(settings):
    # Fees on: each side issues a fee invoice under the provider's lock as well as the account's.
    settings.SETTLE_DUNNING_LEVELS = FEE_LEVELS
    settings.SETTLE_DUNNING_CHUNK = 2
    provider = ProviderFactory()
    accounts = [owe(CustomerFactory(), past_due=25, provider=provider).account for _ in range(6)]
    contested = accounts[3]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    refused: list[BaseException] = []

    def nightly() -> None:
        try:
            barrier.wait()
            run_dunning(by=None)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    def clerk() -> None:
        try:
            barrier.wait()
            issue_reminder(contested, level=2, by=None)
        except BillingError as error:  # the run was first: "already had level 2"
            refused.append(error)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    with on(RUN):
        threads = [threading.Thread(target=nightly), threading.Thread(target=clerk)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    letters = Document.objects.filter(kind=DocumentKind.REMINDER)
    assert sorted(letters.values_list("account_id", flat=True)) == sorted(a.pk for a in accounts)  # one each
    assert letters.filter(account=contested).get().level == 2
    assert fee_invoices() and len(fee_invoices()) == 6  # one fee per letter, none for a refused one
    assert len(refused) <= 1


@pytest.mark.django_db(transaction=True)
def test_workers_issue_the_letters_one_process_issues(settings):
    """Two processes, each a run of consecutive chunks (documents.workers), issue what one
    process issues: the same letters, levels and bytes, each account once, its mail queued."""
    from io import StringIO

    from django.core.management import call_command
    from procrastinate.contrib.django.models import ProcrastinateJob

    settings.SETTLE_DUNNING_CHUNK = 2
    settings.SETTLE_DUNNING_WORKERS_FROM = 0
    accounts = many_overdue(7) + many_overdue(3, past_due=40)
    with transaction.atomic():  # inside a transaction the run stays in this process
        expected = snapshot(run_dunning(as_of=RUN, workers=2, by=None))
        transaction.set_rollback(True)
    assert not Document.objects.exists()
    jobs_before = set(ProcrastinateJob.objects.values_list("id", flat=True))

    out = StringIO()
    call_command("run_dunning", "--as-of", RUN.isoformat(), "--workers", "2", stdout=out)

    letters = list(Document.objects.filter(kind=DocumentKind.REMINDER))
    assert snapshot(letters) == expected
    assert sorted(expected) == sorted(account.pk for account in accounts)
    assert sorted(level for level, *_ in expected.values()) == [1] * 7 + [3] * 3
    assert "10 letters as of 2026-11-10 (Reminder: 7, Final notice: 3); 10 by email, 0 for print" in out.getvalue()
    mailed = ProcrastinateJob.objects.filter(task_name="documents.send_letters").exclude(id__in=jobs_before)
    assert sorted(pk for job in mailed for pk in job.args["document_ids"]) == sorted(d.pk for d in letters)
    with pytest.raises(Exception, match="--workers must be 1 or more"):
        call_command("run_dunning", "--workers", "0")


@pytest.mark.django_db
def test_a_fee_the_ledger_refuses_skips_its_own_letter_and_the_others_get_theirs(settings, caplog, monkeypatch):
    """The chunk's fees go together; when the ledger refuses one, they go one at a time and only
    the refused one's letter is left out (logged), its fee and number gone with it."""
    from documents import reminder_letters

    settings.SETTLE_DUNNING_LEVELS = FEE_LEVELS
    accounts = many_overdue(3, past_due=25)  # level 2: a fee of 10.00 EUR each
    refused = accounts[1]
    fee = reminder_letters._fee

    def a_bad_line_for_one(letter, number, **kwargs):
        arguments = fee(letter, number, **kwargs)
        if letter.account.pk == refused.pk:
            arguments["lines"] = [("", 1, "10.00")]  # no description: create_invoice refuses it
        return arguments

    monkeypatch.setattr(reminder_letters, "_fee", a_bad_line_for_one)
    with on(RUN), caplog.at_level(logging.INFO, logger="documents.reminder_letters"):
        issued = run_dunning(by=None)

    assert sorted(d.account_id for d in issued) == sorted(a.pk for a in accounts if a.pk != refused.pk)
    assert [account_id for account_id, _ in fee_invoices()] == sorted(a.pk for a in accounts if a.pk != refused.pk)
    assert Account.objects.get(pk=refused.pk).balance_due == Decimal("100.00")  # no fee owed
    skipped = [r.getMessage() for r in caplog.records if "No reminder for account" in r.getMessage()]
    assert skipped == [f"No reminder for account {refused.pk}: Line 1 needs a description."]
