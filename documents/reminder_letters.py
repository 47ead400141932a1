"""Dunning letters written many at a time: the clerk's button and the nightly run share it.

`write_letters` turns locked accounts, each with its level and overdue invoices, into stored
reminder documents: the numbers in one `nextval` over generate_series, the fee invoices of the
letters whose level has a fee in the account's currency, the journal positions in one query,
each letter rendered through the one template (loaded once), and every document inserted in
one statement. `issue_reminder` (documents.services) calls it with one letter; the nightly run
calls `issue_due_letters` per chunk of the selection.

The chunk's fees are issued together (invoices.services.issue_new_invoices: the providers'
numbers, the refresh and the journal entries, set-based) in a savepoint. If the ledger refuses
one, that savepoint is undone and the fees go one at a time (create_invoice + issue_invoice),
each in a savepoint of its own, so a refused fee skips its own letter and not the chunk.

A chunk is one transaction: its accounts are locked in id order (accounts come first in the
lock order, DESIGN.md §1), then the selection is asked again for them under the locks, since
a payment, a promise or a clerk's letter may have come between the nightly selection and the
lock; an account no longer due is skipped and logged. The chunk's letters to customers with
an email address are handed to the task queue in the same transaction, one job per chunk
(documents.tasks): building and sending a message costs more than writing the letter, so
the run does not wait for it; a worker sends them over one mailer connection.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.actors import Actor
from billing.errors import BillingError
from billing.models import Account
from documents.levels import DunningLevel, dunning_levels
from documents.models import Document, DocumentKind
from documents.reminders import (
    DueReminder,
    OverdueInvoice,
    due_reminders,
    journal_positions_of,
    overdue_invoices_of,
    reminder_figures,
)
from documents.rendering import next_numbers, render_figures, sha256_of, template_of
from invoices.models import Invoice
from invoices.services import NewInvoice, create_invoice, issue_invoice, issue_new_invoices
from ledger.bulk import insert_many

logger = logging.getLogger(__name__)

#: A reminder's fee invoice falls due this many days after the letter.
FEE_DUE_DAYS = 14


@dataclass(frozen=True)
class Letter:
    account: Account  # locked, with its customer and provider
    level: DunningLevel
    overdue: list[OverdueInvoice]  # read under the account's lock: what the letter prints


def lock_accounts(account_ids: Sequence[int]) -> dict[int, Account]:
    """Lock the accounts in id order (only their rows: customers and providers stay free)."""
    accounts = Account.objects.select_for_update(of=("self",)).select_related("customer", "provider")
    return {account.pk: account for account in accounts.filter(pk__in=list(account_ids)).order_by("pk")}


def _fee(letter: Letter, number: str, *, as_of: datetime.date, fee: Decimal) -> NewInvoice:
    """The fee invoice of a letter, as create_invoice's arguments."""
    account = letter.account
    return NewInvoice(
        customer=account.customer,
        provider=account.provider,
        currency=account.currency,
        lines=[(f"{letter.level.title} fee (letter {number})", 1, fee)],
        due_date=as_of + datetime.timedelta(days=FEE_DUE_DAYS),
        issue_date=as_of,
    )


def _issue_fees(
    charged: Sequence[tuple[Letter, str, Decimal]],
    *,
    as_of: datetime.date,
    by: Actor,
    refused: Callable[[Account, BillingError], None] | None,
) -> dict[int, Invoice]:
    """The fee invoices of these letters by account: together, or one at a time when the ledger
    refuses one (raised, or with `refused` given reported to it and that letter left out)."""
    if not charged:
        return {}
    try:
        with transaction.atomic():  # a savepoint: a refusal undoes the set-based write alone
            issued = issue_new_invoices(
                [_fee(letter, number, as_of=as_of, fee=fee) for letter, number, fee in charged], by=by
            )
        return {letter.account.pk: invoice for (letter, _, _), invoice in zip(charged, issued, strict=True)}
    except BillingError:
        pass
    fees = {}
    for letter, number, fee in charged:
        try:
            with transaction.atomic():  # a savepoint: a refused fee undoes only its own invoice
                draft = create_invoice(**_fee(letter, number, as_of=as_of, fee=fee), by=by)
                fees[letter.account.pk] = issue_invoice(draft, by=by)
        except BillingError as error:
            if refused is None:
                raise
            refused(letter.account, error)
    return fees


