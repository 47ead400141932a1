"""Reading a statement while it is imported: the parser's items cut into chunks as they come.

The importer never holds the whole file's entries: `cut` turns the parser's stream of
entries and errors (the parsers stream: camt.053 with iterparse, CSV and MT940 line by
line) into chunks of at most CHUNK entries, a booked reversal of a credit a chunk of its
own (see intake.runner), so memory stays flat however long the file is. `Reader` counts
them: the total (entries and entry errors) is known once the whole file is read, with the
last chunk; until then progress is reported with a total of 0 ("so far").

Parsing in a thread ahead of the importer was tried and measured: no faster, because the
parser then holds the interpreter lock when a database reply arrives (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from intake import outcomes
from intake.outcomes import EntryResult, Outcome
from intake.parsing.common import BOOKED
from intake.statements import StatementEntry, StatementError


@dataclass
class Batch:
    """A chunk of entries in file order, with what the parser refused before them."""

    entries: list[StatementEntry] = field(default_factory=list)
    #: Entries the parser could not read (each one's rejection), reported with this chunk.
    rejected: list[EntryResult] = field(default_factory=list)
    #: Errors about the file as a whole (e.g. malformed XML after the entries read before it).
    file_errors: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.entries) + len(self.rejected)


def alone(entry: StatementEntry) -> bool:
    """A booked reversal of a credit is a chunk of its own.

    A chargeback locks the payment it sends back and the accounts and invoices that payment
    has money on, which the chunk could not lock beforehand: in a transaction of its own
    it takes them in the one lock order, and the credit it sends back is committed before.
    """
    return entry.reversal and not entry.credit and entry.status == BOOKED


def cut(items: Iterable[StatementEntry | StatementError]) -> Iterator[Batch]:
    """The parser's items as chunks of at most CHUNK entries, in file order; always at least one."""
    batch = Batch()
    yielded = False
    for item in items:
        if isinstance(item, StatementError):
            if item.position == "file":
                batch.file_errors.append(item.reason)
            else:
                batch.rejected.append(
                    EntryResult(position=item.position, outcome=Outcome.REJECTED, message=item.reason)
                )
            continue
        if alone(item):
            if batch.entries:
                yield batch
                batch = Batch()
            batch.entries.append(item)
            yield batch
            batch, yielded = Batch(), True
            continue
        batch.entries.append(item)
        if len(batch.entries) >= outcomes.CHUNK:
            yield batch
            batch, yielded = Batch(), True
    if batch.size or batch.file_errors or not yielded:
        yield batch


class Reader:
    """Iterate over `batches` one ahead, counting them: `total` is set when the last one is handed
    out, so the last progress report of an import says "N of N"."""

    def __init__(self, batches: Iterator[Batch]):
        self._batches = batches
        self._read = 0
        self.total: int | None = None

    def _next(self) -> Batch | None:
        batch = next(self._batches, None)
        if batch is None:
            self.total = self._read
        else:
            self._read += batch.size
        return batch

    def __iter__(self) -> Iterator[Batch]:
        current = self._next()
        while current is not None:
            following = self._next()
            yield current
            current = following

    def count_rest(self) -> int:
        """The total, reading what the importer did not take (after it stopped): parsed, not imported."""
        try:
            while self.total is None:
                self._next()
        except Exception:  # the file breaks further on: what was read is the total
            pass
        return self._read
