"""Drift in the workshops' seat caches (DESIGN.md section 12): `seats_taken` and
`waitlist_length` against the registrations they count, and the wait list's numbering.

The registration services write the caches under the workshop's row lock, and a trigger
refuses more confirmed rows than seats (I10), so drift here means a bug or a hand-made
change. One statement finds every drifted workshop from a snapshot; each is then locked
(the registration services' first lock, so no deadlock with them), counted again under the
lock, and with fix=True its caches are set to the counts. Two things are reported and never
repaired, because a person decides: more confirmed registrations than seats, and a wait list
numbered other than 1..n (which seat comes next is a promise to customers).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from registrations.models import RegistrationStatus, Workshop

_COUNTS = f"""
    SELECT w.id, w.capacity, w.seats_taken, COALESCE(r.confirmed, 0), w.waitlist_length,
           COALESCE(r.waiting, 0), COALESCE(r.last_position, 0)
    FROM registrations_workshop w
    LEFT JOIN (
        SELECT workshop_id,
               count(*) FILTER (WHERE status = '{RegistrationStatus.CONFIRMED.value}') AS confirmed,
               count(*) FILTER (WHERE status = '{RegistrationStatus.WAITLISTED.value}') AS waiting,
               max(waitlist_position) AS last_position
        FROM registrations_registration {{scope}} GROUP BY workshop_id
    ) r ON r.workshop_id = w.id
    WHERE (w.seats_taken <> COALESCE(r.confirmed, 0) OR w.waitlist_length <> COALESCE(r.waiting, 0)
           OR COALESCE(r.last_position, 0) <> COALESCE(r.waiting, 0) OR COALESCE(r.confirmed, 0) > w.capacity)
      {{and_scope}}
    ORDER BY w.id
"""


#: The caches a recount under the lock puts right; the other fields found are for a person.
REPAIRABLE = ("seats_taken", "waitlist_length")


@dataclass(frozen=True)
class SeatDrift:
    workshop_id: int
    label: str
    fields: tuple[tuple[str, int, int], ...]  # (field, cached, counted)
    fixed: bool


def _counts(ids: list[int] | None) -> list[tuple]:
    if ids is None:
        sql, params = _COUNTS.format(scope="", and_scope=""), []
    else:
        sql = _COUNTS.format(scope="WHERE workshop_id = ANY(%s)", and_scope="AND w.id = ANY(%s)")
        params = [ids, ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def find_seat_drift(*, fix: bool) -> list[SeatDrift]:
    """Every workshop whose caches or wait list are off, re-counted under its lock; with `fix`,
    the caches set to the counts where the seats allow it."""
    found: list[SeatDrift] = []
    for workshop_id, *_ in _counts(None):
        with transaction.atomic():
            locked = Workshop.objects.select_for_update().filter(pk=workshop_id).first()
            rows = _counts([workshop_id]) if locked is not None else []
            if not rows:  # put right (or gone) since the snapshot
                continue
            _, capacity, seats, confirmed, length, waiting, last_position = rows[0]
            fields = []
            if seats != confirmed:
                fields.append(("seats_taken", seats, confirmed))
            if length != waiting:
                fields.append(("waitlist_length", length, waiting))
            if last_position != waiting:
                fields.append(("waitlist_positions", last_position, waiting))
            repairable = confirmed <= capacity and last_position == waiting
            if confirmed > capacity:
                fields.append(("capacity", capacity, confirmed))
            fixed = fix and repairable and any(name in REPAIRABLE for name, _, _ in fields)
            if fixed:
                Workshop.objects.filter(pk=workshop_id).update(seats_taken=confirmed, waitlist_length=waiting)
            found.append(SeatDrift(workshop_id, str(locked), tuple(fields), fixed))
    return found
