"""Issuing, rendering and sending documents (DESIGN.md §7 and §11).

A document is rendered once, from its figures, through its kind's template; the HTML and
its sha256 are stored with the figures, and `render_document` re-renders the stored
figures so anyone can check that the stored body is what the figures print. The PDF is
WeasyPrint's rendering of the stored HTML, made on first ask and stored once. Sending
emails the stored HTML and the stored PDF, so every resend is the same bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing import processes
from billing.actors import Actor
from billing.errors import InvalidInput, InvalidState
from billing.models import Account, Customer, Provider
from billing.money import MINOR_UNITS
from documents.levels import dunning_levels
from documents.mailing import address_for, deliver
from documents.models import Delivery, DeliveryChannel, Document, DocumentKind, DocumentPdf
from documents.notices import notice_figures
from documents.reminder_letters import Letter, issue_due_letters, lock_accounts, write_letters
from documents.reminders import due_reminders, levels_had, overdue_invoices_of
from documents.rendering import next_number, render_document, seal, sha256_of
from documents.statements import statement_figures
from invoices.models import Invoice, InvoiceKind, InvoiceState

__all__ = [
    "issue_installment_notice",
    "issue_reminder",
    "issue_statement",
    "render_document",
    "render_pdf",
    "run_dunning",
    "send_document",
    "sha256_of",
]

logger = logging.getLogger(__name__)


def _store(document: Document) -> None:
    """Render the new document's figures, fingerprint the body and insert it: once, never updated."""
    seal(document)
    document.save(force_insert=True)


def issue_statement(
    customer: Customer,
    *,
    provider: Provider | None = None,
    currency: str | None = None,
    period_start: datetime.date | None = None,
    as_of: datetime.date | None = None,
    by: Actor,
) -> Document:
    """A statement of account from the journal, stored as a snapshot (figures, HTML, sha256).

    The period runs from `period_start` (default: the first day of as_of's month) to `as_of`
    (default: today), both inclusive; `currency` None gives one section per currency the
    customer has entries in, `provider` narrows to that provider's accounts (see
    documents.statements for how its payments are shown).
    """
    today = timezone.localdate()
    as_of = as_of or today
    period_start = period_start or as_of.replace(day=1)
    if currency and currency not in MINOR_UNITS:
        raise InvalidInput(f"{currency!r} is not a currency Settle knows.", code="invalid_currency")
    if as_of > today:
        raise InvalidInput(f"A statement cannot be as of {as_of:%Y-%m-%d}: that is after today.")
    if period_start > as_of:
        raise InvalidInput(f"The period cannot start on {period_start:%Y-%m-%d}, after its end ({as_of:%Y-%m-%d}).")
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # One snapshot for every read (opening, lines, open items, position): a payment
            # committed between two of them must not show in one figure and not the other.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        figures, position = statement_figures(
            customer, provider=provider, currency=currency, period_start=period_start, as_of=as_of, today=today
        )
        figures["issued_on"] = today.isoformat()
        document = Document(
            kind=DocumentKind.STATEMENT,
            number=next_number(DocumentKind.STATEMENT),
            customer=customer,
            provider=provider,
            currency=currency or "",
            period_start=period_start,
            as_of=as_of,
            figures=figures,
            journal_position=position,
            created_by=by,
        )
        _store(document)
    return document


def _refuse_fetch(url: str, *args, **kwargs):
    # A document is self-contained; nothing it names is fetched (no file:, no network).
    raise ValueError(f"Documents load no outside resources ({url}).")


def render_pdf(document: Document) -> bytes:
    """The document's PDF, made with WeasyPrint from the stored HTML the first time, then stored.

    Two clerks asking at once both render, but the unique document column keeps one row:
    the second gets the first one's bytes, so every download and email carries the same PDF.
    """
    stored = document.pdf
    if stored is not None:
        return stored
    from weasyprint import HTML  # imported on first use: it loads Pango, which the web pages never need

    pdf = HTML(string=document.html, url_fetcher=_refuse_fetch).write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    try:
        with transaction.atomic():
            DocumentPdf.objects.create(document=document, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest())
    except IntegrityError:
        stored = document.pdf
        if stored is None:
            raise
        return stored
    return pdf


