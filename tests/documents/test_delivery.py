"""send_document through a real SMTP server (aiosmtpd on 127.0.0.1), not Django's outbox.

The bytes that reach the server are what is checked: the HTML body decodes to the stored
HTML, the attachment to the stored PDF, and a resend carries the same bytes again.
"""

from __future__ import annotations

import datetime
import email
import email.policy

import pytest
from django.db import DatabaseError, connection, transaction

from billing.errors import InvalidInput
from documents.models import Delivery, DeliveryResult
from documents.services import issue_statement, render_pdf, send_document
from tests.documents.conftest import free_port, on, smtp_settings

pytestmark = pytest.mark.django_db

# Each test runs in a transaction that never commits, so the after-commit sends are run
# where the commit would be: django_capture_on_commit_callbacks(execute=True).


@pytest.fixture
def statement(customer, november):
    with on(datetime.date(2026, 12, 1)):
        return issue_statement(customer, as_of=datetime.date(2026, 11, 30), by=None)


def parts(raw: bytes) -> tuple[str, bytes | None]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = pdf = None
    for part in message.walk():
        if part.get_content_type() == "text/html":
            html = part.get_content()
        elif part.get_content_type() == "application/pdf":
            pdf = part.get_content()
    assert html is not None
    return html, pdf


def normalized(text: str) -> str:
    # SMTP carries lines ending in CRLF; the stored HTML ends its lines in LF.
    return text.replace("\r\n", "\n")


def test_the_stored_html_and_pdf_are_what_the_server_receives(
    smtp, statement, customer, clerk, django_capture_on_commit_callbacks
):
    pdf = render_pdf(statement)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send_document(statement, by=clerk)

    assert delivery.pk is not None and delivery.result == DeliveryResult.OK
    assert (delivery.to, delivery.sha256, delivery.created_by) == (customer.email, statement.sha256, clerk)
    ((sender, recipients, raw),) = smtp.messages
    assert recipients == [customer.email]
    html, attached = parts(raw)
    assert normalized(html) == statement.html
    assert attached == pdf


def test_sending_again_sends_the_same_bytes_as_a_new_delivery(
    smtp, statement, clerk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = send_document(statement, by=clerk)
    with django_capture_on_commit_callbacks(execute=True):
        second = send_document(statement, to="accounts@example.com", by=clerk)
    assert first.pk != second.pk and Delivery.objects.filter(document=statement).count() == 2
    (html_1, pdf_1), (html_2, pdf_2) = (parts(raw) for _, _, raw in smtp.messages)
    assert normalized(html_1) == normalized(html_2) == statement.html and pdf_1 is pdf_2 is None
    assert smtp.messages[1][1] == ["accounts@example.com"]


def test_nothing_is_sent_until_the_transaction_commits(smtp, statement, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            delivery = send_document(statement, by=None)
            transaction.set_rollback(True)
        assert not smtp.messages and delivery.pk is None
    assert not callbacks and not smtp.messages and not Delivery.objects.exists()  # rolled back: never sent
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send_document(statement, by=None)
        assert not smtp.messages and delivery.pk is None  # registered, waiting for the commit
    assert len(smtp.messages) == 1 and delivery.pk is not None


def test_a_server_that_refuses_gives_a_failed_delivery_not_an_error(statement, django_capture_on_commit_callbacks):
    # Nothing listens on that port: connection refused.
    with smtp_settings(free_port()), django_capture_on_commit_callbacks(execute=True):
        delivery = send_document(statement, by=None)
    assert delivery.result == DeliveryResult.FAILED
    assert "Connection refused" in delivery.error or "ConnectionRefused" in delivery.error
    assert Delivery.objects.get().result == DeliveryResult.FAILED


def test_an_address_is_needed(statement, customer):
    with pytest.raises(InvalidInput, match="not an email address"):
        send_document(statement, to="not an address", by=None)
    customer.email = ""
    customer.save(update_fields=["email"])
    statement.customer.refresh_from_db()
    with pytest.raises(InvalidInput, match="no email address"):
        send_document(statement, by=None)


def test_deliveries_are_append_only(smtp, statement, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_document(statement, by=None)
    for sql in ("UPDATE documents_delivery SET result = 'ok'", "DELETE FROM documents_delivery"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
