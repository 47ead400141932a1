"""Webhooks out: signed events to subscriber URLs, after commit, retried through the task queue.

Every write path tells of its status changes (ledger.signals.status_changed: pages, commands, the
bank import and the API alike) and of new chargebacks (post_save): the listeners below note the
candidates and, in `transaction.on_commit` (a rolled-back write sends nothing), read what is still
true and `emit` it: one delivery job per active subscription. The job
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
from django.core.cache import cache
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
    subscription = WebhookSubscription.objects.create(
        url=url, events=sorted(set(events)), secret=secrets.token_hex(32), created_by=by
    )
    transaction.on_commit(subscriptions_changed)
    return subscription


def subscribers(event: str) -> list[int]:
    """The active subscriptions to `event` (one small query; most requests have none to tell)."""
    return [
        pk
        for pk, events in WebhookSubscription.objects.filter(active=True).values_list("pk", "events")
        if event in events
    ]


def emit(event: str, data: dict) -> None:
    """Send `event` to its subscribers once the current transaction commits (at once outside one)."""
    subscriptions = subscribers(event)
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


# --- The events: from every write path (ledger.signals), checked again after commit -----------------

SUBSCRIBED_CACHE_KEY = "settle:api:webhook-events"
SUBSCRIBED_TTL = 30  # seconds another process may take to see a new subscription


def subscribed_events() -> set[str]:
    """The events someone subscribes to, cached: most writes have no one to tell, and then cost nothing."""
    events = cache.get(SUBSCRIBED_CACHE_KEY)
    if events is None:
        events = set()
        for listed in WebhookSubscription.objects.filter(active=True).values_list("events", flat=True):
            events.update(listed)
        cache.set(SUBSCRIBED_CACHE_KEY, events, SUBSCRIBED_TTL)
    return events


def subscriptions_changed() -> None:
    cache.delete(SUBSCRIBED_CACHE_KEY)


def on_status_changed(sender, changes, **kwargs) -> None:
    """ledger.signals.status_changed: note the candidates; after commit, tell what is still true."""
    from invoices.models import InvoiceStatusChange
    from payments.models import PaymentStatusChange

    if sender is InvoiceStatusChange:
        paid = [pk for pk, field, _old, new in changes if field == "payment_status" and new == "paid"]
        if paid and WebhookEvent.INVOICE_PAID in subscribed_events():
            transaction.on_commit(lambda: send_invoices_paid(paid))
    elif sender is PaymentStatusChange:
        # Money received and not allocated: a new or settled payment (auto-allocated in the same
        # transaction: not any more at commit, so nothing is sent), or one whose allocations went.
        moved = [
            pk
            for pk, field, old, new in changes
            if (field == "allocation_status" and new == "unallocated")
            or (field, old, new) == ("state", "pending", "settled")
        ]
        if moved and WebhookEvent.PAYMENT_UNALLOCATED in subscribed_events():
            transaction.on_commit(lambda: send_payments_unallocated(moved))


def on_chargeback_saved(sender, instance, created: bool, **kwargs) -> None:
    if created and WebhookEvent.CHARGEBACK_RECORDED in subscribed_events():
        transaction.on_commit(lambda: send_chargeback(instance.pk))


def send_invoices_paid(invoice_ids: list[int]) -> None:
    from invoices.models import Invoice

    for invoice in Invoice.objects.filter(pk__in=set(invoice_ids), payment_status="paid").order_by("id"):
        emit(
            WebhookEvent.INVOICE_PAID,
            {
                "invoice_id": invoice.pk,
                "number": invoice.number,
                "customer_id": invoice.customer_id,
                "currency": invoice.currency,
                "total": str(invoice.total),
                "paid_total": str(invoice.paid_total),
            },
        )


def send_payments_unallocated(payment_ids: list[int]) -> None:
    from payments.models import Payment

    payments = Payment.objects.filter(pk__in=set(payment_ids), state="settled", allocation_status="unallocated")
    for payment in payments.order_by("id"):
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


def send_chargeback(chargeback_id: int) -> None:
    from payments.models import Chargeback

    chargeback = Chargeback.objects.select_related("payment").filter(pk=chargeback_id).first()
    if chargeback is None:
        return
    payment = chargeback.payment
    emit(
        WebhookEvent.CHARGEBACK_RECORDED,
        {
            "chargeback_id": chargeback.pk,
            "payment_id": payment.pk,
            "customer_id": payment.customer_id,
            "currency": payment.currency,
            "amount": str(chargeback.amount),
            "reason": chargeback.reason,
            "payment_charged_back_total": str(payment.charged_back_total),
        },
    )
