"""Streams of chunks: chunks that share nothing are imported at once (issue 10, speed).

About half of a chunk's time is the database's and half is Python's, so one chunk after
another leaves a core idle. A big statement (SETTLE_INTAKE_STREAMS_FROM bytes and more) is
imported by SETTLE_INTAKE_STREAMS processes (intake.stream_worker), each importing whole
chunks in its own connection and transaction with intake.runner.import_batch, the function
a one-stream import calls, and it ends exactly as one chunk after another would
(tests/intake/test_streams.py). Processes, not threads: two threads share one interpreter
lock, and measured here they spent 60% more CPU than one stream for little gain.

The parent reads the file, decides what may run, and reports in file order:

- before a chunk is handed out, the parent reads who its entries name (the customers its
  credits and reversals are identified as: intake.matching.Directory, which reads
  customers and invoice numbers only) and so knows its footprint: those customers, its
  bank references and the looks of its new credits (intake.decisions.twin_key). A
  reversal whose customer is unknown may send back anyone's payment: it meets everything;
- a chunk is handed out only when no earlier chunk that is not finished meets its
  footprint. What one chunk's outcome can depend on in another is exactly that: the
  invoices of the same customers (allocation, chargebacks), the same bank reference
  (imported already), a look-alike credit (held for review). A chunk that shares nothing
  with the unfinished ones before it does the same whether it runs before, with or after
  them; two chunks running at once hold disjoint rows and lock in the one order;
- while every chunk so far was imported already (a re-import), the parent imports the next
  one itself with nothing else running, exactly as one stream would: no footprint to read,
  nothing to send; the first chunk with new entries switches the streams on;
- progress and the report come in file order. If a chunk stops the import (a lost
  connection), nothing more is handed out; chunks already running finish and what they
  committed is reported. Crash safety is the one-stream import's: every chunk commits on
  its own and is keyed by its bank references, and a stream dies with its parent.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from billing.actors import Actor
from billing.processes import database_settings, without_main
from intake.decisions import twin_key
from intake.matching import Directory, identify_customer
from intake.models import BankEntry
from intake.outcomes import EntryResult, ImportReport, Outcome, ProgressCallback
from intake.parsing.common import BOOKED
from intake.pipeline import FATAL
from intake.reading import Batch, Reader
from intake.runner import Folding, error_text, import_batch, stopped_message, where_stopped
from intake.statements import StatementEntry
from intake.stream_worker import serve

logger = logging.getLogger(__name__)

#: Chunks read ahead of the last one reported, per stream: enough to find independent work.
LOOKAHEAD = 4
#: Seconds between two checks that the streams are alive while waiting for one.
PATIENCE = 1.0


@dataclass
class Footprint:
    """What of the ledger a chunk can touch or be changed by (see the module doc)."""

    references: set[str] = field(default_factory=set)
    looks: set[tuple] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    everyone: bool = False
    #: Every booked entry is imported already: the chunk only reads and reports (a re-import).
    settled: bool = False

    def meets(self, other: Footprint) -> bool:
        return bool(
            self.everyone
            or other.everyone
            or self.references & other.references
            or self.looks & other.looks
            or self.customers & other.customers
        )


def footprint(entries: Sequence[StatementEntry]) -> Footprint:
    """The chunk's footprint. An entry already imported under its reference is reported as such
    whatever runs around it: only its reference counts (a re-import reads no customer)."""
    booked = [entry for entry in entries if entry.status == BOOKED]
    found = Footprint(references={entry.bank_reference for entry in booked})
    imported = set(
        BankEntry.objects.filter(bank_reference__in=found.references).values_list("bank_reference", flat=True)
    )
    found.settled = imported == found.references
    named = [e for e in booked if e.credit != e.reversal and e.bank_reference not in imported]  # credits, reversals
    directory = Directory(named)
    for entry in named:
        who = identify_customer(entry, directory)
        if who.customer is not None:
            found.customers.add(who.customer.pk)
        elif entry.reversal:
            found.everyone = True
        if entry.credit and (key := twin_key(entry)) is not None:
            found.looks.add(key)
    return found


@dataclass
class Task:
    number: int
    batch: Batch
    footprint: Footprint | None = None  # read when the chunk is to be scheduled
    running: bool = False
    finished: bool = False
    results: list[EntryResult] = field(default_factory=list)
    #: (position, "Kind: text") of the database error that stopped the import in this chunk.
    stop: tuple[str, str] | None = None


class Streams:
    """The stream processes and the two queues to and from them, started with the first chunk
    sent (a re-import, every chunk settled, starts none)."""

    def __init__(self, count: int, *, source_name: str, by: Actor):
        self.count, self.source_name, self.by = count, source_name, by
        self.processes: list[Any] = []
        #: Processes cannot be started (a script without `if __name__ == "__main__":`, which
        #: "spawn" imports again): the reading process imports every chunk itself.
        self.unavailable = False

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.tasks: Any = context.Queue()
        self.results: Any = context.Queue()
        database = database_settings()
        self.processes = [
            context.Process(
                target=serve,
                args=(self.tasks, self.results, database, getattr(self.by, "pk", None), self.source_name),
                name=f"import-stream-{n}",
                daemon=True,
            )
            for n in range(self.count)
        ]
        try:
            with without_main():
                for process in self.processes:
                    process.start()
        except RuntimeError:
            logger.warning("Import streams could not be started; importing in one stream.", exc_info=True)
            self.close()
            self.unavailable = True

    def send(self, task: Task) -> bool:
        """Hand the chunk to a stream; False if there are none (the caller imports it)."""
        if not self.processes and not self.unavailable:
            self._start()
        if self.unavailable:
            return False
        self.tasks.put((task.number, task.batch.entries))
        return True

    def receive(self) -> tuple[int, list[EntryResult], tuple[str, str] | None]:
        while True:
            try:
                number, results, stopped, error = self.results.get(timeout=PATIENCE)
            except queue.Empty:
                dead = [p for p in self.processes if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"an import stream ended unexpectedly (exit code {dead[0].exitcode})") from None
                continue
            if error is not None:
                raise RuntimeError(f"an import stream failed:\n{error}")
            return number, results, stopped

    def close(self) -> None:
        if not self.processes:
            return
        started = [process for process in self.processes if process.pid is not None]
        for _ in started:
            self.tasks.put(None)
        for process in started:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        self.processes = []
        self.tasks.close()
        self.results.close()


def run_streams(
    report: ImportReport,
    reader: Reader,
    *,
    source_name: str,
    by: Actor,
    progress: ProgressCallback | None,
    keep: bool,
    streams: int,
) -> None:
    """Import the reader's chunks into `report`, `streams` at a time (see the module doc)."""
    pool = Streams(streams, source_name=source_name, by=by)
    batches = iter(reader)
    order: list[Task] = []  # read and not yet reported, in file order
    sent: dict[int, Task] = {}  # handed to a stream, not back yet
    number = done = 0
    folding = Folding()
    read_all = False
    replaying = True  # every chunk so far was imported already: no stream is needed
    stop: tuple[str, str] | None = None
    try:
        while True:
            while not read_all and stop is None and len(order) < LOOKAHEAD * streams:
                batch = next(batches, None)
                if batch is None:
                    read_all = True
                    break
                number += 1
                report.file_errors += batch.file_errors
                report.total += batch.size
                order.append(Task(number, batch, None if batch.entries else Footprint(), finished=not batch.entries))
            head = order[0] if order else None
            if stop is None and replaying and not sent and head is not None and not head.finished:
                # A re-import so far: the next chunk here, alone, as one stream would (nothing else runs).
                stop = _run_here(head, source_name=source_name, by=by)
                replaying = _imported_already(head)
            elif stop is None:
                try:
                    for task in order:
                        if task.footprint is None:
                            task.footprint = footprint(task.batch.entries)
                except FATAL as exc:  # the parent lost its connection: nothing of this chunk is written
                    stop = (task.batch.entries[0].position, error_text(exc))
                if stop is None:
                    stop = _settle(order, source_name=source_name, by=by)
                if stop is None and (alone := _hand_out(order, pool, streams - len(sent), sent)) is not None:
                    stop = _run_here(alone, source_name=source_name, by=by)
            while order and order[0].finished:
                task = order.pop(0)
                results = task.batch.rejected + task.results
                done += len(results)
                report.add_all(results, keep=keep)
                folding.after(results)
                replaying = _imported_already(task)
                if task.stop is not None:
                    stop = task.stop
                    if progress is not None:
                        progress(done, 0, results)
                    break
                if progress is not None:
                    progress(done, reader.total or 0, results)
            if (stop is not None and not sent) or (read_all and not order):
                break
            if stop is not None or sent:
                finished, results, stopped = pool.receive()
                task = sent.pop(finished)
                task.finished, task.running, task.results = True, False, results
                task.stop = stopped
                if task.stop is not None and stop is None:
                    stop = task.stop  # nothing more is handed out; the chunks running finish
        if stop is not None:
            # What chunks after the stopped one committed (they shared nothing with it) is reported.
            late = [result for task in order if task.finished for result in task.batch.rejected + task.results]
            report.add_all(late, keep=keep)
            done += len(late)
            report.total = reader.count_rest()
            report.stopped = stopped_message(stop[0], stop[1], done)
            if progress is not None:
                progress(done, report.total, late)
    finally:
        pool.close()
    if stop is None:
        folding.end()


