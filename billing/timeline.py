"""Timelines of the detail pages: every ledger row and status change of a record, newest first."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps

from billing.actors import Actor


@dataclass(frozen=True)
class Event:
    at: datetime.datetime
    by: Actor  # the user, or None for the system
    kind: str  # css hook: allocation, reversal, status, credit, refund, chargeback, note, created
    title: str
    detail: str = ""
    amount: Decimal | None = None
    currency: str = ""
    url: str = ""
    order: int = 0  # tie-break within one instant: the order the rows were written

    @property
    def who(self) -> str:
        return self.by.get_username() if self.by is not None else "system"


def newest_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.at, e.order), reverse=True)


def status_label(choices: Iterable[tuple[str, str]], value: str) -> str:
    return dict(choices).get(value, value or "none")


def status_events(changes, labels: Mapping[str, tuple[str, Iterable[tuple[str, str]]]]) -> list[Event]:
    """Events for StatusChange rows; labels maps a field to (its name, its choices)."""
    events = []
    for change in changes:
        name, choices = labels.get(change.field, (change.field, ()))
        if change.old:
            title = f"{name}: {status_label(choices, change.old)} → {status_label(choices, change.new)}"
        else:
            title = f"{name}: {status_label(choices, change.new)}"
        events.append(
            Event(
                at=change.created_at,
                by=change.created_by,
                kind="status",
                title=title,
                detail=change.reason,
                order=change.pk,
            )
        )
    return events


def collection_note_events(account_id: int) -> list[Event]:
    """Collection notes of the account, for the invoice page's timeline. Looked up by name:
    the notes belong to dunning, an app above the kernel, which the kernel never imports."""
    try:
        model = apps.get_model("dunning", "CollectionNote")
    except LookupError:
        return []
    names = {f.name for f in model._meta.get_fields()}
    if "account" not in names:
        return []
    text_field = next((n for n in ("body", "text", "note", "content", "message") if n in names), None)
    time_field = next((n for n in ("created_at", "created", "at") if n in names), None)
    if time_field is None:
        return []
    related = ["created_by"] if "created_by" in names else []
    events = []
    for note in model.objects.filter(account_id=account_id).select_related(*related):
        events.append(
            Event(
                at=getattr(note, time_field),
                by=getattr(note, "created_by", None),
                kind="note",
                title="Collection note",
                detail=str(getattr(note, text_field)) if text_field else str(note),
                order=note.pk,
            )
        )
    return events
