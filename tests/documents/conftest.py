"""The worked example of issue 11: a month with an invoice, a partial payment, a credit note
and a refund, each written on its own day (the clock is set per step, so credit notes and
refunds, dated by when they are written, land inside the month); and a real SMTP server
(aiosmtpd on 127.0.0.1) for the tests that send mail."""

from __future__ import annotations

import datetime
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from allocations.services import allocate
from documents.mailing import send_letters
from invoices.services import issue_credit_note
from payments.services import refund_payment
from tests.factories import make_invoice, make_payment


def moment(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10, 0)))


@contextmanager
def on(day: datetime.date):
    """Run the block as if it were 10:00 on `day` (auto_now_add, the journal's dates, today)."""
    with mock.patch("django.utils.timezone.now", return_value=moment(day)):
        yield


@pytest.fixture
def november(customer, provider):
    """Opening: invoice A (50.00, October). In November: invoice B 200.00 on the 3rd, a payment of
    100.00 on the 10th of which 80.00 goes to B, a credit note of 30.00 on B on the 15th, and
    the 20.00 left of the payment refunded on the 20th."""
    with on(datetime.date(2026, 10, 20)):
        invoice_a = make_invoice(
            customer=customer, provider=provider, total="50.00", issue_date=datetime.date(2026, 10, 20)
        )
    with on(datetime.date(2026, 11, 3)):
        invoice_b = make_invoice(
            customer=customer,
            provider=provider,
            total="200.00",
            issue_date=datetime.date(2026, 11, 3),
            due_date=datetime.date(2026, 12, 3),
        )
    with on(datetime.date(2026, 11, 10)):
        payment = make_payment(customer=customer, amount="100.00", received_at=moment(datetime.date(2026, 11, 10)))
        allocate(payment, invoice_b, Decimal("80.00"), by=None)
    with on(datetime.date(2026, 11, 15)):
        issue_credit_note(invoice_b, amount=Decimal("30.00"), by=None, reason="Broken tile")
    with on(datetime.date(2026, 11, 20)):
        refund_payment(payment, amount=Decimal("20.00"), by=None, reason="Overpaid")
    return {"a": invoice_a, "b": invoice_b, "payment": payment}


class Collector:
    """An aiosmtpd handler that keeps every message it accepts, with the client's address and
    port of the connection it came over (one per SMTP session), and refuses any recipient
    whose address starts with "refuse" (550, as a server refuses an unknown mailbox)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.peers: list[object] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook
        if address.startswith("refuse"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_settings(port: int):
    return override_settings(
        MAILERS={
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
            }
        }
    )


@pytest.fixture
def smtp() -> Iterator[Collector]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtp_settings(port):
            yield handler
    finally:
        controller.stop()


def send_queued_letters() -> int:
    """What a worker does with the nightly run's mail jobs (documents.tasks), here on the test's
    own connection and transaction, where the jobs were deferred: every job still to do is run,
    and a letter already delivered is not sent again. Returns the mails attempted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT args FROM procrastinate_jobs WHERE task_name = 'documents.send_letters' AND status = 'todo'"
            " ORDER BY id"
        )
        jobs = [json.loads(args) for (args,) in cursor.fetchall()]  # Django reads jsonb as text
    return sum(send_letters(args["document_ids"], by_id=args.get("by_id")) for args in jobs)
