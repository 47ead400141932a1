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

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from billing.actors import Actor
from billing.errors import BillingError, InvalidInput, InvalidState
from billing.models import Account, Customer, Provider
from billing.money import MINOR_UNITS
from documents.levels import dunning_levels
from documents.models import (
    NUMBER_PREFIX,
    NUMBER_SEQUENCE,
    Delivery,
    DeliveryChannel,
    DeliveryResult,
    Document,
    DocumentKind,
    DocumentPdf,
)
from documents.notices import notice_figures
from documents.reminders import due_reminders, levels_had, overdue_invoices, reminder_figures
from documents.statements import statement_figures
from invoices.models import Invoice, InvoiceKind, InvoiceState
from invoices.services import create_invoice, issue_invoice

logger = logging.getLogger(__name__)


def _next_number(kind: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [NUMBER_SEQUENCE[kind]])
        (value,) = cursor.fetchone()
    return f"{NUMBER_PREFIX[DocumentKind(kind)]}-{value:06d}"


def sha256_of(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _store(document: Document) -> None:
    """Render the new document's figures, fingerprint the body and insert it: once, never updated."""
    document.html = render_document(document)
    document.sha256 = sha256_of(document.html)
    document.save(force_insert=True)


def render_document(document: Document) -> str:
    """The document's body from its stored figures: what issuing stored, byte for byte.

    Only the kind, the number and the figures go in (not today's date, not the database),
    so the same figures through the same template give the same sha256, today or in ten years.
    """
    context = {
        "number": document.number,
        "kind": document.kind,
        "title": DocumentKind(document.kind).label,
        "figures": document.figures,
    }
    return render_to_string(f"documents/{document.kind}.html", context)


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
            number=_next_number(DocumentKind.STATEMENT),
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


def _email(document: Document, delivery: Delivery) -> EmailMessage:
    title = DocumentKind(document.kind).label
    message = EmailMessage(subject=f"{title} {document.number}", body=document.html, to=[delivery.to])
    message.content_subtype = "html"
    pdf = document.pdf
    if pdf is not None:
        message.attach(f"{document.number}.pdf", pdf, "application/pdf")
    return message


def _deliver(document: Document, delivery: Delivery) -> None:
    """Send, then record the attempt whatever happened: a clerk sees a failed row, never a crash."""
    try:
        _email(document, delivery).send()
    except Exception as error:  # an SMTP refusal, a connection refused, a timeout: all a failed delivery
        logger.warning("Delivery of %s to %s failed: %s", document.number, delivery.to, error)
        delivery.result = DeliveryResult.FAILED
        delivery.error = f"{type(error).__name__}: {error}"[:2000]
    else:
        delivery.result = DeliveryResult.OK
    delivery.sent_at = timezone.now()
    delivery.save(force_insert=True)


def send_document(document: Document, *, to: str | None = None, by: Actor) -> Delivery:
    """Email the stored document (HTML body, stored PDF attached if one was made) after commit.

    `to` defaults to the customer's email. The mail goes when the caller's transaction
    commits (never for a rolled-back one), and the attempt is recorded then as a new
    Delivery row. Called outside a transaction, as the pages do, the returned Delivery is
    already saved with its result; inside one, it is filled in and saved at commit.
    """
    address = (to if to is not None else document.customer.email).strip()
    if not address:
        raise InvalidInput(f"{document.customer} has no email address on file: give one.", code="no_address")
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput(f"{address!r} is not an email address.", code="invalid_address") from None
    delivery = Delivery(
        document=document, channel=DeliveryChannel.EMAIL, to=address, sha256=document.sha256, created_by=by
    )
    with transaction.atomic():
        transaction.on_commit(lambda: _deliver(document, delivery))
    return delivery


#: A reminder's fee invoice falls due this many days after the letter.
FEE_DUE_DAYS = 14

#: pg_advisory_lock key of run_dunning ("dunning" in ASCII): one run at a time, whoever starts it.
DUNNING_LOCK = 0x64756E6E696E67


def issue_reminder(account: Account, *, level: int, as_of: datetime.date | None = None, by: Actor) -> Document:
    """A dunning letter of `level` for one account (provider × currency): its overdue invoices,
    the amount due, the level's text and fee, stored as a snapshot like a statement.

    At most one letter per level per dunning cycle (documents.reminders): under the account's
    lock a level already had is refused, so a clerk's button and the nightly run cannot both
    send it. The level's fee, if it has one in the account's currency, is an invoice issued
    in the same transaction: no letter announces a fee that was not booked, and no fee is
    booked without its letter.
    """
    today = timezone.localdate()
    as_of = as_of or today
    if as_of > today:
        raise InvalidInput(f"A reminder cannot be as of {as_of:%Y-%m-%d}: that is after today.")
    levels = {known.level: known for known in dunning_levels()}
    if level not in levels:
        raise InvalidInput(f"There is no dunning level {level!r}; the levels are {', '.join(map(str, levels))}.")
    chosen = levels[level]
    with transaction.atomic():
        # Accounts come first in the lock order (DESIGN.md §1); every change of its invoices waits.
        locked = Account.objects.select_for_update().select_related("customer", "provider").get(pk=account.pk)
        overdue = list(overdue_invoices(locked, as_of))  # read once, under the lock: the letter prints these
        if not overdue:
            raise InvalidState(f"{locked} has nothing overdue on {as_of:%Y-%m-%d}: no reminder to send.")
        had = levels_had(locked)
        if had and max(had) >= level:
            raise InvalidState(
                f"{locked} already had level {max(had)} in this dunning cycle; level {level} is not sent again "
                "until its overdue invoices are paid."
            )
        number = _next_number(DocumentKind.REMINDER)
        fee_invoice = None
        fee = chosen.fees.get(locked.currency)
        if fee is not None:
            draft = create_invoice(
                customer=locked.customer,
                provider=locked.provider,
                currency=locked.currency,
                lines=[(f"{chosen.title} fee (letter {number})", 1, fee)],
                due_date=as_of + datetime.timedelta(days=FEE_DUE_DAYS),
                issue_date=as_of,
                by=by,
            )
            fee_invoice = issue_invoice(draft, by=by)
            locked.refresh_from_db(fields=["balance_due", "open_invoice_count", "oldest_due_date"])
        figures, position = reminder_figures(
            locked, overdue, level=chosen, as_of=as_of, today=today, fee_invoice=fee_invoice
        )
        document = Document(
            kind=DocumentKind.REMINDER,
            number=number,
            customer=locked.customer,
            account=locked,
            provider=locked.provider,
            currency=locked.currency,
            as_of=as_of,
            level=level,
            figures=figures,
            journal_position=position,
            created_by=by,
        )
        _store(document)
    return document


def run_dunning(*, as_of: datetime.date | None = None, by: Actor) -> list[Document]:
    """The nightly dunning run: every account due a letter gets it (documents.reminders says
    which level), emailed when the customer has an address, else left for print (a document
    with no delivery). Returns the letters issued.

    One run at a time: a session advisory lock makes a second run wait for the first, and
    it then finds every letter already sent, so it issues nothing (idempotent: running it
    again the same day, or twice at once, sends nothing more). Each letter is its own
    transaction, so a refused account (logged) does not undo the others.
    """
    as_of = as_of or timezone.localdate()
    if as_of > timezone.localdate():
        raise InvalidInput(f"Dunning cannot run as of {as_of:%Y-%m-%d}: that is after today.")
    issued: list[Document] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DUNNING_LOCK])
    try:
        due = due_reminders(as_of)  # read under the lock: a run that waited sees the letters of the one before
        accounts = Account.objects.select_related("customer", "provider").in_bulk([row.account_id for row in due])
        for row in due:
            try:
                document = issue_reminder(accounts[row.account_id], level=row.level, as_of=as_of, by=by)
            except BillingError as error:  # the account changed since the selection: skip it, say why
                logger.info("No reminder for account %s: %s", row.account_id, " ".join(error.messages))
                continue
            issued.append(document)
            if document.customer.email.strip():
                try:
                    send_document(document, by=by)
                except InvalidInput as error:  # a malformed address on file: the letter goes by post
                    logger.warning("Reminder %s left for print: %s", document.number, " ".join(error.messages))
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
            number=_next_number(DocumentKind.INSTALLMENT_NOTICE),
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
