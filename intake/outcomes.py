"""What an import reports: each entry's outcome, and the report of a whole statement.

Shared by the import (intake.pipeline), the dry run (intake.preview) and whatever shows
a report (the command, the result page, a background job storing results by chunk).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from billing.money import format_money
from intake.models import BankEntry
from intake.services import AllocationLine
from payments.models import Payment


class Outcome:
    RECORDED = "recorded"
    CHARGED_BACK = "charged_back"
    IGNORED = "ignored"
    UNIDENTIFIED = "unidentified"
    NEEDS_REVIEW = "needs_review"
    ALREADY_IMPORTED = "already_imported"
    NOT_BOOKED = "not_booked"
    REJECTED = "rejected"

    LABELS = {
        RECORDED: "recorded",
        CHARGED_BACK: "charged back",
        IGNORED: "ignored (money out)",
        UNIDENTIFIED: "unidentified",
        NEEDS_REVIEW: "needs review",
        ALREADY_IMPORTED: "already imported",
        NOT_BOOKED: "not booked",
        REJECTED: "rejected",
    }
    NEEDS_A_PERSON = {UNIDENTIFIED, NEEDS_REVIEW, REJECTED}


@dataclass
class EntryResult:
    position: str
    outcome: str
    message: str
    bank_reference: str = ""
    amount: Decimal | None = None
    currency: str = ""
    credit: bool = True
    payment: Payment | None = None
    bank_entry: BankEntry | None = None
    allocations: list[AllocationLine] = field(default_factory=list)

    @property
    def amount_display(self) -> str:
        """Signed like the statement: money out shows as -45.00 EUR."""
        if self.amount is None:
            return ""
        return ("" if self.credit else "-") + format_money(self.amount, self.currency)

    @property
    def outcome_label(self) -> str:
        return Outcome.LABELS[self.outcome]

    @property
    def needs_a_person(self) -> bool:
        return self.outcome in Outcome.NEEDS_A_PERSON


#: Called after each chunk of entries is handled (and committed, unless a dry run):
#: progress(done, total, results of the chunk). `done` counts entries and entry errors.
ProgressCallback = Callable[[int, int, list[EntryResult]], None]

#: Entries handled between two progress calls.
CHUNK = 200


@dataclass
class ImportReport:
    source_name: str
    format: str
    dry_run: bool
    results: list[EntryResult] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    stopped: str = ""
    #: Outcome -> number of entries; kept even when the results themselves are not (keep_results=False).
    tally: Counter[str] = field(default_factory=Counter)
    total: int = 0

    def add(self, result: EntryResult, *, keep: bool = True) -> None:
        self.tally[result.outcome] += 1
        if keep:
            self.results.append(result)

    def add_all(self, results: list[EntryResult], *, keep: bool = True) -> None:
        for result in results:
            self.add(result, keep=keep)

    def count(self, outcome: str) -> int:
        return self.tally[outcome]

    @property
    def counts(self) -> dict[str, int]:
        return {label: self.count(outcome) for outcome, label in Outcome.LABELS.items()}

    @property
    def exit_code(self) -> int:
        """0: all handled; 1: some entries need a person; 2: the file was unreadable or the import stopped."""
        if self.file_errors or self.stopped:
            return 2
        return 1 if any(self.tally[outcome] for outcome in Outcome.NEEDS_A_PERSON) else 0

    def summary(self) -> str:
        parts = [f"{count} {label}" for label, count in self.counts.items() if count]
        text = ", ".join(parts) or "no entries"
        if self.dry_run:
            text = "Dry run, nothing was saved: would be " + text
        if self.file_errors:
            text += "; the file could not be read: " + "; ".join(self.file_errors)
        if self.stopped:
            text += "; " + self.stopped
        return text + "."


def position_key(position: str) -> tuple[int, tuple[int, ...]]:
    """File order of positions: "file" first, then "line 7" or "entry 3", "entry 3.2" after "entry 3"."""
    kind, _, number = position.partition(" ")
    if kind == "file":
        return (0, ())
    parts = number.split(".")
    return (1, tuple(int(part) for part in parts)) if all(part.isdigit() for part in parts) else (1, (0,))
