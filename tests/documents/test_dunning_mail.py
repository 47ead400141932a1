"""The nightly run's mail, through a real SMTP server (aiosmtpd, tests/documents/conftest.py):
one queued job per chunk of letters, sent over one connection, one Delivery row per attempt;
a refused recipient is a failed row while the rest still go; an unreachable server is a
failed row per letter, never a lost letter; a job run again sends nothing twice. The last
test runs the jobs on a real Procrastinate worker."""

from __future__ import annotations

import datetime
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from documents.models import Delivery, DeliveryResult, Document
from documents.services import run_dunning
from tests.documents.conftest import free_port, on, send_queued_letters, smtp_settings
from tests.factories import CustomerFactory, ProviderFactory, make_invoice

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


def night() -> list[Document]:
    with on(RUN):
        return run_dunning(by=None)


def mail_jobs() -> list[list[int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT args->'document_ids' FROM procrastinate_jobs WHERE task_name = 'documents.send_letters'"
            " AND queue_name = 'mail' ORDER BY id"
        )
        return [json.loads(ids) for (ids,) in cursor.fetchall()]  # Django reads jsonb as text


@pytest.mark.django_db
def test_the_run_queues_a_job_per_chunk_and_a_job_sends_its_letters_over_one_connection(smtp, settings):
    settings.SETTLE_DUNNING_CHUNK = 2
    overdue_for("a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com")
    issued = night()
    assert len(issued) == 5 and smtp.messages == []  # the run does not wait for the mail
    jobs = mail_jobs()
    assert [len(ids) for ids in jobs] == [2, 2, 1]
    assert sorted(i for ids in jobs for i in ids) == sorted(d.pk for d in issued)

    assert send_queued_letters() == 5
    assert sorted(recipients[0] for _, recipients, _ in smtp.messages) == [f"{c}@example.com" for c in "abcde"]
    assert len(set(smtp.peers)) == 3  # one SMTP session per job
    deliveries = Delivery.objects.order_by("id")
    assert [(d.result, d.sha256) for d in deliveries] == [(DeliveryResult.OK, d.document.sha256) for d in deliveries]
    assert sorted(d.document_id for d in deliveries) == sorted(d.pk for d in issued)

    assert send_queued_letters() == 0  # a job run again (a retry after a crash) sends nothing twice
    assert len(smtp.messages) == 5 and Delivery.objects.count() == 5


@pytest.mark.django_db
def test_a_refused_recipient_is_a_failed_row_and_the_others_still_go(smtp):
    overdue_for("a@example.com", "refuse.me@example.com", "c@example.com")
    assert len(night()) == 3  # every letter is issued whatever the mail does
    send_queued_letters()
    results = {d.to: (d.result, d.error) for d in Delivery.objects.all()}
    assert results["a@example.com"] == results["c@example.com"] == (DeliveryResult.OK, "")
    result, error = results["refuse.me@example.com"]
    assert result == DeliveryResult.FAILED and "SMTPRecipientsRefused" in error and "No such mailbox" in error
    assert sorted(r[0] for _, r, _ in smtp.messages) == ["a@example.com", "c@example.com"]
    assert len(set(smtp.peers)) == 1  # the refusal did not cost the connection


@pytest.mark.django_db
def test_an_unreachable_server_gives_a_failed_row_per_letter():
    overdue_for("a@example.com", "b@example.com")
    assert len(night()) == 2
    with smtp_settings(free_port()):  # nothing listens there
        send_queued_letters()
    assert Document.objects.count() == 2
    failed = Delivery.objects.filter(result=DeliveryResult.FAILED)
    assert failed.count() == 2
    assert all("Connection refused" in d.error or "ConnectionRefused" in d.error for d in failed)


@pytest.mark.django_db
def test_a_malformed_address_leaves_the_letter_for_print(smtp):
    overdue_for("not an address", "b@example.com")
    assert len(night()) == 2
    send_queued_letters()
    assert list(Delivery.objects.values_list("to", flat=True)) == ["b@example.com"]


def run_worker_until_the_mail_queue_is_empty() -> None:
    """As `manage.py procrastinate worker` does, on the Django connector's worker connector (a
    psycopg pool of its own), without the periodic deferrer: its nightly jobs are not this
    test's, and it would leave a connection open that blocks the test database's drop."""
    from procrastinate.contrib.django import app
    from procrastinate.periodic import PeriodicRegistry

    with app.replace_connector(app.connector.get_worker_connector()) as worker_app:  # type: ignore[attr-defined]
        periodic, worker_app.periodic_registry = worker_app.periodic_registry, PeriodicRegistry()
        try:
            # On a thread of its own: after a browser test, Playwright's loop counts as running in this one.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(
                    worker_app.run_worker,
                    queues=["mail"],
                    wait=False,
                    install_signal_handlers=False,
                    listen_notify=False,
                ).result()
        finally:
            worker_app.periodic_registry = periodic


@pytest.mark.django_db(transaction=True)
def test_a_procrastinate_worker_sends_the_nights_letters(smtp, settings):
    settings.SETTLE_DUNNING_CHUNK = 2
    overdue_for("a@example.com", "b@example.com", "c@example.com")
    issued = night()
    run_worker_until_the_mail_queue_is_empty()
    assert sorted(r[0] for _, r, _ in smtp.messages) == ["a@example.com", "b@example.com", "c@example.com"]
    assert sorted(Delivery.objects.filter(result="ok").values_list("document_id", flat=True)) == sorted(
        d.pk for d in issued
    )
    with connection.cursor() as cursor:
        # Earlier transactional tests may have left jobs in the queue (it is no Django model: no flush).
        cursor.execute("SELECT args->'document_ids', status FROM procrastinate_jobs WHERE queue_name = 'mail'")
        ours = [status for ids, status in cursor.fetchall() if set(json.loads(ids)) & {d.pk for d in issued}]
    assert ours == ["succeeded", "succeeded"]  # chunks of 2 and 1
