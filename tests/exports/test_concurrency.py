"""Exports against real concurrent transactions on PostgreSQL (I8, I12): threads, not mocks."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from exports.models import ExportBatch, ExportItem
from exports.services import export_batch
from invoices.models import Invoice
from invoices.services import issue_invoice
from ledger.models import Entry
from tests.exports.helpers import entry_rows, folder_profiles
from tests.factories import CustomerFactory, ProviderFactory, make_invoice
from tests.invariants import assert_invariants
from tests.ledger.test_concurrency import assert_no_deadlock_or_crash, run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def outbox(tmp_path, settings):
    settings.SETTLE_EXPORT_PROFILES = folder_profiles(tmp_path)
    return tmp_path / "outbox"


def test_two_export_runs_at_once_make_one_batch(customer, provider):
    for _ in range(5):
        make_invoice(customer=customer, provider=provider)

    results = run_together([lambda: export_batch(profile="agency", by=None)] * 4)

    assert_no_deadlock_or_crash(results)
    made = [value for outcome, value in results if value is not None]
    assert len(made) == 1 and made[0].entry_count == 5
    assert ExportBatch.objects.count() == 1 and ExportItem.objects.count() == 5
    assert_invariants()


def test_an_entry_committed_late_by_a_slow_transaction_goes_out_the_next_night(customer, provider, outbox):
    """The slow transaction takes its entry id first, commits after a batch that holds a later id:
    a batch chosen by date or id range would skip it for ever; chosen by absence, it goes next."""
    slow_draft = make_invoice(customer=customer, provider=provider, issue=False)
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_clerk():
        try:
            with transaction.atomic():
                issue_invoice(Invoice.objects.get(pk=slow_draft.pk), by=None)  # its entry id is taken now
                written.set()
                release.wait(timeout=30)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=slow_clerk)
    thread.start()
    assert written.wait(timeout=30)
    # Another account, so the fast clerk does not wait for the slow one's row locks.
    fast = make_invoice(customer=CustomerFactory(), provider=ProviderFactory())  # a later entry id, committed first
    night_one = export_batch(profile="agency", by=None)
    release.set()
    thread.join(timeout=30)
    assert done.is_set() and not errors

    slow_entry = Entry.objects.get(invoice_id=slow_draft.pk, kind="invoice")
    fast_entry = Entry.objects.get(invoice_id=fast.pk, kind="invoice")
    assert slow_entry.pk < fast_entry.pk
    assert [int(row["entry"]) for row in entry_rows(night_one.payload)] == [fast_entry.pk]

    night_two = export_batch(profile="agency", by=None)
    assert [int(row["entry"]) for row in entry_rows(night_two.payload)] == [slow_entry.pk]
    assert (outbox / "agency-000002.csv").read_bytes() == night_two.payload
    assert_invariants()
