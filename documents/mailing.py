"""Emailing stored documents and recording every attempt as a Delivery row (DESIGN.md §11).

One path for the clerk's "Send" button (one document) and the nightly dunning run's mail job
(a chunk's letters, documents.tasks): the messages go over one connection of the default
mailer, opened once, and each attempt becomes a Delivery row with its result, all inserted in
one statement. Opening an SMTP connection (TCP, EHLO, maybe STARTTLS and a login) is much of
what one message costs, so a chunk of 500 letters pays it once instead of 500 times.

A refusal of one message (a recipient the server rejects) is a failed row and the next
message goes over the same connection; a dropped connection is reopened once, and if the
server cannot be reached the rest are failed rows saying so (no timeout per letter).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.core.validators import validate_email
from django.utils import timezone

from billing.errors import InvalidInput
from documents.models import Delivery, DeliveryChannel, DeliveryResult, Document, DocumentKind
from ledger.bulk import insert_many

logger = logging.getLogger(__name__)


def addressed(documents: Sequence[Document], *, by_id: int | None) -> list[Delivery]:
    """A Delivery to fill in for each document whose customer has an address; the others go by post."""
    deliveries = []
    for document in documents:
        if not document.customer.email.strip():
            continue
        try:
            address = address_for(document, None)
        except InvalidInput as error:  # a malformed address on file: the letter goes by post
            logger.warning("%s left for print: %s", document.number, " ".join(error.messages))
            continue
        deliveries.append(
            Delivery(
                document=document,
                channel=DeliveryChannel.EMAIL,
                to=address,
                sha256=document.sha256,
                created_by_id=by_id,
            )
        )
    return deliveries


def send_letters(document_ids: Sequence[int], *, by_id: int | None) -> int:
    """Email each of the documents that has no delivery yet (a job run again after a crash
    sends the rest, not everything twice); returns how many were attempted."""
    documents = (
        Document.objects.filter(pk__in=list(document_ids), deliveries__isnull=True)
        .select_related("customer")
        .order_by("pk")
    )
    deliveries = addressed(list(documents), by_id=by_id)
    deliver(deliveries, attach_pdf=False)
    return len(deliveries)


def address_for(document: Document, to: str | None) -> str:
    """The address to send `document` to (`to`, else the customer's), checked; InvalidInput if none."""
    address = (to if to is not None else document.customer.email).strip()
    if not address:
        raise InvalidInput(f"{document.customer} has no email address on file: give one.", code="no_address")
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput(f"{address!r} is not an email address.", code="invalid_address") from None
    return address


def email_message(document: Document, to: str, pdf: bytes | None) -> EmailMessage:
    title = DocumentKind(document.kind).label
    message = EmailMessage(subject=f"{title} {document.number}", body=document.html, to=[to])
    message.content_subtype = "html"
    if pdf is not None:
        message.attach(f"{document.number}.pdf", pdf, "application/pdf")
    return message


def _lost_connection(error: BaseException) -> bool:
    # smtplib's errors are OSErrors too; of those only a disconnection loses the connection.
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _failed(delivery: Delivery, error: BaseException) -> None:
    logger.warning("Delivery of %s to %s failed: %s", delivery.document, delivery.to, error)
    delivery.result = DeliveryResult.FAILED
    delivery.error = f"{type(error).__name__}: {error}"[:2000]


def deliver(deliveries: Sequence[Delivery], *, attach_pdf: bool = True) -> None:
    """Send each delivery's document over one mailer connection, then insert every attempt.

    `attach_pdf` False skips looking for a stored PDF (the nightly run's letters were made a
    moment ago: nobody asked for one yet). Never raises for a mail that could not go: that is
    a failed Delivery row a clerk sees, with the error.
    """
    if not deliveries:
        return
    backend = mailers.default
    unreachable: BaseException | None = None
    try:
        backend.open()
    except Exception as error:  # connection refused, a timeout, a TLS or login failure
        unreachable = error
    try:
        for delivery in deliveries:
            document = delivery.document
            if unreachable is not None:
                _failed(delivery, unreachable)
            else:
                try:
                    backend.send_messages([email_message(document, delivery.to, document.pdf if attach_pdf else None)])
                except Exception as error:  # an SMTP refusal, a dropped connection: a failed delivery
                    _failed(delivery, error)
                    if _lost_connection(error):
                        unreachable = _reopen(backend)
                else:
                    delivery.result = DeliveryResult.OK
            delivery.sent_at = timezone.now()
    finally:
        try:
            backend.close()
        except Exception as error:  # the server hung up first: the messages are already accepted
            logger.info("Closing the mail connection: %s", error)
    insert_many(Delivery, deliveries)


def _reopen(backend) -> BaseException | None:
    """Open the mailer's connection again after it dropped; the error if the server stays away."""
    try:
        backend.close()
    except Exception:  # noqa: S110 - a broken connection may fail to say goodbye; it is gone either way
        pass
    try:
        backend.open()
    except Exception as error:
        return error
    return None
