"""Webhook subscriptions (finance) and their delivery rows: every attempt, with its answer."""

import datetime
import uuid

from ninja import Field, Router, Schema, Status
from ninja.responses import codes_4xx

from api import webhooks
from api.auth import READ, WRITE
from api.lookups import get_row
from api.models import WebhookDelivery, WebhookSubscription
from api.schemas import Error, Id
from billing.actors import AuthenticatedHttpRequest

router = Router(tags=["webhooks"])
MAX_DELIVERIES_SHOWN = 200


class SubscriptionOut(Schema):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime.datetime


class NewSubscription(SubscriptionOut):
    secret: str = Field(description="for checking the Settle-Signature header; shown only now")


class SubscriptionIn(Schema):
    url: str = Field(min_length=1, max_length=500, examples=["https://shop.example.com/settle-events"])
    events: list[str] = Field(min_length=1, max_length=10, examples=[["invoice.paid"]])


class DeliveryOut(Schema):
    id: int
    event_id: uuid.UUID
    event: str
    attempt: int
    status_code: int | None
    error: str
    succeeded: bool
    created_at: datetime.datetime
    payload: dict


@router.post("/webhooks", response={201: NewSubscription, codes_4xx: Error}, auth=WRITE)
def subscribe(request: AuthenticatedHttpRequest, payload: SubscriptionIn):
    """Events: invoice.paid, payment.unallocated, chargeback.recorded. Deliveries are POSTs of
    {id, type, created_at, data}, signed `Settle-Signature: t=<unix time>,v1=<HMAC-SHA256 hex of "t.body">`."""
    return Status(201, webhooks.subscribe(url=payload.url, events=payload.events, by=request.user))


@router.get("/webhooks", response={200: list[SubscriptionOut], codes_4xx: Error}, auth=READ)
def subscriptions(request: AuthenticatedHttpRequest):
    return list(WebhookSubscription.objects.order_by("id")[:500])


@router.post("/webhooks/{id}/deactivate", response={200: SubscriptionOut, codes_4xx: Error}, auth=WRITE)
def deactivate(request: AuthenticatedHttpRequest, id: Id):
    subscription = get_row(WebhookSubscription, id, "webhook subscription")
    if subscription.active:
        subscription.active = False
        subscription.save(update_fields=["active"])
        webhooks.subscriptions_changed()
    return subscription


@router.get("/webhooks/{id}/deliveries", response={200: list[DeliveryOut], codes_4xx: Error}, auth=READ)
def deliveries(request: AuthenticatedHttpRequest, id: Id):
    """The newest attempts first."""
    subscription = get_row(WebhookSubscription, id, "webhook subscription")
    return list(WebhookDelivery.objects.filter(subscription=subscription).order_by("-id")[:MAX_DELIVERIES_SHOWN])
