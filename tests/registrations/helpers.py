"""Shared helpers of the registrations tests: workshops a number of days ahead, fresh copies."""

from __future__ import annotations

import datetime

from django.utils import timezone

from registrations.models import Registration, Workshop
from registrations.services import create_workshop


def days_ahead(days: int, hour: int = 10) -> datetime.datetime:
    """A start `days` local days from today at `hour`:00 (the deadline counts local dates)."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def make_workshop(provider, *, title="Sourdough", days=30, seats=2, price="100.00", currency="EUR", **kwargs):
    return create_workshop(
        provider=provider,
        title=title,
        starts_at=days_ahead(days),
        capacity=seats,
        price=price,
        currency=currency,
        by=None,
        **kwargs,
    )


def fresh(row):
    return type(row).objects.get(pk=row.pk)


def registrations_of(workshop: Workshop, status: str | None = None) -> list[Registration]:
    queryset = Registration.objects.filter(workshop=workshop).order_by("id")
    if status:
        queryset = queryset.filter(status=status)
    return list(queryset)
