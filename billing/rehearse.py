"""Rehearse a service call: run it for real inside a transaction, read the outcome, roll back.

Confirmation pages use this to say exactly what an action will do ("payments P-3 and
P-7 become unallocated") with the very code that will do it, so the preview cannot
drift from the write path, and a request the service would refuse is refused before
the clerk is asked to confirm. Nothing survives the rollback (rows, statuses,
on_commit callbacks); the row locks are held only for the rehearsal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import transaction

T = TypeVar("T")


class _RollBack(Exception):
    pass


def rehearse(action: Callable[[], T]) -> T:
    """Return what `action()` returned, with every write it made rolled back.

    `action` must read what it needs into plain objects before returning: anything
    lazy evaluated afterwards would see the database as it was. A BillingError
    raised by the service propagates unchanged.
    """
    outcome: list[T] = []
    try:
        with transaction.atomic():
            outcome.append(action())
            raise _RollBack
    except _RollBack:
        pass
    return outcome[0]
