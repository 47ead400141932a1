"""The import pipeline (issue 10 items 6, 7 and 9): entry status, a bad entry is its own error, the dry run.

Entries are built directly as StatementEntry values (the parsers are tested in
test_statements.py) and imported with import_entries, the entry point import_statement
uses after parsing.
"""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from allocations.models import Allocation
from intake import outcomes
from intake.importing import Outcome, import_entries, import_statement
from intake.models import BankEntry
from intake.parsing.common import BOOKED, INFO, PENDING
from intake.statements import StatementEntry
from payments.models import Chargeback, Payment
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db

D = Decimal
SAMPLES = Path(__file__).resolve().parent / "samples"


def credit(reference: str, amount: str, text: str, *, position: str = "entry 1", **fields) -> StatementEntry:
    values = dict(
        position=position,
        bank_reference=reference,
        booking_date=datetime.date(2024, 3, 4),
        amount=D(amount),
        currency="EUR",
        credit=True,
        reversal=False,
        counterparty_name="Acme Trading GmbH",
        customer_reference="",
        remittance_text=text,
    )
    values.update(fields)
    return StatementEntry(**values)  # type: ignore[arg-type]


def outcomes_of(report):
    return [(r.position, r.outcome) for r in report.results]


# Item 6: only booked entries are settled money.


@pytest.mark.parametrize("status", [PENDING, INFO])
def test_an_entry_not_booked_is_skipped_and_recorded_once_a_statement_shows_it_booked(world, status):
    waiting = credit("NB-PEND-1", "1250.00", "Payment invoice ACME-000042", status=status)

    report = import_entries([waiting], source_name="intraday.xml", by=None)

    assert outcomes_of(report) == [("entry 1", Outcome.NOT_BOOKED)]
    assert "pending at the bank: not recorded" in report.results[0].message
    assert (Payment.objects.count(), BankEntry.objects.count()) == (0, 0)
    assert report.exit_code == 0 and report.summary() == "1 not booked."
    world["ACME-000042"].refresh_from_db()
    assert world["ACME-000042"].payment_status == "unpaid"

    booked = credit("NB-PEND-1", "1250.00", "Payment invoice ACME-000042", status=BOOKED)
    later = import_entries([booked], source_name="eod.xml", by=None)

    assert outcomes_of(later) == [("entry 1", Outcome.RECORDED)]
    assert Payment.objects.get(reference="NB-PEND-1").customer == world["acme"]
    world["ACME-000042"].refresh_from_db()
    assert world["ACME-000042"].payment_status == "paid"


def test_a_dry_run_also_skips_an_entry_not_booked(world):
    report = import_entries([credit("NB-PEND-2", "5.00", "ACME-000042", status=PENDING)], by=None, dry_run=True)
    assert outcomes_of(report) == [("entry 1", Outcome.NOT_BOOKED)]


# Item 7: a bad entry is that entry's error.


def test_a_nul_byte_rejects_that_entry_only_and_the_rest_imports(world):
    entries = [
        credit("NB-NUL-1", "1250.00", "Payment invoice ACME-000042", position="line 2"),
        # PostgreSQL refuses NUL in text (DataError): the payer's name of this one cannot be stored.
        credit(
            "NB-NUL-2", "1500.00", "Invoice ECHO-000120", position="line 3", counterparty_name="Echo Media\x00 SARL"
        ),
        credit("NB-NUL-3", "15.50", "FOX-000003", position="line 4", currency="USD", counterparty_name="Foxtrot LLC"),
    ]

    report = import_entries(entries, source_name="nul.csv", by=None)

    assert outcomes_of(report) == [
        ("line 2", Outcome.RECORDED),
        ("line 3", Outcome.REJECTED),
        ("line 4", Outcome.RECORDED),
    ]
    assert "the database refused this entry (DataError" in report.results[1].message
    assert report.stopped == "" and report.exit_code == 1
    # Its payment was rolled back with it: nothing of the entry is left.
    assert not Payment.objects.filter(reference="NB-NUL-2").exists()
    assert not BankEntry.objects.filter(bank_reference="NB-NUL-2").exists()
    assert sorted(BankEntry.objects.values_list("bank_reference", flat=True)) == ["NB-NUL-1", "NB-NUL-3"]
    world["ECHO-000120"].refresh_from_db()
    assert world["ECHO-000120"].payment_status == "unpaid"

    again = import_entries(entries, source_name="nul.csv", by=None)  # every retry: the same, not a stop
    assert outcomes_of(again) == [
        ("line 2", Outcome.ALREADY_IMPORTED),
        ("line 3", Outcome.REJECTED),
        ("line 4", Outcome.ALREADY_IMPORTED),
    ]
    assert Payment.objects.count() == 2
    assert_invariants()


def test_a_nul_byte_in_a_reference_the_chunk_looks_up_rejects_only_that_entry(world):
    entries = [
        credit("NB-NUL-4", "1250.00", "Payment invoice ACME-000042", position="line 2"),
        credit("NB-NUL-5", "20.00", "thanks", position="line 3", customer_reference="C-0\x0077"),
    ]
    report = import_entries(entries, by=None)
    assert outcomes_of(report) == [("line 2", Outcome.RECORDED), ("line 3", Outcome.REJECTED)]
    assert "DataError" in report.results[1].message


