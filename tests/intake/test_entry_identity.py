"""A bank reference seen again: the same booking is "already imported", any other is refused.

The identity of a bank entry is its reference; what the bank said about it (amount, currency,
credit or debit, reversal, booking date: intake.decisions.same_facts) must match in every field,
so each field is changed alone here (issue 18: a comparison that forgot the currency counted
640.00 USD as the 640.00 EUR imported before). The import and its dry run decide alike.
"""

import dataclasses
import datetime
from decimal import Decimal

import pytest

from intake.importing import Outcome, import_entries, import_statement
from intake.models import BankEntry
from intake.statements import StatementEntry
from payments.models import Payment

pytestmark = pytest.mark.django_db

D = Decimal
HEADER = "booking_date,amount,currency,bank_reference,counterparty,remittance,customer_ref,reversal\n"
FIRST = ("2024-03-08", "640.00", "EUR", "NB240308-0009", "Golf Partners AG", "Rechnung GOLF-000077", "", "no")


def statement(*rows: tuple[str, ...]) -> bytes:
    return (HEADER + "".join(",".join(row) + "\n" for row in rows)).encode()


def changed(**fields: str) -> tuple[str, ...]:
    names = [
        "booking_date",
        "amount",
        "currency",
        "reference",
        "counterparty",
        "remittance",
        "customer_ref",
        "reversal",
    ]
    row = dict(zip(names, FIRST, strict=True))
    row.update(fields)
    return tuple(row[name] for name in names)


@pytest.fixture
def imported(world):
    report = import_statement(statement(FIRST), source_name="first.csv", by=None)
    assert [r.outcome for r in report.results] == [Outcome.RECORDED]
    return report


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_same_booking_again_is_already_imported_and_recorded_once(imported, dry_run):
    report = import_statement(statement(FIRST), source_name="again.csv", dry_run=dry_run, by=None)
    assert [r.outcome for r in report.results] == [Outcome.ALREADY_IMPORTED]
    assert "already imported from first.csv (line 2)" in report.results[0].message
    assert (BankEntry.objects.count(), Payment.objects.count()) == (1, 1)
    # The report links the entry and the payment recorded the first time (the page shows them).
    assert (report.results[0].bank_entry, report.results[0].payment) == (BankEntry.objects.get(), Payment.objects.get())


