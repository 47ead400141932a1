"""Streams (intake.streams): chunks that share nothing are imported at once, and the import
ends exactly as one chunk after another would (issue 10, speed)."""

from __future__ import annotations

import re

import pytest
from django.db import transaction

from intake import outcomes
from intake.importing import Outcome, import_entries
from intake.reading import Batch
from intake.streams import Footprint, Task, _hand_out
from tests.intake.test_bulk_differential import _import_snapshot
from tests.intake.test_pipeline import credit
from tests.invariants import assert_invariants


def _statement(w):
    """Fifteen entries over five chunks of three, with every kind of dependency between chunks."""
    return [
        credit("S-1", "1250.00", "Payment ACME-000042", position="entry 1"),
        credit("S-2", "50.00", "BOLT-000007 part", position="entry 2", currency="USD"),
        credit("S-3", "2000.00", "ECHO-000121 and the rest", position="entry 3"),  # the rest: oldest first
        # Echo again (its invoices as chunk 1 left them), a customer of its own, chunk 1's reference again.
        credit("S-4", "300.00", "ECHO-000120", position="entry 4"),
        credit("S-5", "99.00", "GOLF-000077", position="entry 5", counterparty_name="Golf Partners AG"),
        credit("S-2", "50.00", "BOLT-000007 part", position="entry 6", currency="USD"),
        # A look-alike of entry 5 under another reference, a customer of its own, a payer the database refuses.
        credit("S-7", "99.00", "GOLF-000077", position="entry 7", counterparty_name="Golf Partners AG"),
        credit("S-8", "5000", "ACME-000044", position="entry 8", currency="JPY"),
        credit("S-9", "15.50", "FOX-000003", position="entry 9", currency="USD", counterparty_name="Fox\x00trot"),
        # The reversal of entry 5 (a chunk of its own), then independent and unknown entries.
        credit(
            "S-10",
            "99.00",
            "GOLF-000077",
            position="entry 10",
            credit=False,
            reversal=True,
            counterparty_name="Golf Partners AG",
        ),
        credit("S-11", "89.99", "ACME-000043", position="entry 11", currency="GBP"),
        credit("S-12", "12.00", "nothing we know", position="entry 12", counterparty_name="Nobody"),
        credit("S-13", "4.20", "bank fee", position="entry 13", credit=False),
        # A reversal nobody can be named for: it may send back anyone's payment.
        credit("S-14", "640.00", "", position="entry 14", credit=False, reversal=True, counterparty_name="?"),
        credit("S-15", "110.50", "BOLT-000008", position="entry 15", currency="USD"),
    ]


def _normal(found):
    """Ids aside (chargeback numbers, the allocation a reversal reverses), and the journal in each
    customer's order: chunks that share no customer may interleave, a customer's entries may not."""
    tables, reported = found
    tables = dict(tables)
    tables["allocations"] = [(*row[:4], row[4] is not None, *row[5:]) for row in tables["allocations"]]
    tables["journal"] = sorted(tables["journal"], key=lambda row: row[1])  # stable: per customer, as written
    return re.sub(r"chargeback #\d+", "chargeback #N", repr((tables, reported)))


@pytest.mark.django_db(transaction=True)
def test_two_streams_end_exactly_as_one_chunk_after_another(world, monkeypatch):
    monkeypatch.setattr(outcomes, "CHUNK", 3)
    entries = _statement(world)

    with transaction.atomic():  # one stream (a caller's transaction), then rolled back
        one = import_entries(entries, source_name="s.xml", by=None, streams=2)
        assert_invariants()
        expected = _import_snapshot(one.results)
        transaction.set_rollback(True)

    two = import_entries(entries, source_name="s.xml", by=None, streams=2)
    assert_invariants()

    assert _normal(_import_snapshot(two.results)) == _normal(expected)
    assert two.total == one.total == 15 and two.tally == one.tally
    outcome = {r.position: r.outcome for r in two.results}
    assert outcome["entry 6"] == Outcome.ALREADY_IMPORTED
    assert outcome["entry 7"] == Outcome.NEEDS_REVIEW  # the look-alike of entry 5
    assert outcome["entry 9"] == Outcome.REJECTED  # the NUL byte: its chunk was redone carefully
    assert outcome["entry 10"] == Outcome.CHARGED_BACK
    assert [r.position for r in two.results] == [f"entry {n}" for n in range(1, 16)]


def _task(number: int, footprint: Footprint) -> Task:
    return Task(number, Batch(entries=[object()]), footprint)  # type: ignore[list-item]


class _Pool:
    def __init__(self):
        self.sent: list[int] = []

    def send(self, task):
        self.sent.append(task.number)
        return True


def test_a_chunk_is_handed_out_only_when_no_unfinished_earlier_chunk_meets_it():
    ada, bob, cy = Footprint(customers={1}), Footprint(customers={2}), Footprint(customers={3})
    order = [
        _task(1, ada),
        _task(2, bob),
        _task(3, Footprint(customers={1, 4})),  # Ada again: waits for chunk 1
        _task(4, cy),  # meets no earlier chunk: may run before chunk 3
        _task(5, Footprint(customers={4})),  # meets chunk 3, which has not run yet: waits for it
        _task(6, Footprint(everyone=True)),  # a reversal of anyone's payment: waits for all before it
        _task(7, Footprint(references={"R"})),  # would run, but the reversal before it meets everything
    ]
    pool, sent = _Pool(), {}
    _hand_out(order, pool, 2, sent)
    assert pool.sent == [1, 2] and list(sent) == [1, 2]  # two streams: two independent chunks
    _hand_out(order, pool, 1, sent)
    assert pool.sent == [1, 2, 4]  # 3 waits for 1, 5 for 3
    order[0].running, order[0].finished = False, True
    _hand_out(order, pool, 1, sent)
    assert pool.sent == [1, 2, 4, 3]
    for task in order[1:4]:
        task.running, task.finished = False, True
    _hand_out(order, pool, 2, sent)
    assert pool.sent[-1] == 5  # 6 waits for 5, 7 for the reversal
    order[4].running, order[4].finished = False, True
    _hand_out(order, pool, 2, sent)
    assert pool.sent[-1] == 6
    assert Footprint(references={"R"}).meets(Footprint(references={"R", "S"}))
    assert Footprint(looks={("a",)}).meets(Footprint(looks={("a",)}))
    assert not ada.meets(bob)


@pytest.mark.django_db
def test_a_chunks_footprint_is_who_it_names_its_references_and_looks(world):
    from intake.streams import footprint

    entries = _statement(world)
    first = footprint(entries[:3])
    assert first.customers == {world["acme"].pk, world["bolt"].pk, world["echo"].pk}
    assert first.references == {"S-1", "S-2", "S-3"} and len(first.looks) == 3 and not first.everyone
    assert footprint(entries[3:6]).meets(first)  # Echo again, and S-2 again
    assert not footprint([entries[7]]).meets(first)  # Kilo's yen: nothing in common
    assert footprint([entries[9]]).customers == {world["golf"].pk}  # a reversal is its payer's
    assert footprint([entries[13]]).everyone  # a reversal nobody is named for
    assert footprint([entries[6]]).meets(footprint([entries[4]]))  # look-alikes under two references


@pytest.mark.django_db
def test_an_entry_imported_already_counts_only_by_its_reference(world):
    from intake.streams import footprint

    entries = _statement(world)[:3]
    import_entries(entries[:1], by=None)
    again = footprint(entries)
    assert again.references == {"S-1", "S-2", "S-3"}
    assert again.customers == {world["bolt"].pk, world["echo"].pk}  # Acme's credit is in already
