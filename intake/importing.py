"""Bank statement intake: turn a statement's entries into payments, through the services.

`import_statement` parses a statement (intake.statements: the Settle CSV layout or
camt.053), then handles each entry once, keyed by its bank reference
(payments.models.BankEntry). Recognising the payer is intake.matching; recording a
credit and the clerks' decisions on work items are intake.services.

- an incoming credit: the customer is recognised by a customer reference (the
  statement's structured reference, or a ``C-...`` token in the text, equal to
  Customer.reference) or else by the invoice numbers in the remittance text (all of
  one customer). The money is recorded with record_payment (bank transfer, the bank
  reference as idempotency reference, received on the booking date), then
  auto_allocate puts it first on the invoices the text names, then by the rule of
  DESIGN.md §6. An unrecognised customer, or invoices of several customers, makes
  the entry `unidentified`: a work item for a clerk, never dropped. A credit that
  looks exactly like one already imported under another reference (same date,
  amount, currency, payer and text: the same statement exported twice in two
  formats) is held for review instead of being recorded twice;
- a reversal of an incoming credit (the payer's bank sent it back): record_chargeback
  on the payment recorded from that credit, if exactly one imported payment matches
  (same currency and amount, booked no later, nothing returned from it yet, narrowed by
  customer, payer and text); otherwise a work item (`needs_review`);
- a reversal of money we sent (a refund that bounced): a work item, by hand;
- any other debit (bank fees, refunds we sent): recorded as `ignored`, nothing booked;
- an entry the bank has not booked (status pending or info, intake.parsing.common):
  `not_booked`, nothing stored, because it is not settled money yet: the statement
  that shows it booked, under the same bank reference, records it then.

Transactions (intake.pipeline): entries are handled in chunks of CHUNK, one transaction
per chunk, so an entry's outcome stays its own (a savepoint, or the chunk redone entry by
entry when something is refused): malformed rows, entries the services refuse and
entries the database refuses (e.g. a NUL byte in a name) are reported with their line or
entry number as that entry's rejection, and the others are imported. Only a lost
connection (OperationalError, InterfaceError) stops the import; every entry is keyed by
its bank reference, so importing the same file again finishes it, and a crash or a
killed process loses at most the uncommitted chunk, never half an entry. Clerks are
blocked at most for one chunk's references, never for a whole file.

A dry run (intake.preview) writes nothing and takes no number from a sequence: it
identifies each credit's customer and plans its allocation with the planning code of
allocations.services, as if the file's earlier entries had been recorded, and says what
the import would do.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable

from django.conf import settings
from django.db import connection

from billing.actors import Actor
from intake.outcomes import CHUNK, EntryResult, ImportReport, Outcome, ProgressCallback, position_key
from intake.preview import preview_entries
from intake.reading import Reader, cut
from intake.runner import run_chunks
from intake.statements import StatementEntry, StatementError, StatementSource, iter_statement
from intake.streams import run_streams

__all__ = [
    "CHUNK",
    "EntryResult",
    "ImportReport",
    "Outcome",
    "ProgressCallback",
    "import_entries",
    "import_statement",
]


def import_statement(
    source: StatementSource,
    *,
    source_name: str = "",
    format: str | None = None,
    profile: str | None = None,
    by: Actor,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    keep_results: bool = True,
) -> ImportReport:
    """Import a bank statement (see the module doc); returns what became of every entry.

    `source` is the statement's bytes or a binary file. `format` is "csv" or "camt053"
    (None: detected from the content and file name); an unknown format raises
    ValueError. `profile` names the CSV layout. `progress` is called after every chunk
    of entries (see ProgressCallback); with keep_results=False the report keeps only the
    counts (a background import stores each chunk's results as they come).
    """
    big = _size(source) >= settings.SETTLE_INTAKE_STREAMS_FROM
    chosen, items = iter_statement(source, format=format, profile=profile, filename=source_name or None)
    return import_entries(
        items,
        format=chosen,
        source_name=source_name,
        by=by,
        dry_run=dry_run,
        progress=progress,
        keep_results=keep_results,
        streams=settings.SETTLE_INTAKE_STREAMS if big else 1,
    )


def _size(source: StatementSource) -> int:
    """The statement's size in bytes, or 0 if it cannot be told without reading it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    try:
        return os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    try:
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
        return end - here
    except (AttributeError, OSError, io.UnsupportedOperation):
        return 0


def import_entries(
    items: Iterable[StatementEntry | StatementError],
    *,
    format: str = "",
    source_name: str = "",
    by: Actor,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    keep_results: bool = True,
    streams: int = 1,
) -> ImportReport:
    """Import parsed entries (and the parser's errors, reported in place): import_statement
    after parsing, and the way to import entries built directly. `streams` > 1 imports chunks
    that share nothing at once (intake.streams); never inside a caller's transaction, which
    the streams' connections could not see."""
    report = ImportReport(source_name=source_name, format=format, dry_run=dry_run)
    reader = Reader(cut(items))
    if dry_run:
        preview_entries(report, reader, source_name=source_name, by=by, progress=progress, keep=keep_results)
    elif streams > 1 and not connection.in_atomic_block:  # threads could not see a caller's transaction
        run_streams(
            report, reader, source_name=source_name, by=by, progress=progress, keep=keep_results, streams=streams
        )
    else:
        run_chunks(report, reader, source_name=source_name, by=by, progress=progress, keep=keep_results)
    report.results.sort(key=lambda result: position_key(result.position))
    return report
