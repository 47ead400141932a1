"""The importer streams the statement (issue 10, speed: memory bounded): it reads a chunk, imports
it, then reads the next, so what it holds does not grow with the file; the total is known
with the last chunk."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from intake import outcomes
from intake.importing import Outcome, import_entries
from intake.reading import Reader, cut
from intake.statements import StatementEntry, StatementError

pytestmark = pytest.mark.django_db


def entry(n: int, **fields) -> StatementEntry:
    values = dict(
        position=f"entry {n}",
        bank_reference=f"STREAM-{n}",
        booking_date=datetime.date(2024, 3, 4),
        amount=Decimal("10.00"),
        currency="EUR",
        credit=False,  # a debit: ignored, so the test is about reading, not recording
        reversal=False,
        counterparty_name="Bank",
        customer_reference="",
        remittance_text=f"fee {n}",
    )
    values.update(fields)
    return StatementEntry(**values)  # type: ignore[arg-type]


def test_the_importer_reads_the_file_a_chunk_at_a_time(monkeypatch):
    monkeypatch.setattr(outcomes, "CHUNK", 5)
    parsed = 0

    def parser():
        nonlocal parsed
        for n in range(1, 31):
            parsed += 1
            yield entry(n)

    seen = []  # (done, total given, parsed so far) at each progress call

    report = import_entries(parser(), by=None, progress=lambda done, total, results: seen.append((done, total, parsed)))

    assert report.total == 30 and report.count(Outcome.IGNORED) == 30
    assert [done for done, _, _ in seen] == [5, 10, 15, 20, 25, 30]
    # At most the chunk being imported and the next one are read: never the whole file.
    assert all(read <= done + 5 for done, _, read in seen)
    # The total is not known until the last chunk is in hand; then it is exact.
    assert [total for _, total, _ in seen] == [0, 0, 0, 0, 0, 30]


def test_parser_errors_are_reported_with_the_chunk_they_come_before(monkeypatch):
    monkeypatch.setattr(outcomes, "CHUNK", 2)
    items = [entry(1), StatementError("entry 2", "no amount"), entry(3), entry(4), StatementError("file", "cut short")]

    batches = list(cut(items))

    assert [[e.position for e in b.entries] for b in batches] == [["entry 1", "entry 3"], ["entry 4"]]
    assert [[r.position for r in b.rejected] for b in batches] == [["entry 2"], []]
    assert batches[-1].file_errors == ["cut short"]
    report = import_entries(items, by=None)
    assert report.total == 4 and report.file_errors == ["cut short"]
    assert [(r.position, r.outcome) for r in report.results] == [
        ("entry 1", Outcome.IGNORED),
        ("entry 2", Outcome.REJECTED),
        ("entry 3", Outcome.IGNORED),
        ("entry 4", Outcome.IGNORED),
    ]


def test_a_booked_reversal_of_a_credit_is_a_chunk_of_its_own():
    reversal = entry(2, credit=False, reversal=True)
    assert [[e.position for e in b.entries] for b in cut([entry(1), reversal, entry(3)])] == [
        ["entry 1"],
        ["entry 2"],
        ["entry 3"],
    ]


def test_an_empty_file_is_one_empty_chunk_and_a_total_of_nothing():
    reader = Reader(cut([]))
    assert [b.size for b in reader] == [0]
    assert reader.total == 0


def test_the_total_after_a_stop_counts_what_was_not_imported(monkeypatch):
    monkeypatch.setattr(outcomes, "CHUNK", 2)
    reader = Reader(cut([entry(n) for n in range(1, 8)]))
    first = next(iter(reader))
    assert first.size == 2 and reader.total is None
    assert reader.count_rest() == 7
