"""The snapshot behind unchanged_database() must see every kind of write a service makes."""

import pytest

from allocations.services import allocate
from invoices.services import issue_invoice
from tests.dbstate import ledger_counts, snapshot, unchanged_database
from tests.factories import make_invoice, make_payment

pytestmark = pytest.mark.django_db


def test_snapshot_sees_ledger_rows_cached_figures_and_counters(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider)
    payment = make_payment(customer=customer)
    before = snapshot()
    allocate(payment, invoice, "10.00", by=None)
    after = snapshot()
    changed = {key for key in before if before[key] != after[key]}
    assert {"count allocations_allocation", "invoices", "payments", "accounts"} <= changed
    draft = make_invoice(customer=customer, provider=provider, issue=False)
    before = snapshot()
    issue_invoice(draft, by=None)
    assert snapshot()["providers"] != before["providers"]
    assert ledger_counts()["allocations_allocation"] == 1


def test_unchanged_database_fails_on_a_write(customer, provider):
    invoice = make_invoice(customer=customer, provider=provider)
    payment = make_payment(customer=customer)
    with pytest.raises(AssertionError, match="the database changed"), unchanged_database():
        allocate(payment, invoice, "10.00", by=None)