def send_document(document: Document, *, to: str | None = None, by: Actor) -> Delivery:
    """Email the stored document (HTML body, stored PDF attached if one was made) after commit.

    `to` defaults to the customer's email. The mail goes when the caller's transaction
    commits (never for a rolled-back one), and the attempt is recorded then as a new
    Delivery row. Called outside a transaction, as the pages do, the returned Delivery is
    already saved with its result; inside one, it is filled in and saved at commit.
    """
    address = address_for(document, to)
    delivery = Delivery(
        document=document, channel=DeliveryChannel.EMAIL, to=address, sha256=document.sha256, created_by=by
    )
    with transaction.atomic():
        transaction.on_commit(lambda: deliver([delivery]))
    return delivery


#: pg_advisory_lock key of run_dunning ("dunning" in ASCII): one run at a time, whoever starts it.
DUNNING_LOCK = 0x64756E6E696E67

#: Accounts per transaction of the nightly run (setting SETTLE_DUNNING_CHUNK).
DUNNING_CHUNK = 500


def issue_reminder(account: Account, *, level: int, as_of: datetime.date | None = None, by: Actor) -> Document:
    """A dunning letter of `level` for one account (provider × currency): its overdue invoices,
    the amount due, the level's text and fee, stored as a snapshot like a statement.

    At most one letter per level per dunning cycle (documents.reminders): under the account's
    lock a level already had is refused, so a clerk's button and the nightly run cannot both
    send it. The level's fee, if it has one in the account's currency, is an invoice issued
    in the same transaction: no letter announces a fee that was not booked, and no fee is
    booked without its letter. The letter is written by the nightly run's own code
    (documents.reminder_letters), so the same figures give the same bytes either way.
    """
    today = timezone.localdate()
    as_of = as_of or today
    if as_of > today:
        raise InvalidInput(f"A reminder cannot be as of {as_of:%Y-%m-%d}: that is after today.")
    levels = {known.level: known for known in dunning_levels()}
    if level not in levels:
        raise InvalidInput(f"There is no dunning level {level!r}; the levels are {', '.join(map(str, levels))}.")
    with transaction.atomic():
        # Accounts come first in the lock order (DESIGN.md §1); every change of its invoices waits.
        locked = lock_accounts([account.pk])[account.pk]
        overdue = overdue_invoices_of([locked.pk], as_of).get(locked.pk)  # under the lock: the letter prints these
        if not overdue:
            raise InvalidState(f"{locked} has nothing overdue on {as_of:%Y-%m-%d}: no reminder to send.")
        had = levels_had(locked)
        if had and max(had) >= level:
            raise InvalidState(
                f"{locked} already had level {max(had)} in this dunning cycle; level {level} is not sent again "
                "until its overdue invoices are paid."
            )
        (document,) = write_letters(
            [Letter(account=locked, level=levels[level], overdue=overdue)], as_of=as_of, today=today, by=by
        )
    return document


