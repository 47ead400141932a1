"""What ledger.bulk writes besides the money: who recorded it, the signal the webhooks hear, and
rows that know they are saved (mutation testing found each of these unguarded, issue 18)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from allocations.services import auto_allocate_many
from invoices.models import InvoiceStatusChange
from ledger.signals import status_changed
from payments.models import PaymentStatusChange
from payments.services import record_payments
from tests.factories import make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Every status_changed signal sent while the test runs: (sender, changes)."""
    said = []

    def receiver(sender, changes, **kwargs):
        said.append((sender, changes))

    status_changed.connect(receiver, dispatch_uid="tests.ledger.test_bulk_rows")
    yield said
    status_changed.disconnect(dispatch_uid="tests.ledger.test_bulk_rows")


def test_payments_recorded_together_carry_their_clerk_and_are_saved_rows(customer, clerk, heard):
    received = timezone.now() - datetime.timedelta(hours=1)
    payments = record_payments(
        [(customer, "10.00", "EUR", "BANK-1", received), (customer, "20.00", "EUR", "BANK-2", received)],
        method="bank_transfer",
        by=clerk,
    )
    history = PaymentStatusChange.objects.filter(payment__in=payments)
    assert history.count() == 4
    assert {change.created_by for change in history} == {clerk}
    # Saved rows: a form or validation treats them as existing, not as new ones to insert.
    assert [(p.pk is not None, p._state.adding) for p in payments] == [(True, False), (True, False)]
    assert [sender for sender, _ in heard] == [PaymentStatusChange]
    assert sorted(heard[0][1]) == sorted(
        (p.pk, field, "", new)
        for p in payments
        for field, new in (("state", "settled"), ("allocation_status", "unallocated"))
    )


def test_a_set_based_allocation_tells_the_webhooks_which_history_changed(customer, provider, clerk, heard):
    invoice = make_invoice(customer=customer, provider=provider, total="30.00")
    [payment] = record_payments(
        [(customer, "30.00", "EUR", "BANK-3", timezone.now())], method="bank_transfer", by=clerk
    )
    heard.clear()
    [(rows, _plan)] = auto_allocate_many([payment], preferred=[[invoice.number]], by=clerk)
    assert [row.amount for row in rows] == [Decimal("30.00")]
    senders = {sender for sender, _ in heard}
    assert senders == {InvoiceStatusChange, PaymentStatusChange}
    invoice_changes = [change for sender, changes in heard if sender is InvoiceStatusChange for change in changes]
    assert (invoice.pk, "payment_status", "unpaid", "paid") in invoice_changes


def test_a_clerks_allocation_tells_the_webhooks_which_history_changed(customer, provider, clerk, heard):
    """The one-by-one path (ledger.core._record) sends the same signal as the set-based one."""
    from allocations.services import allocate
    from tests.factories import make_payment

    invoice = make_invoice(customer=customer, provider=provider, total="25.00")
    payment = make_payment(customer=customer, amount="25.00")
    heard.clear()
    allocate(payment, invoice, "25.00", by=clerk)
    assert {sender for sender, _ in heard} == {InvoiceStatusChange, PaymentStatusChange}
    invoice_changes = [change for sender, changes in heard if sender is InvoiceStatusChange for change in changes]
    assert (invoice.pk, "payment_status", "unpaid", "paid") in invoice_changes
