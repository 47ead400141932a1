"""POST /api/v1/payments with auto_allocate: a new payment goes through the set-based write path
(allocations.services.auto_allocate_recorded), one recorded before with the reference through the
clerk's path, which reads the payment again; either way the statements do not grow with the
customer's open invoices."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from allocations.models import Allocation
from allocations.services import allocate
from payments.models import Payment
from payments.services import record_payment
from tests.factories import ProviderFactory, make_invoice

TODAY = datetime.date.today()


def _body(customer, amount: str, **extra) -> dict:
    return {"customer_id": customer.pk, "amount": amount, "currency": "EUR", "auto_allocate": True, **extra}


@pytest.mark.django_db
def test_a_payment_recorded_before_with_the_reference_is_auto_allocated_as_the_ledger_has_it(finance_api, customer):
    provider = ProviderFactory()
    first = make_invoice(customer=customer, provider=provider, total="20.00", due_date=TODAY)
    second = make_invoice(customer=customer, provider=provider, total="30.00", due_date=TODAY)
    earlier = record_payment(
        customer=customer, amount="50.00", currency="EUR", method="bank_transfer", reference="PSP-7", by=None
    )
    allocate(earlier, first, "20.00", by=None)  # a clerk placed part of it after the processor's first call

    response = finance_api.post("/api/v1/payments", _body(customer, "50.00", reference="PSP-7"))

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["payment"]["id"] == earlier.pk
    assert [(a["invoice_id"], a["amount"]) for a in answer["allocations"]] == [(second.pk, "30.00")]
    assert (answer["payment"]["unallocated"], answer["payment"]["allocation_status"]) == ("0.00", "fully_allocated")
    assert Payment.objects.count() == 1
    assert Allocation.objects.filter(payment=earlier).count() == 2


@pytest.mark.django_db
def test_a_new_payment_pays_the_oldest_first_and_keeps_the_rest(finance_api, customer):
    provider = ProviderFactory()
    older = make_invoice(customer=customer, provider=provider, total="40.00", due_date=TODAY - datetime.timedelta(5))
    newer = make_invoice(customer=customer, provider=provider, total="40.00", due_date=TODAY)

    answer = finance_api.post("/api/v1/payments", _body(customer, "50.00", reference="PSP-8")).json()

    assert [(a["invoice_id"], a["amount"]) for a in answer["allocations"]] == [(older.pk, "40.00"), (newer.pk, "10.00")]
    payment = Payment.objects.get(pk=answer["payment"]["id"])
    assert (payment.unallocated, payment.allocation_status) == (Decimal("0.00"), "fully_allocated")
    assert [answer["payment"]["unallocated"], answer["payment"]["allocated_total"]] == ["0.00", "50.00"]
    newer.refresh_from_db()
    assert (newer.balance_due, newer.payment_status) == (Decimal("30.00"), "partially_paid")


@pytest.mark.django_db
def test_recording_with_auto_allocation_takes_the_same_statements_for_one_or_thirty_open_invoices(
    finance_api, customer
):
    provider = ProviderFactory()
    # the first request of a process reads the webhook subscriptions (kept for 2 s): not measured
    assert finance_api.post("/api/v1/payments", {**_body(customer, "1.00"), "auto_allocate": False}).status_code == 201
    counts = []
    for open_invoices in (1, 30):
        target = make_invoice(customer=customer, provider=provider, total="12.34", due_date=TODAY)
        for _ in range(open_invoices - 1):
            make_invoice(customer=customer, provider=provider, total="99.00", due_date=TODAY)
        with CaptureQueriesContext(connection) as queries:
            answer = finance_api.post("/api/v1/payments", _body(customer, "12.34"), key=f"evt-{open_invoices}")
        assert [a["invoice_id"] for a in answer.json()["allocations"]] == [target.pk]  # the exact match
        counts.append(len(queries))
    assert counts[0] == counts[1]
    # token, rate count, key, customer, 3 rows of the payment, account lock, the rule's read, invoice
    # lock, 7 writes and refreshes, the key's answer; with BEGIN, COMMIT and the key's savepoint
    assert counts[0] <= 22, counts
