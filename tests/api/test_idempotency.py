"""Idempotency-Key: a retry replays the first response; another body is a 409; ten at once do it once."""

import datetime
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from api.models import IdempotencyKey
from payments.models import Payment
from tests.api.conftest import client_for
from tests.factories import CustomerFactory, ProviderFactory, make_invoice


def _payment(customer, amount="40.00", **extra):
    return {"customer_id": customer.pk, "amount": amount, "currency": "EUR", "reference": "PSP-1", **extra}


@pytest.mark.django_db
def test_a_retry_with_the_same_key_returns_the_first_response_and_records_nothing_more(finance_api, customer):
    first = finance_api.post("/api/v1/payments", _payment(customer, reference=None), key="psp-evt-1")
    assert first.status_code == 201
    again = finance_api.post("/api/v1/payments", _payment(customer, reference=None), key="psp-evt-1")
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    # Without a key (and without a reference) the same body is new money.
    assert finance_api.post("/api/v1/payments", _payment(customer, reference=None)).status_code == 201
    assert Payment.objects.count() == 2


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_conflict(finance_api, customer):
    assert finance_api.post("/api/v1/payments", _payment(customer), key="k").status_code == 201
    response = finance_api.post("/api/v1/payments", _payment(customer, amount="41.00"), key="k")
    assert response.status_code == 409
    assert response.json()["code"] == "IdempotencyKeyReused"
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_user(finance_api, customer):
    other = client_for("finance", "other-finance")
    assert finance_api.post("/api/v1/payments", _payment(customer, reference=None), key="same").status_code == 201
    assert other.post("/api/v1/payments", _payment(customer, reference=None), key="same").status_code == 201
    assert Payment.objects.count() == 2


@pytest.mark.django_db
def test_a_refusal_is_replayed_and_writes_nothing(finance_api, customer):
    payment = Payment.objects.get(pk=finance_api.post("/api/v1/payments", _payment(customer)).json()["payment"]["id"])
    body = {"amount": "500.00", "reason": "customer asked"}
    first = finance_api.post(f"/api/v1/payments/{payment.pk}/refunds", body, key="refund-1")
    assert first.status_code == 400 and first.json()["code"] == "InsufficientFunds"
    again = finance_api.post(f"/api/v1/payments/{payment.pk}/refunds", body, key="refund-1")
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    payment.refresh_from_db()
    assert payment.refunded_total == 0


@pytest.mark.django_db
def test_a_refused_token_does_not_use_up_the_key(support_api, finance_api, customer):
    assert support_api.post("/api/v1/payments", _payment(customer), key="x").status_code == 403
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_keys_are_kept_24_hours(finance_api, customer):
    assert finance_api.post("/api/v1/payments", _payment(customer, reference=None), key="old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 1" in out.getvalue()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_an_expired_key_is_new_again(finance_api, customer):
    assert finance_api.post("/api/v1/payments", _payment(customer, reference=None), key="k").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    replay = finance_api.post("/api/v1/payments", _payment(customer, reference=None), key="k")
    assert replay.status_code == 201 and not replay.has_header("Idempotent-Replayed")
    assert Payment.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_ten_identical_posts_at_once_record_one_payment_and_allocate_it_once():
    provider = ProviderFactory(code="SHOP")
    customer = CustomerFactory()
    invoice = make_invoice(customer=customer, provider=provider, total="40.00")
    api = client_for("finance", "psp")
    body = {"customer_id": customer.pk, "amount": "40.00", "currency": "EUR", "auto_allocate": True}
    barrier = threading.Barrier(10)
    responses = [None] * 10

    def post(i: int) -> None:
        try:
            barrier.wait()
            responses[i] = api.post("/api/v1/payments", body, key="evt_concurrent")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if r.has_header("Idempotent-Replayed")) == 9
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.paid_total == invoice.total and invoice.payment_status == "paid"
