"""The nightly run's mail through a real SMTP server (aiosmtpd, tests/documents/conftest.py):
one connection per chunk, one Delivery row per attempt, a refused recipient a failed row while
the rest still go, and an unreachable server a failed row per letter, never a lost letter."""

from __future__ import annotations

import datetime

import pytest

from documents.models import Delivery, DeliveryResult, Document
from documents.services import run_dunning
from tests.documents.conftest import free_port, on, smtp_settings
from tests.factories import CustomerFactory, ProviderFactory, make_invoice

pytestmark = pytest.mark.django_db

RUN = datetime.date(2026, 11, 10)


def overdue_for(*emails: str) -> None:
    for email in emails:
        with on(RUN - datetime.timedelta(days=60)):
            make_invoice(
                customer=CustomerFactory(email=email),
                provider=ProviderFactory(),
                issue_date=RUN - datetime.timedelta(days=60),
                due_date=RUN - datetime.timedelta(days=10),
            )


def night(capture) -> list[Document]:
    # The test's transaction never commits: run the after-commit sends where each chunk's commit would be.
    with on(RUN), capture(execute=True):
        return run_dunning(by=None)


def test_a_chunks_letters_go_over_one_connection_and_each_is_a_delivery_row(
    smtp, settings, django_capture_on_commit_callbacks
):
    settings.SETTLE_DUNNING_CHUNK = 2
    overdue_for("a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com")
    issued = night(django_capture_on_commit_callbacks)
    assert len(issued) == 5
    assert sorted(recipients[0] for _, recipients, _ in smtp.messages) == [f"{c}@example.com" for c in "abcde"]
    assert len(set(smtp.peers)) == 3  # chunks of 2, 2 and 1: one SMTP session each
    deliveries = Delivery.objects.order_by("id")
    assert [(d.result, d.sha256) for d in deliveries] == [(DeliveryResult.OK, d.document.sha256) for d in deliveries]
    assert sorted(d.document_id for d in deliveries) == sorted(d.pk for d in issued)


def test_a_refused_recipient_is_a_failed_row_and_the_others_still_go(smtp, django_capture_on_commit_callbacks):
    overdue_for("a@example.com", "refuse.me@example.com", "c@example.com")
    issued = night(django_capture_on_commit_callbacks)
    assert len(issued) == 3  # every letter is issued whatever the mail does
    results = {d.to: (d.result, d.error) for d in Delivery.objects.all()}
    assert results["a@example.com"] == results["c@example.com"] == (DeliveryResult.OK, "")
    result, error = results["refuse.me@example.com"]
    assert result == DeliveryResult.FAILED and "SMTPRecipientsRefused" in error and "No such mailbox" in error
    assert sorted(r[0] for _, r, _ in smtp.messages) == ["a@example.com", "c@example.com"]
    assert len(set(smtp.peers)) == 1  # the refusal did not cost the connection


def test_an_unreachable_server_gives_a_failed_row_per_letter(django_capture_on_commit_callbacks):
    overdue_for("a@example.com", "b@example.com")
    with smtp_settings(free_port()):  # nothing listens there
        issued = night(django_capture_on_commit_callbacks)
    assert len(issued) == 2 and Document.objects.count() == 2
    failed = Delivery.objects.filter(result=DeliveryResult.FAILED)
    assert failed.count() == 2 and all(
        "Connection refused" in d.error or "ConnectionRefused" in d.error for d in failed
    )


def test_a_malformed_address_leaves_the_letter_for_print(smtp, django_capture_on_commit_callbacks):
    overdue_for("not an address", "b@example.com")
    issued = night(django_capture_on_commit_callbacks)
    assert len(issued) == 2
    assert list(Delivery.objects.values_list("to", flat=True)) == ["b@example.com"]
