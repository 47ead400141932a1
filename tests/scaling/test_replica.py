"""Read replicas, against a real streaming standby (tests/scaling/standby.py).

The standby's replay is paused where a test must tell the two databases apart: a row written
on the primary then exists only there, so a page that shows it read the primary and a page
that does not read the replica.
"""

from __future__ import annotations

import re
import time

import pytest
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.replicas import replica_reads
from billing.roles import FINANCE
from invoices.models import Invoice
from tests.factories import CustomerFactory, ProviderFactory, make_invoice, make_payment
from tests.support.actions import form_token
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

LAG_NOTE = "behind; what was done since may not show yet"


@pytest.fixture
def books(replica_reads_on):
    acme = ProviderFactory(code="ACME")
    ada = CustomerFactory(name="Ada Lovelace")
    return {"acme": acme, "ada": ada, "first": make_invoice(customer=ada, provider=acme, total="100.00")}


@pytest.fixture
def finance(client, replica_reads_on):
    client.force_login(user_with_role(FINANCE, "fin"))  # no POST: nothing marks this browser as having written
    return client


def _row(response, text: str) -> str:
    """The table row of a list page that shows `text`."""
    rows = [row for row in re.findall(r"<tr\b.*?</tr>", response.content.decode(), re.S) if text in row]
    assert len(rows) == 1, f"{len(rows)} rows show {text}"
    return rows[0]


def _invoice_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "invoices_invoice" in q["sql"]]


def test_lists_read_the_replica_and_detail_pages_the_primary(finance, books, replica_reads_on):
    replica_reads_on.catch_up()
    replica_reads_on.pause_replay()
    late = make_invoice(customer=books["ada"], provider=books["acme"], total="55.00")  # on the primary only

    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        listed = finance.get(reverse("invoices:list"))
    assert listed.status_code == 200 and listed["X-Settle-Read-From"] == "replica"
    page = listed.content.decode()
    assert str(books["first"]) in page and str(late) not in page  # the replica's (paused) copy
    assert _invoice_queries(on_replica.captured_queries) and not _invoice_queries(on_primary.captured_queries)

    exported = finance.get(reverse("invoices:export"))  # streamed after the view returned: still the replica
    csv = b"".join(exported.streaming_content).decode()
    assert exported["X-Settle-Read-From"] == "replica" and str(books["first"]) in csv and str(late) not in csv

    detail = finance.get(late.get_absolute_url())  # where a clerk lands after acting: the primary
    assert detail.status_code == 200 and "X-Settle-Read-From" not in detail and str(late) in detail.content.decode()

    replica_reads_on.resume_replay()
    replica_reads_on.catch_up()
    assert str(late) in finance.get(reverse("invoices:list")).content.decode()


def test_writes_go_to_the_primary_and_the_writer_reads_them_back(finance, books, replica_reads_on, settings):
    payment = make_payment(customer=books["ada"], amount="30.00", reference="BANK-ADA-30")
    replica_reads_on.catch_up()
    replica_reads_on.pause_replay()
    url = reverse("payments:allocate", args=[payment.pk])
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        done = finance.post(url, {"form_token": form_token(finance.get(url)), f"amount_{books['first'].pk}": "30.00"})
    assert done.status_code == 302
    assert on_replica.captured_queries == []  # the service and the page after it: all on the primary

    # Read-your-writes: right after the POST, the list this clerk opens reads the primary.
    listed = finance.get(reverse("payments:list"))
    assert "X-Settle-Read-From" not in listed
    assert "Fully allocated" in _row(listed, "BANK-ADA-30")

    # Once the cookie has expired, the list reads the (paused) replica again, without the allocation.
    settings.SETTLE_READ_YOUR_WRITES_SECONDS = 1
    time.sleep(1.2)
    stale = finance.get(reverse("payments:list"))
    assert stale["X-Settle-Read-From"] == "replica"
    assert "Unallocated" in _row(stale, "BANK-ADA-30")


def test_no_read_inside_a_transaction_goes_to_the_replica(books):
    with replica_reads() as alias:
        assert alias == "replica" and router.db_for_read(Invoice) == "replica"
        with transaction.atomic(), CaptureQueriesContext(connections["replica"]) as on_replica:
            assert router.db_for_read(Invoice) == "default"
            assert Invoice.objects.filter(pk=books["first"].pk).exists()
        assert on_replica.captured_queries == []
        from django.contrib.sessions.models import Session

        assert router.db_for_read(Session) == "default"  # who is signed in: always the primary
    assert router.db_for_read(Invoice) == "default"  # outside the block: the primary


def test_a_lagging_replica_says_so_and_a_far_behind_one_is_skipped(finance, books, replica_reads_on, settings):
    settings.SETTLE_REPLICA_LAG_SHOWN_SECONDS = 1
    replica_reads_on.catch_up()
    assert LAG_NOTE not in finance.get(reverse("invoices:list")).content.decode()  # caught up: nothing said

    replica_reads_on.pause_replay()
    late = make_invoice(customer=books["ada"], provider=books["acme"], total="55.00")
    time.sleep(1.5)
    lagging = finance.get(reverse("invoices:list"))
    assert lagging["X-Settle-Read-From"] == "replica" and LAG_NOTE in lagging.content.decode()

    settings.SETTLE_REPLICA_MAX_LAG_SECONDS = 1
    skipped = finance.get(reverse("invoices:list"))
    assert "X-Settle-Read-From" not in skipped and str(late) in skipped.content.decode()


def test_pages_keep_working_from_the_primary_when_the_replica_stops(finance, books, replica_reads_on):
    """Last in this module: it stops the standby, and starts it again for the tests after it."""
    assert finance.get(reverse("invoices:list"))["X-Settle-Read-From"] == "replica"  # a connection is open
    replica_reads_on.stop()
    try:
        late = make_invoice(customer=books["ada"], provider=books["acme"], total="55.00")
        for name in ("invoices:list", "invoices:list", "dashboard", "customer"):
            args = [books["ada"].pk] if name == "customer" else []
            response = finance.get(reverse(name, args=args))
            assert response.status_code == 200 and "X-Settle-Read-From" not in response
        assert str(late) in finance.get(reverse("invoices:list")).content.decode()
    finally:
        replica_reads_on.start()
