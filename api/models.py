"""The JSON API's own rows: tokens, idempotency keys, webhook subscriptions and deliveries.

None of them holds money; the API writes money only through the services (DESIGN.md section 7).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """A user's token for the API. Only its SHA-256 is kept; the token is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters, so a user can tell tokens apart in a list (not enough to use one).
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(models.Model):
    """One POST's key and the response it got, replayed for a retry with the same key and body.

    The row is inserted before the work, in the work's transaction: a concurrent request with the
    same key waits on the unique index until the first commits, then reads its response.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_key_unique")]


class RateWindow(models.Model):
    """How many requests a token made in one minute (api.auth.count_request): one row per token
    and minute, counted up by one statement, shared by every web process. UNLOGGED (migration
    0002): a crash forgets the counts, which costs nothing but a fresh minute. Purged hourly."""

    token_id = models.BigIntegerField()
    minute = models.BigIntegerField()  # seconds since the epoch // 60
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token_id", "minute"], name="api_rate_window_unique")]


class WebhookEvent(models.TextChoices):
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    PAYMENT_UNALLOCATED = "payment.unallocated", "Payment unallocated"
    CHARGEBACK_RECORDED = "chargeback.recorded", "Chargeback recorded"


class WebhookSubscription(models.Model):
    """A subscriber URL that receives the chosen events, signed with its secret (HMAC-SHA256)."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)  # WebhookEvent values
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one subscriber; a retry is a new row with the same event id."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(db_index=True)
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    attempt = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id", "attempt"], name="api_delivery_attempt_unique"),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="api_delivery_attempt_positive"),
        ]
