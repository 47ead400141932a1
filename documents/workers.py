"""The nightly dunning run in several processes (documents.services.run_dunning with `workers`).

The chunks of due accounts (in account order) are cut into `workers` runs of consecutive
chunks, each issued in a spawned process (set up by billing.processes.set_up) one chunk after
another, each chunk its own transaction as in one process (documents.reminder_letters). The
chunks' accounts are disjoint, so the workers never wait on each other's locks; the letters'
numbers come from a sequence. The parent holds the run's advisory lock throughout. This module
imports no model at the top, so a worker can load it before Django is set up.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from billing import processes

if TYPE_CHECKING:
    from billing.actors import Actor
    from documents.reminders import DueReminder


def issue_in_workers(
    chunks: Sequence[Sequence[DueReminder]], workers: int, *, as_of: datetime.date, by: Actor
) -> Iterator[list[int]]:
    """Each worker's letters' ids, as its chunks are done."""
    return processes.in_consecutive_runs(issue_part, chunks, workers, as_of, getattr(by, "pk", None))


def issue_part(chunks: Sequence[Sequence[DueReminder]], as_of: datetime.date, by_id: int | None) -> list[int]:
    """In a worker: issue these chunks' letters in turn; their ids."""
    from documents.reminder_letters import issue_due_letters

    by = processes.actor(by_id)
    return [document.pk for rows in chunks for document in issue_due_letters(rows, as_of=as_of, by=by)]