def write_letters(
    letters: Sequence[Letter],
    *,
    as_of: datetime.date,
    today: datetime.date,
    by: Actor,
    refused: Callable[[Account, BillingError], None] | None = None,
) -> list[Document]:
    """Store a reminder for each letter (inside the caller's transaction, accounts locked).

    A fee the ledger refuses raises, or with `refused` given is reported to it and that
    letter is left out (its number is a gap, which numbering allows).
    """
    numbered = list(zip(letters, next_numbers(DocumentKind.REMINDER, len(letters)), strict=True))
    charged = [
        (letter, number, letter.level.fees[letter.account.currency])
        for letter, number in numbered
        if letter.account.currency in letter.level.fees
    ]
    fees = _issue_fees(charged, as_of=as_of, by=by, refused=refused)
    left_out = {letter.account.pk for letter, _, _ in charged} - set(fees)
    kept = [(letter, number) for letter, number in numbered if letter.account.pk not in left_out]
    if fees:  # the fee is owed on the account now: the letter prints the new balance
        balances = dict(Account.objects.filter(pk__in=list(fees)).values_list("pk", "balance_due"))
        for letter, _ in kept:
            if letter.account.pk in balances:
                letter.account.balance_due = balances[letter.account.pk]
    positions = journal_positions_of([letter.account.pk for letter, _ in kept])
    template = template_of(DocumentKind.REMINDER)
    documents = []
    for letter, number in kept:
        account = letter.account
        figures = reminder_figures(
            account, letter.overdue, level=letter.level, as_of=as_of, today=today, fee_invoice=fees.get(account.pk)
        )
        html = render_figures(template, kind=DocumentKind.REMINDER, number=number, figures=figures)
        documents.append(
            Document(
                kind=DocumentKind.REMINDER,
                number=number,
                customer=account.customer,
                account=account,
                provider=account.provider,
                currency=account.currency,
                as_of=as_of,
                level=letter.level.level,
                figures=figures,
                html=html,
                sha256=sha256_of(html),
                journal_position=positions[account.pk],
                created_by=by,
            )
        )
    insert_many(Document, documents)
    return documents


def _skipped(account_id: int, why: str) -> None:
    logger.info("No reminder for account %s: %s", account_id, why)


def issue_due_letters(rows: Sequence[DueReminder], *, as_of: datetime.date, by: Actor) -> list[Document]:
    """One chunk of the nightly run, in one transaction: lock, ask again, write, queue the mail.

    `rows` come from due_reminders(as_of), maybe minutes ago; the level sent is the one due
    under the lock. Letters to a customer with an email address go to the mail queue, one
    job for the chunk (documents.tasks); a malformed address leaves the letter for print.
    """
    today = timezone.localdate()
    levels = {level.level: level for level in dunning_levels()}
    with transaction.atomic():
        accounts = lock_accounts([row.account_id for row in rows])
        still_due = {row.account_id: row for row in due_reminders(as_of, account_ids=list(accounts))}
        overdue = overdue_invoices_of(list(still_due), as_of)
        letters = []
        for row in rows:
            fresh = still_due.get(row.account_id)
            if fresh is None:
                _skipped(row.account_id, "no longer due under its lock (paid, promised or already sent)")
            elif not overdue.get(row.account_id):
                _skipped(row.account_id, f"nothing overdue on {as_of:%Y-%m-%d}")
            else:
                letters.append(Letter(accounts[row.account_id], levels[fresh.level], overdue[row.account_id]))
        documents = write_letters(
            letters,
            as_of=as_of,
            today=today,
            by=by,
            refused=lambda account, error: _skipped(account.pk, " ".join(error.messages)),
        )
        emailed = [document.pk for document in documents if document.customer.email.strip()]
        if emailed:  # in the chunk's transaction: the job exists exactly when its letters do
            from documents.tasks import send_letters_job  # as intake.background: the queue's app loads on use

            send_letters_job.defer(document_ids=emailed, by_id=by.pk if by is not None else None)
    return documents
