"""Worked examples through the API only, as the shop and the card processor use it; webhooks go to a
real HTTP server on 127.0.0.1 through the task queue (a Procrastinate worker run in the test)."""

import hmac
import json
import time
from hashlib import sha256

import pytest
from procrastinate.contrib.django import app
from procrastinate.periodic import PeriodicRegistry

from api.models import WebhookDelivery
from payments.models import Payment
from tests.api.conftest import client_for
from tests.api.webhook_receiver import receiver
from tests.factories import CustomerFactory, ProviderFactory


def run_jobs(until, timeout: float = 30.0) -> None:
    """Run the webhooks queue's jobs (retries come due after a few seconds) until `until()` holds."""
    worker = app.with_connector(app.connector.get_worker_connector())
    # Only the queued jobs: the periodic jobs' deferrer would keep a connection past the test.
    worker.periodic_registry = PeriodicRegistry()
    deadline = time.monotonic() + timeout
    while True:
        worker.run_worker(queues=["webhooks"], wait=False, install_signal_handlers=False, listen_notify=False)
        if until():
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"the webhook jobs did not finish in time: {list(WebhookDelivery.objects.values_list('event', 'status_code'))}"
            )
        time.sleep(0.5)


def verify(secret: str, headers: dict, body: bytes) -> dict:
    parts = dict(item.split("=", 1) for item in headers["Settle-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 300
    return json.loads(body)


@pytest.mark.django_db(transaction=True)
def test_shop_order_invoiced_paid_by_the_processor_with_a_retry_then_charged_back():
    provider = ProviderFactory(name="Shop", code="SHOP")
    shop, processor = client_for("finance", "shop"), client_for("finance", "processor")
    with receiver(fail_first=1) as hook:
        subscription = shop.post(
            "/api/v1/webhooks", {"url": hook.url, "events": ["invoice.paid", "chargeback.recorded"]}
        ).json()

        customer = shop.post("/api/v1/customers", {"name": "Grace Hopper", "email": "grace@example.com"}).json()
        order = shop.post(
            "/api/v1/orders",
            {
                "customer_id": customer["id"],
                "provider_id": provider.pk,
                "currency": "EUR",
                "lines": [
                    {"description": "Keyboard", "quantity": "1", "unit_price": "80.00"},
                    {"description": "Cable", "quantity": "2", "unit_price": "10.00"},
                ],
            },
            key="order-1001",
        )
        assert order.status_code == 201, order.content
        order = order.json()
        invoice = shop.post(f"/api/v1/orders/{order['id']}/invoices", {}, key="invoice-1001")
        assert invoice.status_code == 201, invoice.content
        invoice = invoice.json()
        assert (invoice["total"], invoice["state"], invoice["payment_status"]) == ("100.00", "open", "unpaid")

        payment_body = {
            "customer_id": customer["id"],
            "amount": "100.00",
            "currency": "EUR",
            "method": "card",
            "reference": "ch_3PXyz",
            "auto_allocate": True,
        }
        first = processor.post("/api/v1/payments", payment_body, key="evt_1PXyz")
        # The processor's connection timed out before it read the answer: it sends the same again.
        retry = processor.post("/api/v1/payments", payment_body, key="evt_1PXyz")
        assert first.status_code == retry.status_code == 201
        assert retry.content == first.content
        assert Payment.objects.count() == 1
        payment = first.json()
        assert [a["invoice_id"] for a in payment["allocations"]] == [invoice["id"]]
        assert shop.get(f"/api/v1/invoices/{invoice['id']}").json()["payment_status"] == "paid"
        assert shop.get(f"/api/v1/orders/{order['id']}").json()["payment_status"] == "paid"

        chargeback = processor.post(
            f"/api/v1/payments/{payment['payment']['id']}/chargebacks",
            {"amount": "100.00", "reason": "fraudulent"},
            key="evt_1PXcb",
        )
        assert chargeback.status_code == 201, chargeback.content
        assert chargeback.json()["payment"]["charged_back_total"] == "100.00"
        reopened = shop.get(f"/api/v1/invoices/{invoice['id']}").json()
        assert (reopened["payment_status"], reopened["balance_due"]) == ("unpaid", "100.00")

        run_jobs(until=lambda: len(hook.received) == 2)

    events = [verify(subscription["secret"], headers, body) for headers, body in hook.received]
    assert sorted(e["type"] for e in events) == ["chargeback.recorded", "invoice.paid"]
    paid = next(e for e in events if e["type"] == "invoice.paid")
    assert paid["data"]["invoice_id"] == invoice["id"] and paid["data"]["paid_total"] == "100.00"
    # The first attempt got a 503 and was retried through the queue: each attempt is a row.
    attempts = list(WebhookDelivery.objects.order_by("id").values_list("event", "attempt", "status_code", "succeeded"))
    assert len(attempts) == 3
    assert attempts[0][2:] == (503, False)
    assert sorted(a[1:] for a in attempts[1:]) == [(1, 204, True), (2, 204, True)]
    listed = shop.get(f"/api/v1/webhooks/{subscription['id']}/deliveries").json()
    assert len(listed) == 3


@pytest.mark.django_db(transaction=True)
def test_auto_allocate_dry_run_shows_the_plan_and_its_reasons_and_writes_nothing():
    provider = ProviderFactory(code="ACME")
    customer = CustomerFactory()
    api = client_for("finance", "bank")
    ids = []
    for total in ("30.00", "45.00", "60.00"):
        created = api.post(
            "/api/v1/invoices",
            {
                "customer_id": customer.pk,
                "provider_id": provider.pk,
                "currency": "EUR",
                "due_date": "2027-01-31",
                "lines": [{"description": "Work", "quantity": "1", "unit_price": total}],
                "issue": True,
            },
        )
        ids.append(created.json()["id"])
    with receiver() as hook:
        api.post("/api/v1/webhooks", {"url": hook.url, "events": ["payment.unallocated", "invoice.paid"]})
        payment = api.post("/api/v1/payments", {"customer_id": customer.pk, "amount": "75.00", "currency": "EUR"})
        payment_id = payment.json()["payment"]["id"]
        dry = api.post(f"/api/v1/payments/{payment_id}/auto-allocate", {"dry_run": True}).json()
        assert dry["dry_run"] and dry["allocations"] == []
        assert [(s["invoice_id"], s["amount"]) for s in dry["plan"]] == [(ids[0], "30.00"), (ids[1], "45.00")]
        assert all(s["reason"] for s in dry["plan"])
        assert api.get(f"/api/v1/payments/{payment_id}").json()["unallocated"] == "75.00"
        done = api.post(f"/api/v1/payments/{payment_id}/auto-allocate", {}).json()
        assert [(a["invoice_id"], a["amount"]) for a in done["allocations"]] == [(ids[0], "30.00"), (ids[1], "45.00")]
        assert done["payment"]["allocation_status"] == "fully_allocated"
        run_jobs(until=lambda: len(hook.received) == 3)
    types = sorted(json.loads(body)["type"] for _headers, body in hook.received)
    assert types == ["invoice.paid", "invoice.paid", "payment.unallocated"]


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_sends_no_webhook():
    customer = CustomerFactory()
    api = client_for("finance", "psp")
    with receiver() as hook:
        api.post("/api/v1/webhooks", {"url": hook.url, "events": ["chargeback.recorded"]})
        payment = api.post("/api/v1/payments", {"customer_id": customer.pk, "amount": "10.00", "currency": "EUR"})
        refused = api.post(
            f"/api/v1/payments/{payment.json()['payment']['id']}/chargebacks", {"amount": "11.00", "reason": "x"}
        )
        assert refused.status_code == 400
        run_jobs(until=lambda: True)
        assert hook.received == []
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_webhooks_follow_every_write_path_not_only_the_api():
    """A clerk's allocation on the pages (the same services) tells the subscriber too."""
    from allocations.services import allocate
    from payments.services import record_chargeback, record_payment
    from tests.factories import make_invoice

    customer = CustomerFactory()
    invoice = make_invoice(customer=customer, total="50.00")
    api = client_for("finance", "listener")
    with receiver() as hook:
        api.post(
            "/api/v1/webhooks",
            {"url": hook.url, "events": ["invoice.paid", "payment.unallocated", "chargeback.recorded"]},
        )
        payment = record_payment(customer=customer, amount="50.00", currency="EUR", method="bank_transfer", by=None)
        allocate(payment, invoice, "50.00", by=None)
        record_chargeback(payment, amount="50.00", by=None, reason="disputed")
        run_jobs(until=lambda: len(hook.received) == 3)
    types = [json.loads(body)["type"] for _headers, body in hook.received]
    assert sorted(types) == ["chargeback.recorded", "invoice.paid", "payment.unallocated"]


@pytest.mark.django_db(transaction=True)
def test_a_payment_auto_allocated_in_its_own_transaction_is_never_reported_unallocated():
    provider = ProviderFactory(code="ACME")
    customer = CustomerFactory()
    api = client_for("finance", "psp2")
    api.post(
        "/api/v1/invoices",
        {
            "customer_id": customer.pk,
            "provider_id": provider.pk,
            "currency": "EUR",
            "due_date": "2027-01-31",
            "lines": [{"description": "Work", "quantity": "1", "unit_price": "20.00"}],
            "issue": True,
        },
    )
    with receiver() as hook:
        api.post("/api/v1/webhooks", {"url": hook.url, "events": ["payment.unallocated", "invoice.paid"]})
        body = {"customer_id": customer.pk, "amount": "20.00", "currency": "EUR", "auto_allocate": True}
        assert api.post("/api/v1/payments", body).status_code == 201
        run_jobs(until=lambda: len(hook.received) >= 1)
        time.sleep(0.5)
        run_jobs(until=lambda: True)
    assert [json.loads(body)["type"] for _headers, body in hook.received] == ["invoice.paid"]


@pytest.mark.django_db
def test_the_registration_site_registers_a_cart_then_a_cancellation_moves_the_wait_list_up():
    """Through the API only: two workshops, one with a single seat already taken; a cart over both
    (one confirmed and charged on one invoice, one wait-listed and not charged), retried with the
    same key (one cart); then the seat holder cancels in time: a full credit, and the wait-listed
    registration takes the seat, charged on its own invoice."""
    import datetime

    from django.utils import timezone

    provider = ProviderFactory(name="Bakery school", code="BAKE")
    site = client_for("finance", "registration-site")
    starts = (timezone.now() + datetime.timedelta(days=30)).isoformat()
    bread, cakes = (
        site.post(
            "/api/v1/workshops",
            {
                "provider_id": provider.pk,
                "title": title,
                "starts_at": starts,
                "capacity": seats,
                "price": price,
                "currency": "EUR",
            },
        ).json()
        for title, seats, price in (("Bread", 5, "120.00"), ("Cakes", 1, "80.00"))
    )
    early = site.post("/api/v1/customers", {"name": "Early Bird"}).json()
    late = site.post("/api/v1/customers", {"name": "Ada Lovelace"}).json()
    first = site.post("/api/v1/registrations", {"customer_id": early["id"], "workshop_ids": [cakes["id"]]}).json()
    assert [r["status"] for r in first["registrations"]] == ["confirmed"]

    body = {"customer_id": late["id"], "workshop_ids": [bread["id"], cakes["id"]], "attendee": "Ada"}
    cart = site.post("/api/v1/registrations", body, key="cart-77")
    again = site.post("/api/v1/registrations", body, key="cart-77")

    assert cart.status_code == 201, cart.content
    assert again.json() == cart.json() and again.headers["Idempotent-Replayed"] == "true"
    registrations = cart.json()["registrations"]
    assert [(r["workshop_id"], r["status"], r["waitlist_position"]) for r in registrations] == [
        (bread["id"], "confirmed", None),
        (cakes["id"], "waitlisted", 1),
    ]
    order = site.get(f"/api/v1/orders/{cart.json()['order_id']}").json()
    assert (order["invoiced_total"], order["balance_due"]) == ("120.00", "120.00")  # the seat only

    cancel = site.post(
        f"/api/v1/registrations/{first['registrations'][0]['id']}/cancel", {"reason": "Cannot come after all"}
    )
    assert cancel.status_code == 200, cancel.content
    assert (cancel.json()["status"], cancel.json()["credit_note_id"] is not None) == ("canceled", True)
    moved_up = site.get(f"/api/v1/registrations/{registrations[1]['id']}").json()
    assert (moved_up["status"], moved_up["waitlist_position"]) == ("confirmed", None)
    assert moved_up["invoice_id"] not in (None, registrations[0]["invoice_id"])  # its own invoice
    workshop = site.get(f"/api/v1/workshops/{cakes['id']}").json()
    assert (workshop["seats_taken"], workshop["waitlist_length"]) == (1, 0)
    order = site.get(f"/api/v1/orders/{cart.json()['order_id']}").json()
    assert order["invoiced_total"] == "200.00"
    refused = site.post(
        "/api/v1/registrations", {"customer_id": late["id"], "workshop_ids": [bread["id"]], "attendee": "Ada"}
    )
    assert refused.status_code == 400 and refused.json()["code"] in ("InvalidInput", "InvalidState"), refused.json()
