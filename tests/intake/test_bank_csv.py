"""Bank CSV profiles (intake.parsing.bank_csv and csv_profiles): pure Python, no Django, no database.

The sample files in samples/csv/ follow the banks' published export layouts (see
samples/csv/README.md for the sources) with invented names, accounts and amounts.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest

from intake.parsing.bank_csv import iter_csv, parse_csv
from intake.parsing.csv_profiles import CSV_PROFILES, SETTLE, get_profile
from intake.statements import StatementEntry, StatementError, iter_statement, parse_statement

SAMPLES = Path(__file__).resolve().parent / "samples" / "csv"
D = Decimal
date = datetime.date
SETTLE_HEADER = "booking_date,amount,currency,bank_reference,counterparty,remittance"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def summary(entries: list[StatementEntry]) -> list[tuple]:
    return [
        (e.position, e.booking_date, e.amount, e.currency, e.credit, e.counterparty_name, e.remittance_text)
        for e in entries
    ]


# ---------------------------------------------------------------------------
# The profile table
# ---------------------------------------------------------------------------


def test_built_in_profiles_have_labels_for_the_upload_form():
    assert list(CSV_PROFILES) == ["settle", "ing-nl", "knab", "ing-de"]
    for key, profile in CSV_PROFILES.items():
        assert profile.key == key
        assert profile.label and profile.description


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown CSV profile 'rabo'; known profiles: 'settle', 'ing-nl', 'knab', 'ing-de'"
    ):
        get_profile("rabo")
    with pytest.raises(ValueError, match="unknown CSV profile 'rabo'"):
        parse_statement(b"x", format="csv", profile="rabo")


# ---------------------------------------------------------------------------
# ING Netherlands
# ---------------------------------------------------------------------------


def test_ing_nl_semicolon_export_with_saldo_and_tag_columns():
    parsed = parse_csv(sample("ing_nl.csv"), "ing-nl")
    assert parsed.errors == []
    assert summary(parsed.entries) == [
        (
            "line 2",
            date(2024, 3, 5),
            D("1250.00"),
            "EUR",
            True,
            "Acme Trading BV",
            "Naam: Acme Trading BV Omschrijving: Factuur ACME-000042 IBAN: NL91ABNA0417164300 Valutadatum: 05-03-2024",
        ),
        (
            "line 3",
            date(2024, 3, 5),
            D("7.50"),
            "EUR",
            False,
            "Kosten Zakelijk Betalen",
            "1 feb t/m 29 feb 2024 ING BANK N.V. Valutadatum: 05-03-2024",
        ),
        (
            "line 4",
            date(2024, 3, 4),
            D("89.99"),
            "EUR",
            True,
            "Bolt Logistiek",
            "Naam: Bolt Logistiek Omschrijving: BOLT-000007 IBAN: NL02RABO0123456789 Valutadatum: 04-03-2024",
        ),
        (
            "line 5",
            date(2024, 3, 4),
            D("89.99"),
            "EUR",
            True,
            "Bolt Logistiek",
            "Naam: Bolt Logistiek Omschrijving: BOLT-000007 IBAN: NL02RABO0123456789 Valutadatum: 04-03-2024",
        ),
    ]
    assert {e.account for e in parsed.entries} == {"NL20INGB0001234567"}
    assert {e.reference_kind for e in parsed.entries} == {"derived"}
    # the two identical payments of 4 March stay two entries
    assert len({e.bank_reference for e in parsed.entries}) == 4


def test_ing_nl_older_comma_export_in_iso_8859_1():
    parsed = parse_csv(sample("ing_nl_comma.csv"), "ing-nl")
    assert parsed.errors == []
    assert [(e.counterparty_name, e.amount) for e in parsed.entries] == [
        ("Café Delta VOF", D("45.10")),
        ("Acme Trading BV", D("1250.00")),
    ]


def test_ing_nl_bad_direction_word_and_signed_amount():
    header = '"Datum";"Naam / Omschrijving";"Rekening";"Tegenrekening";"Code";"Af Bij";"Bedrag (EUR)";"Mutatiesoort";"Mededelingen"'
    rows = [
        '"20240305";"A";"NL20INGB0001234567";"";"OV";"Op";"1,00";"";""',
        '"20240305";"A";"NL20INGB0001234567";"";"OV";"Bij";"-1,00";"";""',
        '"20240305";"A";"NL20INGB0001234567";"";"OV";"Bij";"1.00";"";""',
        '"20240305";"A";"NL20INGB0001234567";"";"OV";"Bij";"1.250,00";"";""',
    ]
    parsed = parse_csv("\n".join([header, *rows]).encode(), "ing-nl")
    assert [(e.position, e.amount) for e in parsed.entries] == [("line 5", D("1250.00"))]
    assert parsed.errors == [
        StatementError("line 2", "Af Bij 'Op' is not one of af, bij"),
        StatementError("line 3", "amount '-1,00' must not be signed: 'Af Bij' gives the direction"),
        StatementError("line 4", "amount '1.00' is not a number (expected a decimal comma, e.g. 1.234,56)"),
    ]


@pytest.mark.parametrize(("word", "credit"), [("Bij", True), ("Af", False)])
def test_ing_nl_amounts_below_one_unit_take_their_direction_from_the_column(word, credit):
    header = '"Datum";"Naam / Omschrijving";"Rekening";"Tegenrekening";"Code";"Af Bij";"Bedrag (EUR)";"Mutatiesoort";"Mededelingen"'
    row = f'"20240305";"A";"NL20INGB0001234567";"";"OV";"{word}";"0,50";"";""'
    parsed = parse_csv(f"{header}\n{row}\n".encode(), "ing-nl")
    assert parsed.errors == []
    assert [(e.amount, e.credit) for e in parsed.entries] == [(D("0.50"), credit)]


# ---------------------------------------------------------------------------
# Knab
# ---------------------------------------------------------------------------


def test_knab_export_title_line_bank_references_and_booking_date():
    parsed = parse_csv(sample("knab.csv"), "knab")
    assert parsed.errors == []
    assert summary(parsed.entries) == [
        ("line 3", date(2024, 3, 4), D("310.50"), "EUR", True, "Échelle Conseil", "ECHO-000120 en ECHO-000121"),
        # Boekdatum (5 March), not Transactiedatum (4 March)
        ("line 4", date(2024, 3, 5), D("2500"), "EUR", False, "Verhuur Noord BV", "Huur maart"),
        ("line 5", date(2024, 3, 6), D("15.5"), "EUR", True, "Foxtrot BV", "FOX-000003"),
    ]
    assert [(e.bank_reference[:2], e.reference_kind) for e in parsed.entries] == [
        ("C4", "bank"),
        ("C4", "bank"),
        ("D:", "derived"),  # an empty Referentie
    ]
    assert parsed.entries[0].bank_reference == "C4C04KNB00000001"
    assert {e.account for e in parsed.entries} == {"NL77KNAB0123456789"}


# ---------------------------------------------------------------------------
# ING Germany
# ---------------------------------------------------------------------------


def test_ing_de_title_lines_iso_8859_1_thousands_and_second_currency_column():
    parsed = parse_csv(sample("ing_de.csv"), "ing-de")
    assert parsed.errors == []
    assert summary(parsed.entries) == [
        ("line 16", date(2024, 3, 7), D("1640.00"), "EUR", True, "Golf Partner AG", "Rechnung GOLF-000077 Danke"),
        ("line 17", date(2024, 3, 6), D("99.65"), "EUR", False, "Stadtwerke Süd", "Strom Februar"),
        ("line 18", date(2024, 3, 5), D("100.00"), "EUR", True, "Müller & Söhne KG", "Re. MUELLER-000001"),
        ("line 19", date(2024, 3, 5), D("100.00"), "EUR", True, "Müller & Söhne KG", "Re. MUELLER-000001"),
    ]
    # the account comes from the "IBAN;..." title line
    assert {e.account for e in parsed.entries} == {"DE02120300000000202051"}


def test_ing_de_export_without_saldo_column_reads_the_only_currency():
    data = (
        "Umsatzanzeige;Datei erstellt am: 03.04.2024 22:16\n\nIBAN;DE02 1203 0000 0000 2020 51\n\n"
        "Buchung;Valuta;Auftraggeber/Empfänger;Buchungstext;Verwendungszweck;Betrag;Währung\n"
        "03.04.2024;03.04.2024;Hotel Ost;Gutschrift;ECHO-000121;1.234.567,89;CHF\n"
    ).encode("latin-1")
    parsed = parse_csv(data, "ing-de")
    assert parsed.errors == []
    assert [(e.amount, e.currency) for e in parsed.entries] == [(D("1234567.89"), "CHF")]


# ---------------------------------------------------------------------------
# Unknown layouts (issue 10 item 2 of the CSV side) and auto-detection
# ---------------------------------------------------------------------------


def test_wrong_profile_says_what_was_found_what_is_expected_and_which_profile_fits():
    parsed = parse_csv(sample("ing_de.csv"), "ing-nl")
    assert parsed.entries == []
    assert parsed.errors == [
        StatementError(
            "file",
            "missing required column(s): Datum, Bedrag (EUR), Af Bij, Naam / Omschrijving, Mededelingen "
            "(the header row has: Buchung, Valuta, Auftraggeber/Empfänger, Buchungstext, Verwendungszweck, Saldo, "
            "Währung, Betrag, Währung; delimiter ';', encoding Windows-1252); the 'ing-nl' profile (ING Netherlands) "
            "expects Datum, Bedrag (EUR), Af Bij, Naam / Omschrijving, Mededelingen and optionally Rekening; "
            "this looks like an ING Germany export: choose the 'ing-de' profile",
        )
    ]


def test_settle_profile_names_the_bank_profile_that_fits():
    parsed = parse_csv(sample("knab.csv"))
    assert len(parsed.errors) == 1
    assert parsed.errors[0].reason.endswith("; this looks like a Knab export: choose the 'knab' profile")
    assert "the header row has: Rekeningnummer, Transactiedatum, Valutacode" in parsed.errors[0].reason


def test_layout_that_no_profile_fits():
    parsed = parse_csv(b"Date\tDescription\tDebit\tCredit\n2024-03-04\tX\t\t1.00\n", "knab")
    assert parsed.errors == [
        StatementError(
            "file",
            "missing required column(s): Boekdatum, Bedrag, CreditDebet, Valutacode, Tegenrekeninghouder, "
            "Omschrijving (the header row has: Date, Description, Debit, Credit; delimiter '\t', encoding UTF-8); "
            "the 'knab' profile (Knab) expects Boekdatum, Bedrag, CreditDebet, Valutacode, Tegenrekeninghouder, "
            "Omschrijving and optionally Referentie, Rekeningnummer",
        )
    ]


@pytest.mark.parametrize(
    "name, label",
    [("ing_nl.csv", "ing-nl"), ("ing_nl_comma.csv", "ing-nl"), ("knab.csv", "knab"), ("ing_de.csv", "ing-de")],
)
def test_without_a_profile_the_one_that_fits_is_used(name, label):
    chosen, items = iter_statement(sample(name))
    assert chosen == "csv"
    assert list(items) == list(iter_csv(sample(name), label))


def test_without_a_profile_a_settle_file_stays_settle():
    assert parse_statement(sample("../statement.csv")) == parse_csv(sample("../statement.csv"), "settle")


def test_explicit_profile_through_the_facade():
    parsed = parse_statement(sample("knab.csv"), profile="knab")
    assert parsed.format == "csv"
    assert len(parsed.entries) == 3


# ---------------------------------------------------------------------------
# Derived references (issue 10 item 2, CSV side)
# ---------------------------------------------------------------------------


def test_same_export_twice_gives_the_same_references():
    first = [e.bank_reference for e in parse_csv(sample("ing_de.csv"), "ing-de").entries]
    second = [e.bank_reference for e in parse_csv(sample("ing_de.csv"), "ing-de").entries]
    assert first == second


def test_longer_export_overlapping_by_whole_days_shares_references():
    lines = sample("ing_de.csv").decode("latin-1").split("\r\n")
    header_at = next(i for i, line in enumerate(lines) if line.startswith("Buchung;"))
    rows = [line for line in lines[header_at + 1 :] if line]
    # a longer export: one more day before, one more day after, sorted ascending instead
    longer_rows = [
        "08.03.2024;08.03.2024;Hotel Ost;Gutschrift;ECHO-000121;13.000,35;EUR;360,00;EUR",
        *reversed(rows),
        "04.03.2024;04.03.2024;Golf Partner AG;Gutschrift;Rechnung GOLF-000070;10.900,00;EUR;900,00;EUR",
    ]
    longer = "\r\n".join([*lines[: header_at + 1], *longer_rows]).encode("latin-1")
    short_refs = {e.bank_reference for e in parse_csv(sample("ing_de.csv"), "ing-de").entries}
    long_refs = {e.bank_reference for e in parse_csv(longer, "ing-de").entries}
    assert len(short_refs) == 4
    assert short_refs < long_refs
    assert len(long_refs) == 6


def test_settle_rows_without_bank_reference_derive_the_same_reference_across_files():
    header = SETTLE_HEADER + ",account"
    one = parse_csv(f"{header}\n2024-03-04,10.00,EUR,,Acme,ACME-000042,NL20 INGB 0001 2345 67\n".encode())
    other = parse_csv(
        f"{header}\n2024-03-03,5.00,EUR,R9,B,x,NL20INGB0001234567\n"
        "2024-03-04,10.00,EUR,,Acme,ACME-000042,NL20INGB0001234567\n".encode()
    )
    assert one.errors == other.errors == []
    assert one.entries[0].account == "NL20INGB0001234567"
    assert one.entries[0].bank_reference == other.entries[1].bank_reference
    assert other.entries[0].reference_kind == "bank"


def test_settle_file_without_a_bank_reference_column():
    parsed = parse_csv(b"booking_date,amount,currency,counterparty,remittance\n2024-03-04,1.00,EUR,A,B\n")
    assert parsed.errors == []
    assert parsed.entries[0].reference_kind == "derived"


def test_derived_reference_depends_on_every_fact():
    base = "2024-03-04,10.00,EUR,,Acme,ACME-000042"
    variants = [
        base,
        "2024-03-05,10.00,EUR,,Acme,ACME-000042",
        "2024-03-04,-10.00,EUR,,Acme,ACME-000042",
        "2024-03-04,10.01,EUR,,Acme,ACME-000042",
        "2024-03-04,10.00,USD,,Acme,ACME-000042",
        "2024-03-04,10.00,EUR,,Acme BV,ACME-000042",
        "2024-03-04,10.00,EUR,,Acme,ACME-000043",
    ]
    refs = {parse_csv(f"{SETTLE_HEADER}\n{row}\n".encode()).entries[0].bank_reference for row in variants}
    assert len(refs) == len(variants)


# ---------------------------------------------------------------------------
# NUL bytes and rows the csv module cannot read (issue 10 item 7)
# ---------------------------------------------------------------------------


def test_nul_byte_is_that_rows_error_and_the_rest_parses():
    data = f"{SETTLE_HEADER}\n2024-03-04,1.00,EUR,R1,A,ok\n2024-03-04,2.00,EUR,R2,A,bad\x00text\n2024-03-04,3.00,EUR,R3,A,ok\n"
    parsed = parse_csv(data.encode())
    assert [e.bank_reference for e in parsed.entries] == ["R1", "R3"]
    assert parsed.errors == [StatementError("line 3", "contains a NUL byte (in column remittance)")]


def test_nul_bytes_in_two_columns_name_both():
    data = f"{SETTLE_HEADER}\n2024-03-04,2.00,EUR,R2,Ac\x00me,bad\x00text\n"
    parsed = parse_csv(data.encode())
    assert parsed.entries == []
    assert parsed.errors == [StatementError("line 2", "contains a NUL byte (in column counterparty, remittance)")]


def test_other_control_characters_become_spaces():
    parsed = parse_csv(f"{SETTLE_HEADER}\n2024-03-04,1.00,EUR,R1,Acme\x01GmbH,Inv\x0bACME-000001\n".encode())
    assert (parsed.entries[0].counterparty_name, parsed.entries[0].remittance_text) == ("Acme GmbH", "Inv ACME-000001")


def test_unclosed_quote_loses_only_the_rows_it_swallows():
    rows = [f"2024-03-04,1.00,EUR,R{n},A,B" for n in range(1, 4)]
    filler = [f"2024-03-05,1.00,EUR,F{n},A,{'y' * 100}" for n in range(2000)]
    data = "\n".join([SETTLE_HEADER, rows[0], '2024-03-04,1.00,EUR,R2,A,"never closed', *filler, rows[2]]) + "\n"
    parsed = parse_csv(data.encode())
    assert parsed.entries[0].bank_reference == "R1"
    assert parsed.entries[-1].bank_reference == "R3"
    assert parsed.errors[0].position == "line 3"
    assert parsed.errors[0].reason.startswith("could not read this row: field larger than field limit")


# ---------------------------------------------------------------------------
# Custom profiles: separate debit/credit columns, a fixed header offset
# ---------------------------------------------------------------------------

DEBIT_CREDIT = dataclasses.replace(
    SETTLE,
    key="test-dc",
    columns={
        "booking_date": ("Date",),
        "debit": ("Debit",),
        "credit": ("Credit",),
        "counterparty": ("Payee",),
        "remittance": ("Memo",),
    },
    required=("booking_date", "debit", "credit", "counterparty", "remittance"),
    delimiters=(";",),
    decimal_comma=True,
    date_formats=("DD/MM/YYYY", "YYYY-MM-DD"),
    fixed_currency="GBP",
    header_offset=2,
)


def test_debit_and_credit_columns_and_a_fixed_header_offset():
    data = (
        b"Account statement;;;;\n"
        b"Date;Debit;Credit;Payee;Memo\n"  # inside the offset: never taken for the header
        b"Date;Debit;Credit;Payee;Memo\n"
        b"04/03/2024;;12,50;Acme;ACME-000042\n"
        b"2024-03-05;3,00;;Bank;fee\n"
        b"05/03/2024;1,00;2,00;X;both\n"
        b"05/03/2024;;;X;neither\n"
    )
    parsed = parse_csv(data, DEBIT_CREDIT)
    assert [(e.position, e.booking_date, e.amount, e.credit, e.currency) for e in parsed.entries] == [
        ("line 4", date(2024, 3, 4), D("12.50"), True, "GBP"),
        ("line 5", date(2024, 3, 5), D("3.00"), False, "GBP"),
    ]
    assert parsed.errors == [
        StatementError("line 6", "both a debit (1,00) and a credit (2,00) amount"),
        StatementError("line 7", "missing amount"),
    ]


def test_bad_date_names_the_profiles_formats():
    data = b"x;;;;\nx;;;;\nDate;Debit;Credit;Payee;Memo\n2024/03/04;;1,00;A;B\n"
    assert parse_csv(data, DEBIT_CREDIT).errors == [
        StatementError("line 4", "booking date '2024/03/04' is not a valid DD/MM/YYYY or YYYY-MM-DD date")
    ]


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


def test_rows_stream_from_a_binary_file():
    rows = "".join(f"2024-03-04,1.00,EUR,R{n},A,B\n" for n in range(20_000))
    stream = io.BytesIO(f"{SETTLE_HEADER}\n{rows}".encode())
    items = iter_csv(stream)
    first = next(items)
    assert isinstance(first, StatementEntry) and first.bank_reference == "R0"
    assert stream.tell() < len(stream.getvalue()) // 10  # only the top was read
    assert sum(1 for _ in items) == 19_999


def test_without_a_profile_a_header_that_fits_two_profiles_is_not_guessed(monkeypatch):
    copy = dataclasses.replace(CSV_PROFILES["knab"], key="knab-copy", label="Knab copy")
    monkeypatch.setitem(CSV_PROFILES, "knab-copy", copy)
    parsed = parse_statement(sample("knab.csv"))
    assert parsed.entries == []
    assert parsed.errors == [
        StatementError(
            "file",
            "the header fits several profiles; this looks like Knab ('knab') or Knab copy ('knab-copy'): "
            "choose one of these profiles",
        )
    ]


def test_control_characters_in_a_bank_reference_become_spaces_too():
    parsed = parse_csv(f"{SETTLE_HEADER}\n2024-03-04,1.00,EUR,\x02NB\x01240304\x1f,Acme,ok\n".encode())
    assert [e.bank_reference for e in parsed.entries] == ["NB 240304"]


# Edges found by mutation testing (issue 18): each case changes one thing.


@pytest.mark.parametrize(("amount", "direction"), [("0.50", "C"), ("-0.50", "D"), ("12.00", "C"), ("-12.00", "D")])
def test_a_derived_csv_reference_is_the_digest_of_the_documented_facts(amount, direction):
    from intake.parsing.common import derived_reference

    (entry,) = parse_csv(f"{SETTLE_HEADER}\n2024-03-04,{amount},EUR,,Acme,ACME-000042\n".encode()).entries
    facts = ("", "2024-03-04", direction, abs(D(amount)), "EUR", "Acme", "ACME-000042")
    assert entry.bank_reference == derived_reference(*facts, occurrence=1)


def dc_rows(*rows: str) -> bytes:
    return ("x;;;;\nx;;;;\nDate;Debit;Credit;Payee;Memo\n" + "".join(f"{row}\n" for row in rows)).encode()


def test_decimal_comma_amounts_with_a_plus_zero_or_a_point():
    parsed = parse_csv(
        dc_rows("04/03/2024;;+12,50;A;plus", "04/03/2024;;0,00;A;zero", "04/03/2024;;12.50;A;point"), DEBIT_CREDIT
    )
    assert [(e.position, e.amount, e.credit) for e in parsed.entries] == [("line 4", D("12.50"), True)]
    assert parsed.errors == [
        StatementError("line 5", "amount must not be zero"),
        StatementError("line 6", "amount '12.50' is not a number (expected a decimal comma, e.g. 1234,56)"),
    ]


@pytest.mark.parametrize(
    ("columns", "header", "row", "expected"),
    [
        # a bank's export of money in only: one credit column
        ({"credit": ("Credit",)}, "Date;Credit;Payee;Memo", "04/03/2024;7,00;A;B", (D("7.00"), True)),
        # money out only: one debit column
        ({"debit": ("Debit",)}, "Date;Debit;Payee;Memo", "04/03/2024;7,00;A;B", (D("7.00"), False)),
        # a signed amount column is read even when debit and credit columns are there too
        (
            {"amount": ("Amount",), "debit": ("Debit",), "credit": ("Credit",)},
            "Date;Amount;Debit;Credit;Payee;Memo",
            "04/03/2024;-7,00;;9,00;A;B",
            (D("7.00"), False),
        ),
    ],
    ids=["credit-only", "debit-only", "amount-wins"],
)
def test_which_amount_columns_a_profile_reads(columns, header, row, expected):
    profile = dataclasses.replace(
        DEBIT_CREDIT,
        key="test-columns",
        columns={"booking_date": ("Date",), **columns, "counterparty": ("Payee",), "remittance": ("Memo",)},
        required=("booking_date", *columns, "counterparty", "remittance"),
        header_offset=None,
    )
    parsed = parse_csv(f"{header}\n{row}\n".encode(), profile)
    assert parsed.errors == []
    assert [(e.amount, e.credit) for e in parsed.entries] == [expected]


def test_too_many_fields_names_an_unusual_delimiter_as_it_is():
    piped = dataclasses.replace(SETTLE, key="test-pipe", delimiters=("|",))
    data = SETTLE_HEADER.replace(",", "|") + "\n2024-03-04|1.00|EUR|R1|Acme|pay|extra\n"
    assert parse_csv(data.encode(), piped).errors == [
        StatementError("line 2", "row has 7 fields but the header has 6 (quote values that contain '|')")
    ]