@pytest.mark.parametrize(
    ("field", "row"),
    [
        ("amount one cent more", changed(amount="640.01")),
        ("amount one cent less", changed(amount="639.99")),
        ("currency", changed(currency="USD")),
        ("currency without minor units", changed(currency="JPY", amount="640")),
        ("debit instead of credit", changed(amount="-640.00")),
        ("reversal", changed(reversal="yes")),
        ("booking date", changed(booking_date="2024-03-09")),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_the_same_reference_with_one_fact_changed_is_refused(imported, field, row, dry_run):
    report = import_statement(statement(row), source_name="second.csv", dry_run=dry_run, by=None)
    assert [r.outcome for r in report.results] == [Outcome.REJECTED], field
    assert "NB240308-0009 was imported before (line 2 of first.csv) as a credit of 640.00 EUR" in (
        report.results[0].message
    )
    assert (BankEntry.objects.count(), Payment.objects.count()) == (1, 1)
    assert Payment.objects.get().amount == D("640.00")


@pytest.mark.parametrize(
    "row",
    [changed(counterparty="Golf Partners"), changed(remittance="GOLF-000077 thanks")],
)
def test_what_the_payer_wrote_is_not_part_of_the_identity(imported, row):
    """Banks re-export the same booking with the payer's text trimmed or re-wrapped."""
    report = import_statement(statement(row), source_name="again.csv", by=None)
    assert [r.outcome for r in report.results] == [Outcome.ALREADY_IMPORTED]
    assert Payment.objects.count() == 1


def test_an_overlapping_statement_records_only_its_new_entries_and_refuses_the_conflict(imported, world):
    """Tuesday's statement had two bookings; Wednesday's repeats one, adds one and repeats the
    other's reference in another currency (a bank error the clerk must hear about)."""
    second = changed(
        reference="NB240308-0010",
        amount="89.99",
        currency="GBP",
        counterparty="Cobalt & Sons Ltd",
        remittance="ACME-000043",
    )
    import_statement(statement(second), source_name="tuesday.csv", by=None)
    new = changed(
        reference="NB240309-0011",
        booking_date="2024-03-09",
        amount="1500.00",
        counterparty="Echo Media SARL",
        remittance="ECHO-000120",
    )
    conflict = changed(currency="GBP")
    report = import_statement(statement(second, new, conflict), source_name="wednesday.csv", by=None)
    assert [r.outcome for r in report.results] == [Outcome.ALREADY_IMPORTED, Outcome.RECORDED, Outcome.REJECTED]
    assert "was imported before" in report.results[2].message
    assert sorted(Payment.objects.values_list("amount", "currency")) == [
        (D("89.99"), "GBP"),
        (D("640.00"), "EUR"),
        (D("1500.00"), "EUR"),
    ]


# The bank reference is stored whole (up to 100 characters) or refused before anything is written:
# at the limit it is kept, one character over it the entry is rejected with the reason, not by the database.
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_bank_reference_of_100_characters_is_stored_and_101_is_refused(world, dry_run):
    at_limit, over = "R" * 99 + "0", "R" * 100 + "1"
    report = import_statement(
        statement(changed(reference=at_limit), changed(reference=over, remittance="Rechnung ECHO-000120")),
        source_name="long.csv",
        dry_run=dry_run,
        by=None,
    )
    assert [r.outcome for r in report.results] == [Outcome.RECORDED, Outcome.REJECTED]
    assert "is longer than 100 characters" in report.results[1].message
    if not dry_run:
        assert list(BankEntry.objects.values_list("bank_reference", flat=True)) == [at_limit]


# Each report line carries the entry's own amount, currency and direction (the page signs money out).
@pytest.mark.parametrize("dry_run", [False, True])
def test_each_report_line_shows_the_entrys_amount_currency_and_direction(world, dry_run):
    debit = changed(reference="NB240308-0010", amount="-12.35", currency="GBP", remittance="Bank fee")
    unknown = changed(reference="NB240308-0011", amount="7.00", currency="USD", counterparty="Nobody", remittance="?")
    report = import_statement(statement(FIRST, debit, unknown), source_name="lines.csv", dry_run=dry_run, by=None)
    assert [(r.outcome, r.amount, r.currency, r.credit, r.amount_display) for r in report.results] == [
        (Outcome.RECORDED, D("640.00"), "EUR", True, "640.00 EUR"),
        (Outcome.IGNORED, D("12.35"), "GBP", False, "-12.35 GBP"),
        (Outcome.UNIDENTIFIED, D("7.00"), "USD", True, "7.00 USD"),
    ]


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_row_keeps_the_customer_reference_and_the_position_cut_to_32_characters(world, dry_run):
    """Entries built directly (import_entries) may name any position; the row keeps its first 32
    characters, which a twin's note quotes (the dry run's rows are never stored, so only the cut
    in intake.decisions.bank_entry_row shortens them there)."""
    entry = StatementEntry(
        position="entry 7 of " + "a-very-long-statement-name" * 2,
        bank_reference="NB240308-0042",
        booking_date=datetime.date(2024, 3, 8),
        amount=D("640.00"),
        currency="EUR",
        credit=True,
        reversal=False,
        counterparty_name="Golf Partners AG",
        customer_reference="RF18 5390 0754 7034",
        remittance_text="Rechnung GOLF-000077",
    )
    twin = dataclasses.replace(entry, position="entry 8 of the same file", bank_reference="NB240308-0043")
    report = import_entries([entry, twin], source_name="api", dry_run=dry_run, by=None)
    assert [r.outcome for r in report.results] == [Outcome.RECORDED, Outcome.NEEDS_REVIEW]
    assert report.results[1].message.startswith(f"Looks like NB240308-0042 ({entry.position[:32]} of api):")
    if not dry_run:
        stored = BankEntry.objects.get(bank_reference="NB240308-0042")
        assert (stored.customer_reference, stored.source_position) == ("RF18 5390 0754 7034", entry.position[:32])


# Twins: a credit with the date, amount, currency, payer and text of an earlier credit under another
# reference looks like one booking exported twice (intake.decisions.twin_key, load_twins).
NO_PAYER = changed(counterparty="")
NO_PAYER_TWIN = changed(reference="NB240308-0099", counterparty="")


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_credit_with_text_but_no_payer_has_a_twin_in_the_same_file(world, dry_run):
    report = import_statement(statement(NO_PAYER, NO_PAYER_TWIN), source_name="one.csv", dry_run=dry_run, by=None)
    assert [r.outcome for r in report.results] == [Outcome.RECORDED, Outcome.NEEDS_REVIEW]
    assert report.results[1].message.startswith("Looks like NB240308-0009 (line 2 of one.csv)")


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_credit_with_text_but_no_payer_has_a_twin_in_an_earlier_file(world, dry_run):
    import_statement(statement(NO_PAYER), source_name="first.csv", by=None)
    report = import_statement(statement(NO_PAYER_TWIN), source_name="second.csv", dry_run=dry_run, by=None)
    assert [r.outcome for r in report.results] == [Outcome.NEEDS_REVIEW]
    assert report.results[0].message.startswith("Looks like NB240308-0009 (line 2 of first.csv)")
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("dry_run", [False, True])
def test_credits_without_payer_or_text_are_never_twins(world, dry_run):
    blank = changed(counterparty="", remittance="")
    report = import_statement(
        statement(blank, changed(reference="NB240308-0099", counterparty="", remittance="")),
        source_name="blank.csv",
        dry_run=dry_run,
        by=None,
    )
    assert [r.outcome for r in report.results] == [Outcome.UNIDENTIFIED, Outcome.UNIDENTIFIED]


@pytest.mark.parametrize(
    ("earlier", "its_outcome"),
    [
        (changed(reference="NB240308-0001", amount="-640.00"), Outcome.IGNORED),  # money out
        (changed(reference="NB240308-0001", reversal="yes"), Outcome.NEEDS_REVIEW),  # a reversal
    ],
    ids=["debit", "reversal"],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_earlier_debit_or_reversal_with_the_same_facts_is_not_a_twin(world, earlier, its_outcome, dry_run):
    first = import_statement(statement(earlier), source_name="first.csv", by=None)
    assert [r.outcome for r in first.results] == [its_outcome]
    report = import_statement(statement(FIRST), source_name="second.csv", dry_run=dry_run, by=None)
    assert [r.outcome for r in report.results] == [Outcome.RECORDED]
