"""The sentences a clerk reads on an import's report, word for word (issue 18: they were mutated
into nonsense and no test noticed). Each outcome that the facts decide, a twin, an entry imported
before (also from a statement without a file name) and a database refusal."""

import datetime
from decimal import Decimal

import pytest

from intake.importing import Outcome, import_entries
from intake.statements import StatementEntry
from tests.intake.test_pipeline import credit

pytestmark = pytest.mark.django_db


def entry(reference: str, amount: str = "1250.00", **fields) -> StatementEntry:
    return credit(reference, amount, "Payment invoice ACME-000042", **fields)


def only(report):
    (result,) = report.results
    return result.outcome, result.message


@pytest.mark.parametrize("dry_run", [False, True])
def test_what_the_facts_decide_is_said_in_full(world, dry_run):
    report = import_entries(
        [
            entry("NB-W-1", credit=False),
            entry("NB-W-2", reversal=True),
            entry("NB-W-3", review="the 2 transactions add up to 3483.00, the entry says 3500.00"),
        ],
        by=None,
        dry_run=dry_run,
    )
    assert [(r.outcome, r.message) for r in report.results] == [
        (Outcome.IGNORED, "A bank fee or a refund we sent: nothing to record."),
        (Outcome.NEEDS_REVIEW, "Reversal of money we sent (e.g. a refund that bounced): handle it by hand."),
        (
            Outcome.NEEDS_REVIEW,
            "Not recorded: the 2 transactions add up to 3483.00, the entry says 3500.00. "
            "Record the payments by hand, then dismiss this entry.",
        ),
    ]


@pytest.mark.parametrize("source_name", ["", "monday.xml"])
def test_a_twin_names_the_first_entry_and_what_to_do(world, source_name):
    import_entries([entry("NB-W-10", position="entry 7")], source_name=source_name, by=None)
    report = import_entries([entry("NB-W-11")], source_name="tuesday.xml", by=None)
    assert only(report) == (
        Outcome.NEEDS_REVIEW,
        f"Looks like NB-W-10 (entry 7 of {source_name or 'an earlier file'}): same date, amount, payer and text "
        "under another bank reference. If it is a second payment, assign it to the customer; otherwise dismiss it.",
    )


def test_an_entry_imported_before_from_a_statement_without_a_name(world):
    first = entry("NB-W-20", position="entry 3")
    import_entries([first], by=None)
    assert only(import_entries([first], by=None)) == (
        Outcome.ALREADY_IMPORTED,
        "already imported from an earlier file (entry 3): recorded as a payment",
    )
    changed = entry("NB-W-20", "1250.01")
    assert only(import_entries([changed], by=None)) == (
        Outcome.REJECTED,
        "Bank reference NB-W-20 was imported before (entry 3 of an earlier file) as a credit of 1,250.00 EUR "
        "booked 2024-03-04; this entry is a credit of 1,250.01 EUR booked 2024-03-04. Ask the bank which is right.",
    )


def test_a_database_refusal_says_what_was_refused_and_that_the_rest_went_on(world):
    report = import_entries([entry("NB-W-30", counterparty_name="Acme\x00 Trading")], by=None)
    outcome, message = only(report)
    assert outcome == Outcome.REJECTED
    assert message == (
        "the database refused this entry (DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes); "
        "nothing was recorded for it, the other entries were imported"
    )


def test_a_refusal_without_a_message_names_the_error():
    from django.db import DatabaseError, DataError

    from intake.decisions import refused_message

    assert refused_message(DatabaseError()) == (
        "the database refused this entry (DatabaseError: DatabaseError); nothing was recorded for it, "
        "the other entries were imported"
    )
    assert refused_message(DataError("value too long\nDETAIL: more")).startswith(
        "the database refused this entry (DataError: value too long); "
    )
