"""Webhooks cannot be pointed inside Settle's own network (server-side request forgery): private
addresses are refused when subscribed and again at every delivery, and redirects are not followed.
Deliveries go to real HTTP servers on 127.0.0.1 (allowed where a test says so)."""

import json

import pytest
from django.test import override_settings

from api import webhooks
from api.models import WebhookDelivery
from tests.api.conftest import client_for
from tests.api.webhook_receiver import receiver

PAYLOAD = {"id": "6b1f7c2e-1d7e-4a0e-9a51-0c2f4c8e5b10", "type": "invoice.paid", "data": {"id": 1}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8000/hook",
        "http://db.internal/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_a_private_address_is_refused_when_subscribed(url):
    api = client_for("finance", "shop")
    with override_settings(SETTLE_WEBHOOK_ALLOW_PRIVATE=False):
        response = api.post("/api/v1/webhooks", {"url": url, "events": ["invoice.paid"]})
    assert response.status_code == 400, response.content
    assert "private network" in response.json()["message"]


@pytest.mark.django_db
def test_a_public_name_is_accepted_when_subscribed():
    api = client_for("finance", "shop")
    with override_settings(SETTLE_WEBHOOK_ALLOW_PRIVATE=False):
        response = api.post("/api/v1/webhooks", {"url": "https://hooks.example.com/settle", "events": ["invoice.paid"]})
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_a_name_that_resolves_inside_the_network_is_not_delivered_to():
    """The check at delivery is what counts: a public-looking name may resolve to 127.0.0.1."""
    with receiver() as hook:
        url = hook.url.replace("127.0.0.1", "localhost")
        subscription = webhooks.subscribe(url=url, events=["invoice.paid"], by=None)  # allowed in tests
        with override_settings(SETTLE_WEBHOOK_ALLOW_PRIVATE=False):
            refused = webhooks.deliver(subscription.pk, PAYLOAD, attempt=1)
        assert hook.received == []
        allowed = webhooks.deliver(subscription.pk, PAYLOAD, attempt=2)  # the same, where private is allowed
        assert len(hook.received) == 1 and json.loads(hook.received[0][1])["id"] == PAYLOAD["id"]
    assert not refused.succeeded and refused.status_code is None
    assert "inside a private network" in refused.error
    assert allowed.succeeded and allowed.status_code == 204
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 2


@pytest.mark.django_db
def test_a_redirect_is_a_failed_delivery_and_is_not_followed():
    with receiver() as target, receiver(redirect_to="") as hop:
        hop.redirect_to = target.url
        subscription = webhooks.subscribe(url=hop.url, events=["invoice.paid"], by=None)
        delivery = webhooks.deliver(subscription.pk, PAYLOAD, attempt=1)
        assert target.received == []
    assert delivery.status_code == 307 and not delivery.succeeded
    assert "redirects are not followed" in delivery.error


@pytest.mark.django_db
def test_a_subscriber_that_is_down_is_a_failed_delivery_with_the_reason():
    with receiver() as hook:
        url = hook.url
    subscription = webhooks.subscribe(url=url, events=["invoice.paid"], by=None)
    delivery = webhooks.deliver(subscription.pk, PAYLOAD, attempt=1)
    assert not delivery.succeeded and delivery.status_code is None
    assert "ConnectionRefused" in delivery.error
