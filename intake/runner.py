"""Running the import's chunks (intake.pipeline.Chunk): commit, retry, redo carefully, or stop.

Each chunk is one transaction (run_chunk). If the database refuses something of the chunk
outside an entry's savepoint, the chunk is rolled back and handled again entry by entry,
each entry in its own savepoint (run_carefully), so the refused entry is rejected alone.
A deadlock or serialization failure is tried again (the entries committed before it stay).
Only an OperationalError or InterfaceError that persists (a lost connection) stops the
import, with a report that says how far it got; importing the same file again finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DatabaseError, transaction
from psycopg import errors as psycopg_errors

from billing.actors import Actor
from intake.decisions import refused_message, result_for
from intake.outcomes import EntryResult, ImportReport, Outcome, ProgressCallback
from intake.pipeline import FATAL, Chunk, RedoCarefully
from intake.reading import Reader
from intake.statements import StatementEntry
from ledger.queue_totals import fold_queue_totals

# A deadlock or a serialization failure rolls the chunk's transaction back but is worth another try.
TRANSIENT = (psycopg_errors.DeadlockDetected, psycopg_errors.SerializationFailure, psycopg_errors.LockNotAvailable)
ATTEMPTS = 3


def transient(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, TRANSIENT):
            return True
        cause = cause.__cause__
    return False


class Stopped(Exception):
    """The import cannot go on (the connection is lost); `handled` entries of the chunk were committed."""

    def __init__(self, entry: StatementEntry, error: Exception, results: list[EntryResult]):
        super().__init__(str(error))
        self.entry, self.error, self.results = entry, error, results


def run_chunk(entries: Sequence[StatementEntry], *, source_name: str, by: Actor) -> list[EntryResult]:
    """Handle and commit one chunk; raises Stopped with what was committed before a fatal error."""
    results: list[EntryResult] = []
    failure: tuple[StatementEntry, Exception] | None = None
    try:
        with transaction.atomic():
            chunk = Chunk(entries, source_name=source_name, by=by, careful=False)
            try:
                chunk.load()
            except FATAL:
                raise
            except DatabaseError as exc:
                raise RedoCarefully from exc
            for entry in entries:
                try:
                    results.append(chunk.handle(entry))
                except FATAL as exc:
                    failure = (entry, exc)
                    break
            chunk.flush()
    except FATAL as exc:  # nothing of this chunk was committed
        raise Stopped(failure[0] if failure else entries[0], failure[1] if failure else exc, []) from exc
    if failure is not None:
        raise Stopped(failure[0], failure[1], results)
    return results


def run_carefully(entries: Sequence[StatementEntry], *, source_name: str, by: Actor) -> list[EntryResult]:
    """The chunk again, one entry at a time, each entry's reads and writes in its own savepoint."""
    results: list[EntryResult] = []
    failure: tuple[StatementEntry, Exception] | None = None
    try:
        with transaction.atomic():
            for entry in entries:
                try:
                    with transaction.atomic():
                        chunk = Chunk([entry], source_name=source_name, by=by, careful=True)
                        chunk.load()
                        result = chunk.handle(entry)
                        if result.outcome == Outcome.REJECTED:
                            transaction.set_rollback(True)  # back to the entry's savepoint: nothing of it stays
                        else:
                            chunk.flush()
                except FATAL as exc:
                    failure = (entry, exc)
                    break
                except (DatabaseError, RedoCarefully) as exc:
                    cause = exc.__cause__ if isinstance(exc, RedoCarefully) else exc
                    assert isinstance(cause, DatabaseError)
                    result = result_for(entry, Outcome.REJECTED, refused_message(cause))
                results.append(result)
    except FATAL as exc:
        raise Stopped(failure[0] if failure else entries[0], failure[1] if failure else exc, []) from exc
    if failure is not None:
        raise Stopped(failure[0], failure[1], results)
    return results


def import_batch(
    entries: Sequence[StatementEntry], *, source_name: str, by: Actor
) -> tuple[list[EntryResult], Stopped | None]:
    """Import one chunk: commit it, or redo it carefully, or try it again after a deadlock.

    Returns the results committed and, if the import cannot go on (a lost connection), the stop.
    """
    results: list[EntryResult] = []
    for attempt in range(1, ATTEMPTS + 1):
        if not entries:
            break
        try:
            try:
                results += run_chunk(entries, source_name=source_name, by=by)
            except RedoCarefully:
                results += run_carefully(entries, source_name=source_name, by=by)
            break
        except Stopped as stop:
            results += stop.results  # committed
            entries = entries[len(stop.results) :]
            if attempt < ATTEMPTS and transient(stop.error):
                continue
            return results, stop
    return results, None


def stopped_message(position: str, error: str, done: int) -> str:
    """What the report says of an import a database error stopped at `position` (error: "Kind: text")."""
    return (
        f"stopped at {position} by a database error ({error}); {done} entries are handled (what they "
        "recorded is saved), the others not; import the same file again to finish (entries already "
        "imported are recognised by their bank reference and skipped)"
    )


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).strip()}"


def where_stopped(stop: Stopped) -> tuple[str, str]:
    """(position, "Kind: text"): what stopped_message says of a stop, as a stream sends it back."""
    return stop.entry.position, error_text(stop.error)


def run_chunks(
    report: ImportReport,
    reader: Reader,
    *,
    source_name: str,
    by: Actor,
    progress: ProgressCallback | None,
    keep: bool,
) -> None:
    """Import the reader's chunks into `report` (see the module doc), one after another."""
    done = 0
    folding = Folding()
    for batch in reader:
        report.file_errors += batch.file_errors
        report.total += batch.size
        results, stop = import_batch(batch.entries, source_name=source_name, by=by)
        results = batch.rejected + results
        folding.after(results)
        done += len(results)
        report.add_all(results, keep=keep)
        if stop is not None:
            report.total = reader.count_rest()
            report.stopped = stopped_message(*where_stopped(stop), done)
            if progress is not None:
                progress(done, report.total, results)
            return
        if progress is not None:
            progress(done, reader.total or 0, results)
    folding.end()


class Folding:
    """Folds the queue-total deltas every FOLD_EVERY chunks and when the import ends, if it
    moved money since the last fold (a re-import writes none: folding would rewrite the tables
    for nothing); a one-chunk file leaves its few deltas to the periodic fold."""

    def __init__(self) -> None:
        self.chunks = 0
        self.moved = False

    def after(self, results: list[EntryResult]) -> None:
        self.chunks += 1
        self.moved = self.moved or any(result.outcome in MOVES_MONEY for result in results)
        if self.chunks % FOLD_EVERY == 0 and self.moved:
            fold_queue_totals()
            self.moved = False

    def end(self) -> None:
        if self.chunks > 1 and self.moved:
            fold_queue_totals()


#: The outcomes that write payments, allocations or chargebacks (and so queue-total deltas).
MOVES_MONEY = {Outcome.RECORDED, Outcome.CHARGED_BACK}

#: Chunks between two folds of the queue-total deltas (about 10,000 entries). A long import
#: appends a few deltas per credit and every page's navigation counts read them until they are
#: folded; the worker's periodic fold runs only every 5 minutes, so a 100,000-entry import
#: folds as it goes and when it ends (ledger.queue_totals.fold_queue_totals).
FOLD_EVERY = 50
