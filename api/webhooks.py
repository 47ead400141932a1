"""Webhooks out: signed events to subscriber URLs, after commit, retried through the task queue.

`emit(event, data)` (called inside the write's transaction) defers one delivery job per active
subscription in `transaction.on_commit`, so a rolled-back write sends nothing. The job
(api.tasks.deliver_webhook) POSTs the event, records each attempt as a WebhookDelivery row, and
raises on a failure so Procrastinate retries it (RETRY). The body is signed as Stripe signs its
events: header Settle-Signature `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the
subscription's secret>`, so a subscriber checks where it came from and refuses old replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from billing.actors import Actor
from billing.errors import InvalidInput

SIGNATURE_HEADER = "Settle-Signature"
TIMEOUT_SECONDS = 10


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    allowed = {"https", "http"} if getattr(settings, "SETTLE_WEBHOOK_ALLOW_HTTP", False) else {"https"}
    if parts.scheme not in allowed or not parts.hostname:
        raise InvalidInput(f"url: a webhook URL is {' or '.join(sorted(allowed))}:// with a host.")
    return url


@transaction.atomic
def subscribe(*, url: str, events: list[str], by: Actor) -> WebhookSubscription:
    url = check_url(url)
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if not events or unknown:
        raise InvalidInput(
            f"events: choose from {', '.join(WebhookEvent.values)}" + (f"; not {unknown}" if unknown else "")
        )
    return WebhookSubscription.objects.create(
        url=url, events=sorted(set(events)), secret=secrets.token_hex(32), created_by=by
    )


def subscribers(event: str) -> list[int]:
    """The active subscriptions to `event` (one small query; most requests have none to tell)."""
    return [
        pk
        for pk, events in WebhookSubscription.objects.filter(active=True).values_list("pk", "events")
        if event in events
    ]


def emit(event: str, data: dict, *, to: list[int] | None = None) -> None:
    """Send `event` to its subscribers once the current transaction commits (nothing if it rolls back)."""
    subscriptions = subscribers(event) if to is None else to
    if not subscriptions:
        return
    payload = json.loads(
        json.dumps(
            {"id": str(uuid.uuid4()), "type": event, "created_at": timezone.now().isoformat(), "data": data},
            cls=DjangoJSONEncoder,
        )
    )

    def defer() -> None:
        from api.tasks import deliver_webhook

        for pk in subscriptions:
            deliver_webhook.defer(subscription_id=pk, payload=payload)

    transaction.on_commit(defer)


def deliver(subscription_id: int, payload: dict, *, attempt: int) -> WebhookDelivery:
    """POST the event once and record the attempt; the caller retries a failed one."""
    subscription = WebhookSubscription.objects.get(pk=subscription_id)
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Settle-Webhooks/1",
            SIGNATURE_HEADER: signature(subscription.secret, timestamp, body),
            "Settle-Event-Id": payload["id"],
        },
    )
    delivery = WebhookDelivery(
        subscription=subscription, event_id=payload["id"], event=payload["type"], payload=payload, attempt=attempt
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (checked scheme)
            delivery.status_code = response.status
    except urllib.error.HTTPError as exc:
        delivery.status_code = exc.code
        delivery.error = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        delivery.error = str(getattr(exc, "reason", exc))[:1000]
    delivery.succeeded = delivery.status_code is not None and 200 <= delivery.status_code < 300
    delivery.save()
    return delivery


# --- The events ---------------------------------------------------------------------------------


def invoices_paid(invoice_ids) -> None:
    from invoices.models import Invoice

    invoice_ids = list(invoice_ids)
    to = subscribers(WebhookEvent.INVOICE_PAID) if invoice_ids else []
    if not to:
        return
    for invoice in Invoice.objects.filter(pk__in=invoice_ids, payment_status="paid").order_by("id"):
        emit(
            WebhookEvent.INVOICE_PAID,
            to=to,
            data={
                "invoice_id": invoice.pk,
                "number": invoice.number,
                "customer_id": invoice.customer_id,
                "currency": invoice.currency,
                "total": str(invoice.total),
                "paid_total": str(invoice.paid_total),
            },
        )


def payment_unallocated(payment) -> None:
    if payment.state == "settled" and payment.allocation_status == "unallocated":
        emit(
            WebhookEvent.PAYMENT_UNALLOCATED,
            {
                "payment_id": payment.pk,
                "customer_id": payment.customer_id,
                "currency": payment.currency,
                "amount": str(payment.amount),
                "unallocated": str(payment.unallocated),
                "reference": payment.reference,
            },
        )


def chargeback_recorded(chargeback, payment) -> None:
    emit(
        WebhookEvent.CHARGEBACK_RECORDED,
        {
            "chargeback_id": chargeback.pk,
            "payment_id": payment.pk,
            "customer_id": payment.customer_id,
            "currency": payment.currency,
            "amount": str(chargeback.amount),
            "reason": chargeback.reason,
        },
    )
