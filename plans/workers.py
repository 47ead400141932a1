"""The nightly assessment in several processes (plans.assessment.run_assessment with `workers`).

The candidates' batches (in account order) are cut into `workers` runs of consecutive batches,
each assessed in a spawned process (set up by billing.processes.set_up) one batch after
another, each batch its own transaction as in one process. Two neighbouring batches may share
the account at their edge; a batch locks its accounts first, in id order, so the second waits
until the first commits (no deadlock, and each installment is in one batch only). Dealing the
batches out in turn instead would put neighbours side by side, and each would wait for the
other's whole batch. The parent holds the run's advisory lock throughout and
writes the run's log row. This module imports no model at the top, so a worker can load it
before Django is set up.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from billing import processes

if TYPE_CHECKING:
    from billing.actors import Actor
    from plans.assessment import AssessmentResult


def assess_in_workers(
    batches: list[list[int]], workers: int, *, as_of: datetime.date, by: Actor
) -> Iterator[AssessmentResult]:
    """Each worker's counts and totals, as its batches are done."""
    return processes.in_consecutive_runs(assess_part, batches, workers, as_of, getattr(by, "pk", None))


def assess_part(batches: Sequence[list[int]], as_of: datetime.date, by_id: int | None) -> AssessmentResult:
    """In a worker: assess these batches in turn; their counts and totals."""
    from plans.assessment import AssessmentResult, assess_batch

    by = processes.actor(by_id)
    result = AssessmentResult(as_of=as_of)
    for batch in batches:
        result.count(assess_batch(batch, as_of, by=by))
    return result