def run_dunning(*, as_of: datetime.date | None = None, workers: int = 1, by: Actor) -> list[Document]:
    """The nightly dunning run: every account due a letter gets it (documents.reminders says
    which level), emailed when the customer has an address, else left for print (a document
    with no delivery). Returns the letters issued.

    One run at a time: a session advisory lock makes a second run wait for the first, and
    it then finds every letter already sent, so it issues nothing (idempotent: running it
    again the same day, or twice at once, sends nothing more).

    Set-based: the selection is one statement, then each chunk of SETTLE_DUNNING_CHUNK
    accounts is one transaction of a handful of statements (documents.reminder_letters): the
    accounts locked in id order and asked again whether they are due, their overdue invoices,
    numbers and journal positions read at once, the documents inserted at once. An account
    no longer due, or whose fee the ledger refuses, is skipped and logged; the others of its
    chunk are written.

    Mail goes through the task queue, not inside the run: each chunk defers one job with its
    emailed letters, in the chunk's transaction, and a worker sends them over one SMTP
    connection with a Delivery row per attempt (documents.tasks, documents.mailing). Building
    a MIME message alone costs more than writing the letter, and an SMTP server may be slow
    or away; the run issues the night's letters without waiting for either, and a worker
    retried after a crash sends only what has no delivery yet. The documents returned do not
    keep their HTML, figures, account and provider in memory (Django loads them again if
    read): at 100,000 letters that would be hundreds of megabytes.

    With `workers` > 1 and at least SETTLE_DUNNING_WORKERS_FROM accounts due, the chunks are
    shared out among that many processes (documents.workers); the letters are then read back
    with their level and customer only.
    """
    as_of = as_of or timezone.localdate()
    if as_of > timezone.localdate():
        raise InvalidInput(f"Dunning cannot run as of {as_of:%Y-%m-%d}: that is after today.")
    chunk = max(1, int(getattr(settings, "SETTLE_DUNNING_CHUNK", DUNNING_CHUNK)))
    issued: list[Document] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DUNNING_LOCK])
    try:
        due = due_reminders(as_of)  # read under the lock: a run that waited sees the letters of the one before
        chunks = [due[start : start + chunk] for start in range(0, len(due), chunk)]
        if processes.worth_sharing(
            workers, parts=len(chunks), rows=len(due), at_least=settings.SETTLE_DUNNING_WORKERS_FROM
        ):
            from documents import workers as dunning_workers

            ids = [pk for part in dunning_workers.issue_in_workers(chunks, workers, as_of=as_of, by=by) for pk in part]
            letters = Document.objects.filter(pk__in=ids).select_related("customer").only("level", "customer__email")
            return list(letters.order_by("pk"))
        for rows in chunks:
            for document in issue_due_letters(rows, as_of=as_of, by=by):
                # Kept small: the body and figures become deferred fields, the account and provider
                # lazy relations (Django loads them again on access); the customer stays for its email.
                document.__dict__.pop("html", None)
                document.__dict__.pop("figures", None)
                document._state.fields_cache.pop("account", None)
                document._state.fields_cache.pop("provider", None)
                issued.append(document)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DUNNING_LOCK])
    return issued


def issue_installment_notice(installment: Invoice, *, as_of: datetime.date | None = None, by: Actor) -> Document:
    """A notice of one installment of a plan, stored as a snapshot like a statement (DESIGN.md §10, §11).

    It prints the installment's amount, what was paid on it, its penalty to date, the
    previous outstanding (what earlier installments and their penalties still owe) and the
    total receivable, all derived as of `as_of` (today by default; documents.notices). Read
    under the plan account's lock, so a payment committing meanwhile is in every figure or in
    none. Append-only: a later notice is a new document, a sent one never changes.
    """
    today = timezone.localdate()
    as_of = as_of or today
    if isinstance(as_of, datetime.datetime) or not isinstance(as_of, datetime.date):
        raise InvalidInput(f"A notice is as of a date, not {as_of!r}.")
    if as_of > today:
        raise InvalidInput(f"A notice cannot be as of {as_of:%Y-%m-%d}: that is after today.")
    if not isinstance(installment, Invoice) or installment.kind != InvoiceKind.INSTALLMENT or not installment.plan_id:
        raise InvalidInput(f"{installment} is not an installment of a plan: only installments get a notice.")
    with transaction.atomic():
        locked = Account.objects.select_for_update().select_related("customer").get(pk=installment.account_id)
        fresh = Invoice.objects.select_related("plan__customer", "plan__provider").get(pk=installment.pk)
        if fresh.state != InvoiceState.OPEN:
            raise InvalidState(f"Installment {fresh} is {fresh.get_state_display().lower()}: no notice for it.")
        figures, position = notice_figures(fresh, as_of=as_of, today=today)
        document = Document(
            kind=DocumentKind.INSTALLMENT_NOTICE,
            number=next_number(DocumentKind.INSTALLMENT_NOTICE),
            customer=locked.customer,
            account=locked,
            provider_id=locked.provider_id,
            currency=locked.currency,
            as_of=as_of,
            figures=figures,
            journal_position=position,
            created_by=by,
        )
        _store(document)
    return document
