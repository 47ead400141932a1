"""MT940 statements (intake.parsing.mt940_statements): pure Python, no Django, no database.

The sample files in samples/mt940/ are built after public sample statements (see
samples/mt940/README.md for the sources) with invented names, accounts and amounts.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from intake.parsing.mt940_details import Details, parse_details
from intake.parsing.mt940_statements import iter_mt940
from intake.statements import ParsedStatement, StatementError, detect_format, parse_statement

SAMPLES = Path(__file__).resolve().parent / "samples" / "mt940"
D = Decimal
date = datetime.date


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def parse(data: bytes) -> ParsedStatement:
    return parse_statement(data, format="mt940")


def statement(*lines: str, currency: str = "EUR") -> bytes:
    head = [":20:REF1", ":25:NL20INGB0001234567", ":28C:1/1", f":60F:C240301{currency}100,00"]
    return "\n".join([*head, *lines, f":62F:C240301{currency}100,00", "-"]).encode()


# ---------------------------------------------------------------------------
# Public-layout samples
# ---------------------------------------------------------------------------


def test_sparkasse_sample_german_subfields_and_derived_references():
    parsed = parse(sample("sparkasse.sta"))
    assert parsed.format == "mt940"
    assert parsed.errors == []
    got = [
        (e.position, e.booking_date, e.amount, e.credit, e.reversal, e.counterparty_name, e.remittance_text)
        for e in parsed.entries
    ]
    assert got == [
        (
            "entry 1",
            date(2024, 3, 4),
            D("1250.00"),
            True,
            False,
            "Acme Handels GmbH",
            "Rechnung ACME-000042 vom 01.03.2024",
        ),
        ("entry 2", date(2024, 3, 5), D("45.00"), False, False, "Sparkasse Musterstadt", "Kontoführung 02/2024"),
        ("entry 3", date(2024, 3, 5), D("89.99"), True, False, "Müller & Söhne KG", "BOLT-000007 und BOLT-000008"),
        ("entry 4", date(2024, 3, 5), D("89.99"), True, False, "Müller & Söhne KG", "BOLT-000007 und BOLT-000008"),
        # RC: the reversal of a credit, money going out again
        ("entry 5", date(2024, 3, 6), D("1250.00"), False, True, "Acme Handels GmbH", "Rückgabe ACME-000042"),
    ]
    assert {e.account for e in parsed.entries} == {"10020030/0123456789"}
    assert {e.currency for e in parsed.entries} == {"EUR"}
    assert {e.reference_kind for e in parsed.entries} == {"derived"}
    references = [e.bank_reference for e in parsed.entries]
    # two identical payments on one day stay two entries
    assert len(set(references)) == 5
    assert all(ref.startswith("D:") for ref in references)


def test_abnamro_sample_two_statements_after_the_bank_header_lines():
    parsed = parse_statement(sample("abnamro.sta"))  # detected: ":20:" and ":25:" lines below "ABNANL2A/940"
    assert parsed.format == "mt940"
    assert parsed.errors == []
    got = [
        (e.position, e.booking_date, e.amount, e.credit, e.counterparty_name, e.customer_reference, e.remittance_text)
        for e in parsed.entries
    ]
    assert got == [
        ("entry 1", date(2024, 3, 4), D("310.50"), True, "BOLT LOGISTIEK BV", "", "FACTUUR BOLT-000008 EN BOLT-000009"),
        (
            "entry 2",
            date(2024, 3, 4),
            D("7.50"),
            False,
            "",
            "",
            "BEA NR:XXX1234 04.03.24/12.54 KANTINE NOORD AMSTERDAM,PAS999",
        ),
        ("entry 3", date(2024, 3, 5), D("1250"), True, "ACME TRADING BV", "RF18539007547034", ""),
    ]
    assert {e.account for e in parsed.entries} == {"417164300"}


def test_ing_sample_bank_references_cntp_names_and_swift_envelope():
    parsed = parse_statement(sample("ing_nl.940"))
    assert parsed.format == "mt940"
    assert parsed.errors == []
    got = [
        (e.bank_reference, e.reference_kind, e.amount, e.credit, e.counterparty_name, e.remittance_text, e.account)
        for e in parsed.entries
    ]
    assert got == [
        ("00000000001005", "bank", D("1640.00"), True, "GOLF PARTNERS BV", "Invoice GOLF-000077", "NL20INGB0001234567"),
        ("00000000001006", "bank", D("99.65"), False, "ENERGIE NOORD", "Stroom februari", "NL20INGB0001234567"),
    ]


def test_same_file_twice_gives_the_same_references():
    first = [e.bank_reference for e in parse(sample("sparkasse.sta")).entries]
    second = [e.bank_reference for e in parse(sample("sparkasse.sta")).entries]
    assert first == second


def test_overlapping_statement_shares_derived_references_of_whole_days():
    shorter = statement(
        ":61:2403050305CR89,99NMSCNONREF",
        ":86:166?00GUTSCHRIFT?20SVWZ+BOLT-000007?32Bolt GmbH",
        ":61:2403050305CR89,99NMSCNONREF",
        ":86:166?00GUTSCHRIFT?20SVWZ+BOLT-000007?32Bolt GmbH",
    )
    longer = statement(
        ":61:2403040304CR10,00NMSCNONREF",
        ":86:166?00GUTSCHRIFT?20SVWZ+ECHO-000120?32Echo AG",
        ":61:2403050305CR89,99NMSCNONREF",
        ":86:166?00GUTSCHRIFT?20SVWZ+BOLT-000007?32Bolt GmbH",
        ":61:2403050305CR89,99NMSCNONREF",
        ":86:166?00GUTSCHRIFT?20SVWZ+BOLT-000007?32Bolt GmbH",
    )
    short_refs = {e.bank_reference for e in parse(shorter).entries}
    long_refs = {e.bank_reference for e in parse(longer).entries}
    assert len(short_refs) == 2
    assert short_refs < long_refs


# ---------------------------------------------------------------------------
# :61: details
# ---------------------------------------------------------------------------


def test_entry_date_is_the_booking_date_and_crosses_the_year_end():
    parsed = parse(statement(":61:2312310102C5,00NTRFNONREF//B1", ":86:x"))
    assert parsed.entries[0].booking_date == date(2024, 1, 2)


def test_value_date_when_there_is_no_entry_date():
    parsed = parse(statement(":61:240303C5,00NTRFNONREF//B1", ":86:x"))
    assert parsed.entries[0].booking_date == date(2024, 3, 3)


@pytest.mark.parametrize(
    "mark, credit, reversal", [("C", True, False), ("D", False, False), ("RC", False, True), ("RD", True, True)]
)
def test_marks(mark, credit, reversal):
    entry = parse(statement(f":61:2403030303{mark}5,00NTRFNONREF//B1")).entries[0]
    assert (entry.credit, entry.reversal, entry.amount) == (credit, reversal, D("5.00"))


def test_currency_comes_from_the_statement_balance():
    assert parse(statement(":61:2403030303C5,NTRFNONREF//B1", currency="CHF")).entries[0].currency == "CHF"


def test_customer_reference_alone_is_a_fact_of_the_derived_reference_not_the_identity():
    one = parse(statement(":61:2403030303C5,00NTRFINV-42", ":86:pay")).entries[0]
    other = parse(statement(":61:2403030303C5,00NTRFINV-43", ":86:pay")).entries[0]
    assert one.reference_kind == other.reference_kind == "derived"
    assert one.bank_reference != other.bank_reference
    assert "INV-42" not in one.bank_reference


def test_repeated_bank_reference_in_one_account_is_an_error():
    parsed = parse(statement(":61:2403030303C5,00NTRFNONREF//B1", ":61:2403030303C6,00NTRFNONREF//B1"))
    assert [e.position for e in parsed.entries] == ["entry 1"]
    assert parsed.errors == [
        StatementError("entry 2", "duplicate bank reference 'B1' (already on entry 1); entry skipped")
    ]


def test_a_bad_statement_line_is_that_entrys_error_and_the_rest_reads():
    parsed = parse(
        statement(
            ":61:2403030303C5,00NTRFNONREF//B1",
            ":61:2413030303C6,00NTRFNONREF//B2",  # month 13
            ":61:garbage",
            ":61:2403030303C0,00NTRFNONREF//B4",
            ":61:2403030303C7,00NTRFNONREF//B5",
        )
    )
    assert [e.bank_reference for e in parsed.entries] == ["B1", "B5"]
    assert [(e.position, e.reason) for e in parsed.errors] == [
        ("entry 2", "statement line is not valid MT940: month must be in 1..12"),
        ("entry 3", "statement line ':61:garbage' is not valid MT940"),
        ("entry 4", "amount must not be zero"),
    ]


def test_an_unreadable_statement_is_one_error_and_the_next_statement_reads():
    bad = b":20:REF0\n:25:ACC\n:28C:1/1\n:60F:nonsense\n:61:2403030303C5,00NTRFNONREF//B0\n:62F:C240301EUR1,00\n"
    parsed = parse(bad + statement(":61:2403030303C5,00NTRFNONREF//B1"))
    assert [e.position for e in parsed.entries] == ["entry 2"]
    assert len(parsed.errors) == 1
    assert parsed.errors[0].position == "statement 1"
    assert parsed.errors[0].reason.startswith("could not read statement 1 (1 entries): Unable to parse")


def test_not_mt940_is_a_file_error():
    assert parse(b"booking_date,amount\n") == ParsedStatement(
        [], [StatementError("file", "not an MT940 statement: no line starts with ':20:'")], "mt940"
    )


def test_iter_mt940_reads_a_binary_file():
    import io

    items = list(iter_mt940(io.BytesIO(statement(":61:2403030303C5,00NTRFNONREF//B1"))))
    assert [item.bank_reference for item in items] == ["B1"]  # type: ignore[union-attr]


# ---------------------------------------------------------------------------
# :86: details
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        # German subfields, wrapped in the middle of a subfield mark
        (
            "166?00GUTSCHRIFT?20EREF+E1?21SVWZ+Rechnung AC?2\n2ME-000042?32Acme?33 GmbH",
            Details("Acme GmbH", "Rechnung ACME-000042"),
        ),
        # German purpose without SEPA keywords: the whole purpose
        ("805?00ABSCHLUSS?20Kontof\nuehrung?60 Maerz", Details("", "Kontofuehrung Maerz")),
        # Rabobank: /ORDP//NAME/ and /REMI/USTD//
        (
            "/EREF/E1//ORDP//NAME/Foxtrot BV/REMI/USTD//FOX-000003/",
            Details("Foxtrot BV", "FOX-000003"),
        ),
        # ABN AMRO with a structured creditor reference
        ("/TRTP/SEPA/NAME/ACME/REMI/STRD/CUR/RF18539007547034/EREF/X", Details("ACME", "", "RF18539007547034")),
        # ING: the name is the third part of /CNTP/, the city may be empty
        ("/CNTP/NL91ABNA0417164300/ABNANL2A/Golf BV/Amsterdam/REMI/USTD//G-1/", Details("Golf BV", "G-1")),
        (
            "/EREF/E1//CNTP/NL32INGB0000012345/INGBNL2\nA/J.Janssen///REMI/STRD/CUR/9001123412341234/",
            Details("J.Janssen", "", "9001123412341234"),
        ),
        # free text keeps its words apart across lines
        ("Payment invoice\nACME-000042   thanks", Details("", "Payment invoice ACME-000042 thanks")),
        ("", Details()),
    ],
)
def test_parse_details(text, expected):
    assert parse_details(text) == expected


# ---------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, filename",
    [
        (b":20:REF\n:25:X\n", None),
        (b"\xef\xbb\xbf\r\n:20:REF\n", None),
        (b"{1:F01INGBNL2ABXXX0000000000}\n", None),
        (b":940:\n:20:940S130101\n:25:NL71RABO0123456789\n", None),
        (b"anything", "export.STA"),
        (b"anything", "export.940"),
        (b"anything", "day.mt940"),
    ],
)
def test_detect_mt940(head, filename):
    assert detect_format(head, filename=filename) == "mt940"


@pytest.mark.parametrize("given", ["mt940", "MT-940", "sta", "SWIFT"])
def test_explicit_mt940_format(given):
    assert detect_format(b"x", format=given) == "mt940"


def test_csv_mentioning_tags_is_still_csv():
    assert detect_format(b"booking_date,remittance\n2024-03-04,see :20: below\n") == "csv"


# ---------------------------------------------------------------------------
# Edges found by mutation testing (issue 18): each case changes one thing.
# ---------------------------------------------------------------------------


def derived(*facts: object, occurrence: int = 1) -> str:
    from intake.parsing.common import derived_reference

    return derived_reference(*facts, occurrence=occurrence)


@pytest.mark.parametrize(("mark", "direction"), [("C", "C"), ("D", "D"), ("RD", "C"), ("RC", "D")])
def test_a_derived_reference_is_the_digest_of_the_documented_facts(mark, direction):
    # account, booking date, direction, amount, currency, counterparty, text, customer reference
    entry = parse(statement(f":61:2403030303{mark}5,00NTRFINV-42", ":86:/NAME/Acme/REMI/pay")).entries[0]
    assert entry.bank_reference == derived(
        "NL20INGB0001234567", "2024-03-03", direction, D("5.00"), "EUR", "Acme", "pay", "INV-42"
    )


@pytest.mark.parametrize("given", ["NONREF", "nonref", "NotProvided", ""])
def test_no_customer_reference_in_any_spelling_is_no_fact(given):
    entry = parse(statement(f":61:2403030303C5,00NTRF{given}", ":86:pay")).entries[0]
    assert entry.bank_reference == derived("NL20INGB0001234567", "2024-03-03", "C", D("5.00"), "EUR", "", "pay", "")


@pytest.mark.parametrize("given", ["NONREF", "nonref", "NOTPROVIDED"])
def test_a_bank_reference_of_none_provided_in_any_spelling_is_derived(given):
    entry = parse(statement(f":61:2403030303C5,00NTRFINV-1//{given}", ":86:x")).entries[0]
    assert entry.reference_kind == "derived"
    assert entry.bank_reference == derived("NL20INGB0001234567", "2024-03-03", "C", D("5.00"), "EUR", "", "x", "INV-1")


def test_an_entry_without_details_has_no_text_and_every_entry_is_booked():
    (entry,) = parse(statement(":61:2403030303C5,00NTRF//B1")).entries
    assert (entry.remittance_text, entry.counterparty_name, entry.status) == ("", "", "booked")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_ends_read_as_plain_ones(newline):
    plain = statement(":61:2403030303C5,00NTRF//B1", ":86:/NAME/Acme/REMI/pay")
    assert parse(plain.replace(b"\n", newline.encode())) == parse(plain)


def test_a_windows_1252_file_and_one_no_code_page_defines_are_still_read():
    euro = statement(":61:2403030303C5,00NTRF//B1", ":86:5 \x80 fee").replace(b"\xc2\x80", b"\x80")
    assert parse(euro).entries[0].remittance_text == "5 € fee"
    # 0x81 is undefined in Windows-1252: the file is read as ISO-8859-1 rather than refused.
    odd = statement(":61:2403030303C5,00NTRF//B1", ":86:x\x81y").replace(b"\xc2\x81", b"\x81")
    assert parse(odd).entries[0].remittance_text == "x\x81y"


def test_entries_are_numbered_across_an_unreadable_statement_in_the_middle():
    good = statement(":61:2403030303C5,00NTRF//B1", ":61:2403030303C6,00NTRF//B2")
    bad = b":20:REF0\n:25:ACC\n:28C:1/1\n:60F:nonsense\n:61:2403030303C5,00NTRF//B0\n:62F:C240301EUR1,00\n"
    last = statement(":61:2403030303C7,00NTRF//B3").replace(b":25:NL20INGB0001234567", b":25:OTHER")
    parsed = parse(good + b"\n" + bad + last)
    assert [(e.position, e.bank_reference) for e in parsed.entries] == [
        ("entry 1", "B1"),
        ("entry 2", "B2"),
        ("entry 4", "B3"),
    ]
    assert [e.position for e in parsed.errors] == ["statement 2"]


@pytest.mark.parametrize(
    ("account", "kept"),
    [
        ("NL20 INGB 0001 2345 67", "NL20INGB0001234567"),  # spaces go
        ("NL20INGB0001234567EUR", "NL20INGB0001234567"),  # the currency ING appends goes
        ("EUR", "EUR"),  # an account that is only the currency code is kept
        ("", ""),  # no :25: at all
    ],
)
def test_the_account_as_the_statement_names_it(account, kept):
    data = statement(":61:2403030303C5,00NTRF//B1").replace(b":25:NL20INGB0001234567", f":25:{account}".encode())
    if not account:
        data = data.replace(b":25:\n", b"")
    assert [e.account for e in parse(data).entries] == [kept]


def test_an_empty_statement_line_is_that_entrys_error():
    parsed = parse(statement(":61:", ":61:2403030303C5,00NTRF//B1"))
    assert parsed.errors == [StatementError("entry 1", "statement line ':61:' is not valid MT940")]
    assert [e.bank_reference for e in parsed.entries] == ["B1"]


def test_without_an_opening_balance_every_problem_of_the_entry_is_said():
    data = b":20:REF1\n:25:ACC\n:28C:1/1\n:61:2403030303C5,00NTRF//B1\n:61:2403030303C,50NTRF//B2\n-"
    assert parse(data).errors == [
        StatementError("entry 1", "statement has no currency (no :60F: balance)"),
        StatementError(
            "entry 2",
            "amount ',50' is not an MT940 amount (digits with a decimal comma); "
            "statement has no currency (no :60F: balance)",
        ),
    ]


def test_details_longer_than_the_swift_limit_are_kept_whole():
    # SWIFT caps :86: at 6 lines of 65; banks send more, and the library would cut after 9 such
    # chunks without its unbounded_details option.
    lines = [f"/REMI/{'A' * 59}", *("B" * 65 for _ in range(11))]
    entry = parse(statement(":61:2403030303C5,00NTRF//B1", ":86:" + "\n".join(lines))).entries[0]
    assert entry.remittance_text == "A" * 59 + "B" * 65 * 11  # lines wrapped at 65 characters join as one text


def test_the_statement_lines_customer_reference_survives_german_structured_details():
    # The :61: customer reference is one of the derived reference's facts, also when the :86:
    # details are German sub-fields without a KREF of their own.
    entry = parse(statement(":61:2403030303C5,00NTRFINV-42", ":86:166?00GUTSCHRIFT?20Rechnung 7?32Acme GmbH")).entries[
        0
    ]
    assert entry.bank_reference == derived(
        "NL20INGB0001234567", "2024-03-03", "C", D("5.00"), "EUR", "Acme GmbH", "Rechnung 7", "INV-42"
    )


@pytest.mark.parametrize(
    ("line", "booked"),
    [
        (":61:240230C5,00NTRF//B1", date(2024, 2, 29)),  # no entry date: the value date, as the month's last day
        (":61:230230C5,00NTRF//B1", date(2023, 2, 28)),
        (":61:2402300301C5,00NTRF//B1", date(2024, 3, 1)),  # the entry date is booked
    ],
)
def test_a_value_date_of_30_february_is_read_as_the_months_last_day(line, booked):
    # Some banks date interest and fees on a 30-day month (German statements: 30.02.); before,
    # the whole entry was refused as "day is out of range for month".
    parsed = parse(statement(line, ":86:Zinsen"))
    assert parsed.errors == []
    assert [e.booking_date for e in parsed.entries] == [booked]
