"""A bank reference seen again: the same booking is "already imported", any other is refused.

The identity of a bank entry is its reference; what the bank said about it (amount, currency,
credit or debit, reversal, booking date: intake.decisions.same_facts) must match in every field,
so each field is changed alone here (issue 18: a comparison that forgot the currency counted
640.00 USD as the 640.00 EUR imported before). The import and its dry run decide alike.
"""

from decimal import Decimal

import pytest

from intake.importing import Outcome, import_statement
from intake.models import BankEntry
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
