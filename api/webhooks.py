"""Webhooks out: signed events to subscriber URLs, after commit, retried through the task queue.

Every write path tells of its status changes (ledger.signals.status_changed: pages, commands, the
bank import and the API alike) and of new chargebacks (post_save): the listeners below note the
candidates and, in `transaction.on_commit` (a rolled-back write sends nothing), read what is still
true and `emit` it: one delivery job per active subscription. The job
(api.tasks.deliver_webhook) POSTs the event, records each attempt as a WebhookDelivery row, and
raises on a failure so Procrastinate retries it (RETRY). The body is signed as Stripe signs its
events: header Settle-Signature `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the
subscription's secret>`, so a subscriber checks where it came from and refuses old replays.

A subscriber URL must not reach inside the network Settle runs in (server-side request
forgery): unless SETTLE_WEBHOOK_ALLOW_PRIVATE is on (development, tests, or an installation
whose subscribers are internal on purpose), a URL naming a loopback, private, link-local or
other non-public address is refused when subscribed, and every delivery resolves the host,
refuses it if any of its addresses is not public, and connects to the address it checked (a
DNS answer that changes between the check and the connection changes nothing). Redirects are
never followed: a 3xx is a failed delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
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


class AddressRefused(Exception):
    """The subscriber's host is, or resolves to, an address inside a private network."""


def _allow_private() -> bool:
    return getattr(settings, "SETTLE_WEBHOOK_ALLOW_PRIVATE", False)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is not public
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    allowed = {"https", "http"} if getattr(settings, "SETTLE_WEBHOOK_ALLOW_HTTP", False) else {"https"}
    if parts.scheme not in allowed or not parts.hostname:
        raise InvalidInput(f"url: a webhook URL is {' or '.join(sorted(allowed))}:// with a host.")
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise InvalidInput("url: the port is not a number from 0 to 65535.") from None
    if not _allow_private():
        host = parts.hostname
        try:
            literal = not _public(host)
        except ValueError:  # a name, checked again at every delivery
            literal = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
        if literal:
            raise InvalidInput(f"url: {host} is inside a private network; webhooks go to public addresses only.")
    return url


def resolve_public(host: str, port: int) -> str:
    """The address to connect to for `host`: its first, after checking that every one is public."""
    addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not addresses:
        raise OSError(f"{host} has no address")
    if not _allow_private():
        for address in addresses:
            if not _public(str(address)):
                raise AddressRefused(f"{host} resolves to {address}, inside a private network: not delivered")
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address resolve_public checked, whatever the host resolves to now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: the certificate is checked against the host's name, not the address."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST once to the checked address; the response's status (a redirect is not followed)."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = parts.hostname or ""
    address = resolve_public(host, port)
    kind = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = kind(host, port, address=address, timeout=TIMEOUT_SECONDS)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()


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
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Settle-Webhooks/1",
        SIGNATURE_HEADER: signature(subscription.secret, timestamp, body),
        "Settle-Event-Id": payload["id"],
    }
    delivery = WebhookDelivery(
        subscription=subscription, event_id=payload["id"], event=payload["type"], payload=payload, attempt=attempt
    )
    try:
        delivery.status_code = _post(subscription.url, body, headers)
    except AddressRefused as exc:
        delivery.error = str(exc)[:1000]
    except (OSError, http.client.HTTPException, TimeoutError) as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"[:1000]
    else:
        if not 200 <= delivery.status_code < 300:
            redirect = " (redirects are not followed)" if 300 <= delivery.status_code < 400 else ""
            delivery.error = f"HTTP {delivery.status_code}{redirect}"
    delivery.succeeded = delivery.status_code is not None and 200 <= delivery.status_code < 300
    delivery.save()
    return delivery


# --- The events: from every write path (ledger.signals), checked again after commit -----------------

SUBSCRIBED_CACHE_KEY = "settle:api:webhook-events"
SUBSCRIBED_TTL = 30  # seconds the shared cache keeps the set (a change deletes it at once)
#: Seconds this process reuses the set it read last without asking the shared cache: the one
#: lag another process may have in seeing a new or ended subscription. Every payment and
#: allocation asks, so the hot path of the API reads nothing for it.
SUBSCRIBED_LOCAL_SECONDS = 2.0

_local: tuple[float, frozenset[str]] | None = None


def subscribed_events() -> frozenset[str]:
    """The events someone subscribes to, cached: most writes have no one to tell, and then cost nothing."""
    global _local
    now = time.monotonic()
    if _local is not None and now - _local[0] < SUBSCRIBED_LOCAL_SECONDS:
        return _local[1]
    events = cache.get(SUBSCRIBED_CACHE_KEY)
    if events is None:
        events = set()
        for listed in WebhookSubscription.objects.filter(active=True).values_list("events", flat=True):
            events.update(listed)
        cache.set(SUBSCRIBED_CACHE_KEY, events, SUBSCRIBED_TTL)
    _local = (now, frozenset(events))
    return _local[1]


def subscriptions_changed() -> None:
    global _local
    _local = None
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