# Chunks: the outcome of each entry does not depend on where the chunks split the file.


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_small_chunks_give_the_same_outcomes_and_progress_after_each(world, monkeypatch, chunk):
    monkeypatch.setattr(outcomes, "CHUNK", chunk)

    calls = []

    report = import_statement(
        (SAMPLES / "statement.csv").read_bytes(),
        source_name="statement.csv",
        by=None,
        progress=lambda done, total, results: calls.append((done, total, len(results))),
    )

    assert [o for _, o in outcomes_of(report)] == [
        Outcome.RECORDED,
        Outcome.RECORDED,
        Outcome.RECORDED,
        Outcome.IGNORED,
        Outcome.REJECTED,
        Outcome.CHARGED_BACK,  # the reversal finds the credit of an earlier chunk, or of its own
        Outcome.REJECTED,
        Outcome.RECORDED,
        Outcome.RECORDED,
    ]
    assert calls[-1][:2] == (9, 9)
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)
    assert sum(n for _, _, n in calls) == 9
    assert (Payment.objects.count(), BankEntry.objects.count(), Chargeback.objects.count()) == (5, 7, 1)
    assert_invariants()


def test_a_long_import_folds_the_queue_total_deltas_as_it_goes_and_when_it_ends(world, monkeypatch):
    """Every page's navigation counts read the deltas until they are folded: an import of many
    chunks folds them every FOLD_EVERY chunks and at its end, keeping every total."""
    from intake import runner
    from invoices.models import INVOICE_QUEUE_FIGURES
    from payments.models import PAYMENT_QUEUE_FIGURES

    monkeypatch.setattr(outcomes, "CHUNK", 2)
    monkeypatch.setattr(runner, "FOLD_EVERY", 2)
    folds = []
    fold = runner.fold_queue_totals
    monkeypatch.setattr(runner, "fold_queue_totals", lambda: (folds.append(1), fold()))
    import_statement((SAMPLES / "statement.csv").read_bytes(), source_name="statement.csv", by=None)
    assert len(folds) >= 2  # during the import (every 2 chunks) and at its end
    for figures in (INVOICE_QUEUE_FIGURES, PAYMENT_QUEUE_FIGURES):
        rows = list(figures.model.objects.values_list(*figures.keys))
        assert len(rows) == len(set(rows)), figures.table  # one row per key: nothing left unfolded
    assert_invariants()  # the folded totals equal what the rows say


# Item 9: a dry run touches no sequence.


def sequence_values() -> dict[str, int | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE sequencename IN "
            "('payments_payment_id_seq', 'payments_chargeback_id_seq', 'payments_bankentry_id_seq', "
            "'allocations_allocation_id_seq', 'payments_paymentstatuschange_id_seq')"
        )
        return dict(cursor.fetchall())


@pytest.mark.parametrize("name", ["statement.csv", "mixed.csv", "statement_camt053.xml"])
def test_a_dry_run_takes_no_number_and_says_what_the_import_then_does(world, name):
    data = (SAMPLES / name).read_bytes()
    before = sequence_values()

    dry = import_statement(data, source_name=name, by=None, dry_run=True)

    assert sequence_values() == before  # no nextval: the real run's numbers are the ones it would have had
    assert (Payment.objects.count(), BankEntry.objects.count(), Allocation.objects.count()) == (0, 0, 0)
    real = import_statement(data, source_name=name, by=None)
    assert outcomes_of(dry) == outcomes_of(real)
    for would, did in zip(dry.results, real.results, strict=True):
        assert [(a.invoice_number, a.amount, a.reason) for a in would.allocations] == [
            (a.invoice_number, a.amount, a.reason) for a in did.allocations
        ], would.position


def test_the_real_run_after_a_dry_run_gets_the_numbers_it_would_have_had(world):
    data = (SAMPLES / "statement.csv").read_bytes()
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM payments_payment_id_seq")
        last, called = cursor.fetchone()
    first_number = last + 1 if called else last

    dry = import_statement(data, source_name="statement.csv", by=None, dry_run=True)
    real = import_statement(data, source_name="statement.csv", by=None)

    assert "would record a payment of 1,250.00 EUR for Acme Trading GmbH" in dry.results[0].message
    assert real.results[0].payment.pk == first_number
    assert real.results[0].message.startswith(f"P-{first_number} for Acme Trading GmbH")


def test_a_dry_run_after_an_import_finds_everything_imported(world):
    data = (SAMPLES / "statement.csv").read_bytes()
    import_statement(data, source_name="statement.csv", by=None)
    dry = import_statement(data, source_name="statement.csv", by=None, dry_run=True)
    assert {o for p, o in outcomes_of(dry) if p not in ("line 7", "line 9")} == {Outcome.ALREADY_IMPORTED}


def test_a_deadlock_is_tried_again_and_the_import_goes_on(world, monkeypatch, settings):
    settings.SETTLE_INTAKE_SET_BASED = (
        False  # the failure is injected into the one-by-one path; see test_bulk_differential.py
    )
    import psycopg
    from django.db import OperationalError

    from intake import services as bank_entries

    real = bank_entries.record_payment
    calls = []

    def deadlocked_once(**kwargs):
        calls.append(kwargs["reference"])
        if len(calls) == 2:
            try:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            except psycopg.errors.DeadlockDetected as cause:
                raise OperationalError("deadlock detected") from cause
        return real(**kwargs)

    monkeypatch.setattr(bank_entries, "record_payment", deadlocked_once)
    report = import_statement((SAMPLES / "statement.csv").read_bytes(), source_name="statement.csv", by=None)

    assert report.stopped == ""
    assert report.count(Outcome.RECORDED) == 5 and Payment.objects.count() == 5
    assert calls.count("NB240304-0002") == 2  # the entry that met the deadlock, tried again
    assert_invariants()


def test_the_command_with_summary_prints_the_counts_only(world):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("import_payments", str(SAMPLES / "statement.csv"), "--summary", stdout=out)
    assert exc.value.code == 1
    assert out.getvalue().splitlines() == [
        "statement.csv (csv)",
        "5 recorded, 1 charged back, 1 ignored (money out), 2 rejected.",
    ]