def _imported_already(task: Task) -> bool:
    """Every entry of the chunk was imported before (the import is, so far, a re-import)."""
    return bool(task.results) and all(result.outcome == Outcome.ALREADY_IMPORTED for result in task.results)


def _ready(order: list[Task], index: int) -> bool:
    task = order[index]
    if task.running or task.finished:
        return False
    assert task.footprint is not None  # read before scheduling
    return all(
        earlier.finished or (earlier.footprint is not None and not earlier.footprint.meets(task.footprint))
        for earlier in order[:index]
    )


def _run_here(task: Task, *, source_name: str, by: Actor) -> tuple[str, str] | None:
    """Import the chunk in this process (intake.runner.import_batch, as a stream would)."""
    task.results, stopped = import_batch(task.batch.entries, source_name=source_name, by=by)
    task.finished = True
    task.stop = where_stopped(stopped) if stopped is not None else None
    return task.stop


def _settle(order: list[Task], *, source_name: str, by: Actor) -> tuple[str, str] | None:
    """Chunks whose every entry is imported already are reported here, when their turn has come:
    a read and a report, which would cost more to send to a stream and back than to do."""
    for index, task in enumerate(order):
        if task.footprint is not None and task.footprint.settled and _ready(order, index):
            if _run_here(task, source_name=source_name, by=by) is not None:
                return task.stop
    return None


def _hand_out(order: list[Task], pool: Streams, free: int, sent: dict[int, Task]) -> Task | None:
    """Send the earliest waiting chunks that meet no unfinished earlier chunk, at most `free`;
    the chunk that could not be sent if there are no streams (the caller imports it)."""
    for index, task in enumerate(order):
        if free <= 0:
            break
        if _ready(order, index):
            if not pool.send(task):
                return task
            task.running = True
            sent[task.number] = task
            free -= 1
    return None
