"""Writes of the collections work: a call note, appended (never edited)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.actors import Actor
from billing.errors import InvalidInput
from billing.models import Account
from dunning.models import CollectionNote, CollectionOutcome

# Outcomes that mean nothing without a word of explanation.
NEEDS_TEXT: dict[str, str] = {  # by outcome value: problems are checked on the submitted string
    CollectionOutcome.DISPUTED: "Say what the customer disputes.",
    CollectionOutcome.OTHER: "Say what happened.",
}
TEXT_LIMIT = 2000


def note_problems(
    *, outcome: str, text: str, promised_date: datetime.date | None, promised_amount: Decimal | None
) -> dict[str, str]:
    """What a note may not say, by field (the form shows each beside its field; the service refuses)."""
    problems: dict[str, str] = {}
    if outcome not in CollectionOutcome.values:
        problems["outcome"] = f"{outcome!r} is not an outcome; choose one of {', '.join(CollectionOutcome.values)}."
    if promised_date and promised_date < timezone.localdate():
        problems["promised_date"] = "A promised payment date cannot be in the past."
    if promised_amount is not None and promised_amount <= 0:
        problems["promised_amount"] = "A promised amount must be more than zero."
    if len(text) > TEXT_LIMIT:
        problems["text"] = f"A note can have at most {TEXT_LIMIT} characters; this one has {len(text)}."
    if (promised_date or promised_amount) and outcome != CollectionOutcome.PROMISED and "outcome" not in problems:
        problems["outcome"] = "A promised date or amount needs the outcome “Promised to pay”."
    if outcome in NEEDS_TEXT and not text and "text" not in problems:
        problems["text"] = NEEDS_TEXT[outcome]
    return problems


def add_collection_note(
    account: Account,
    *,
    outcome: str,
    text: str = "",
    promised_date: datetime.date | None = None,
    promised_amount: Decimal | None = None,
    by: Actor,
) -> CollectionNote:
    """Append what happened when someone chased `account`. InvalidInput if the note says something
    it may not (a promise without the outcome "promised to pay", a date in the past, ...)."""
    text = (text or "").strip()
    problems = note_problems(outcome=outcome, text=text, promised_date=promised_date, promised_amount=promised_amount)
    if problems:
        raise InvalidInput(" ".join(problems.values()))
    with transaction.atomic():
        return CollectionNote.objects.create(
            account=account,
            outcome=outcome,
            text=text,
            promised_date=promised_date,
            promised_amount=promised_amount,
            created_by=by,
        )
