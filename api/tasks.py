"""Procrastinate tasks of the API: webhook deliveries (retried) and the idempotency-key cleanup."""

from __future__ import annotations

from django.db import close_old_connections, connection
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from api import webhooks
from api.auth import purge_rate_windows
from api.idempotency import purge_expired

#: A subscriber that is down gets the event again after 2, 4, 8, ... seconds, eight tries in all.
WEBHOOK_RETRY = RetryStrategy(max_attempts=8, exponential_wait=2)


class DeliveryFailed(Exception):
    pass


@app.task(name="api.deliver_webhook", queue="webhooks", retry=WEBHOOK_RETRY, pass_context=True)
def deliver_webhook(context, subscription_id: int, payload: dict) -> None:
    close_old_connections()
    try:
        attempt = (context.job.attempts or 0) + 1
        delivery = webhooks.deliver(subscription_id, payload, attempt=attempt)
    finally:
        connection.close()
    if not delivery.succeeded:
        raise DeliveryFailed(f"{payload['type']} {payload['id']}: {delivery.error or delivery.status_code}")


@app.periodic(cron="17 * * * *")
@app.task(name="jobs.purge_idempotency_keys", queueing_lock="jobs.purge_idempotency_keys")
def purge_idempotency_keys(timestamp: int) -> int:
    """Hourly: idempotency keys older than 24 hours, and the rate counts of minutes gone by, are forgotten."""
    close_old_connections()
    try:
        purge_rate_windows()
        return purge_expired()
    finally:
        connection.close()
