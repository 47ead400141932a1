"""Tests for intake.statements: pure Python, no Django, no database."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("intake") is None or importlib.util.find_spec("intake.statements") is None:
    sys.path.insert(0, str(PROJECT_ROOT))

from intake.parsing.common import derived_reference  # noqa: E402
from intake.statements import (  # noqa: E402
    INVOICE_NUMBER_RE,
    ParsedStatement,
    StatementEntry,
    StatementError,
    find_invoice_numbers,
    parse_camt053,
    parse_csv,
    parse_statement,
)

SAMPLES = Path(__file__).resolve().parent / "samples"
D = Decimal
date = datetime.date

CSV_HEADER = "booking_date,amount,currency,bank_reference,counterparty,remittance"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def entry(
    position,
    reference,
    booking_date,
    amount,
    currency,
    *,
    credit=True,
    reversal=False,
    counterparty="",
    customer_reference="",
    remittance="",
    account="",
    reference_kind="bank",
):
    return StatementEntry(
        position=position,
        bank_reference=reference,
        booking_date=booking_date,
        amount=amount,
        currency=currency,
        credit=credit,
        reversal=reversal,
        counterparty_name=counterparty,
        customer_reference=customer_reference,
        remittance_text=remittance,
        account=account,
        reference_kind=reference_kind,
    )


def csv_bytes(*rows: str, header: str = CSV_HEADER) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def one_row(row: str, header: str = CSV_HEADER) -> ParsedStatement:
    return parse_csv(csv_bytes(row, header=header))


def assert_exact_decimals(entries):
    for item in entries:
        assert type(item.amount) is Decimal
        assert item.amount > 0


# ---------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------


def test_dataclasses_are_frozen_with_documented_fields():
    assert [f.name for f in dataclasses.fields(StatementEntry)] == [
        "position",
        "bank_reference",
        "booking_date",
        "amount",
        "currency",
        "credit",
        "reversal",
        "counterparty_name",
        "customer_reference",
        "remittance_text",
        "status",
        "account",
        "reference_kind",
        "review",
    ]
    assert [f.name for f in dataclasses.fields(StatementError)] == ["position", "reason"]
    assert [f.name for f in dataclasses.fields(ParsedStatement)] == ["entries", "errors", "format"]
    error = StatementError("file", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.reason = "y"  # type: ignore[misc]


# ---------------------------------------------------------------------------
# CSV samples
# ---------------------------------------------------------------------------

CSV_SAMPLE_ENTRIES = [
    entry(
        "line 2",
        "NB240304-0001",
        date(2024, 3, 4),
        D("1250.00"),
        "EUR",
        counterparty="Acme Trading GmbH",
        remittance="Payment invoice ACME-000042",
    ),
    entry(
        "line 3",
        "NB240304-0002",
        date(2024, 3, 4),
        D("310.50"),
        "USD",
        counterparty="Bolt Logistics, Inc.",
        remittance="Invoices bolt-000007, BOLT-000008 and BOLT-000009",
    ),
    entry(
        "line 4",
        "NB240305-0003",
        date(2024, 3, 5),
        D("89.99"),
        "GBP",
        counterparty="Cobalt & Sons Ltd",
        customer_reference="RF18539007547034",
    ),
    entry(
        "line 6",
        "NB240305-0004",
        date(2024, 3, 5),
        D("45.00"),
        "EUR",
        credit=False,
        counterparty="Settle Bank",
        remittance="Account maintenance fee March 2024",
    ),
    entry(
        "line 8",
        "NB240306-0006",
        date(2024, 3, 6),
        D("1250.00"),
        "EUR",
        credit=False,
        reversal=True,
        counterparty="Acme Trading GmbH",
        remittance="RETURN Payment invoice ACME-000042 reason AC04",
    ),
    entry(
        "line 10",
        "NB240307-0007",
        date(2024, 3, 7),
        D("2000"),
        "EUR",
        counterparty="Echo Media SARL",
        remittance="Acompte facture ECHO-000120 suite ECHO-000121",
    ),
    entry(
        "line 12",
        "NB240307-0008",
        date(2024, 3, 7),
        D("15.5"),
        "USD",
        counterparty="Foxtrot LLC",
        remittance="INV-FOX-000003, thanks!",
    ),
]

CSV_SAMPLE_ERRORS = [
    StatementError(
        "line 7",
        "amount '12,5x' is not a number (use a dot as decimal separator and no thousands separators)",
    ),
    StatementError("line 9", "duplicate bank reference 'NB240304-0002' (already on line 3); row skipped"),
]


def test_csv_sample_entries_exact():
    parsed = parse_csv(sample("statement.csv"))
    assert parsed.format == "csv"
    assert parsed.entries == CSV_SAMPLE_ENTRIES
    assert_exact_decimals(parsed.entries)


def test_csv_sample_errors_exact():
    assert parse_csv(sample("statement.csv")).errors == CSV_SAMPLE_ERRORS


def test_csv_sample_amounts_are_exact_decimals():
    parsed = parse_csv(sample("statement.csv"))
    assert sum((e.amount for e in parsed.entries if e.credit), D("0")) == D("3665.99")
    assert sum((e.amount for e in parsed.entries if not e.credit), D("0")) == D("1295.00")


def test_csv_sample_invoice_numbers_from_remittance():
    by_ref = {e.bank_reference: e for e in parse_csv(sample("statement.csv")).entries}
    assert find_invoice_numbers(by_ref["NB240304-0001"].remittance_text) == ["ACME-000042"]
    assert find_invoice_numbers(by_ref["NB240304-0002"].remittance_text) == [
        "BOLT-000007",
        "BOLT-000008",
        "BOLT-000009",
    ]
    assert find_invoice_numbers(by_ref["NB240307-0007"].remittance_text) == [
        "ECHO-000120",
        "ECHO-000121",
    ]
    assert find_invoice_numbers(by_ref["NB240307-0008"].remittance_text) == ["FOX-000003"]
    assert find_invoice_numbers(by_ref["NB240305-0003"].remittance_text) == []


def test_overlap_sample_header_order_and_case_free_without_optional_columns():
    parsed = parse_csv(sample("overlap.csv"))
    assert parsed.errors == []
    assert parsed.entries == [
        entry("line 2", "NB240305-0003", date(2024, 3, 5), D("89.99"), "GBP", counterparty="Cobalt & Sons Ltd"),
        entry(
            "line 3",
            "NB240305-0004",
            date(2024, 3, 5),
            D("45.00"),
            "EUR",
            credit=False,
            counterparty="Settle Bank",
            remittance="Account maintenance fee March 2024",
        ),
        entry(
            "line 4",
            "NB240308-0009",
            date(2024, 3, 8),
            D("640.00"),
            "EUR",
            counterparty="Golf Partners AG",
            remittance="Rechnung GOLF-000077",
        ),
    ]


def test_overlap_shares_bank_references_with_statement():
    first = {e.bank_reference: e for e in parse_csv(sample("statement.csv")).entries}
    second = {e.bank_reference: e for e in parse_csv(sample("overlap.csv")).entries}
    assert sorted(first.keys() & second.keys()) == ["NB240305-0003", "NB240305-0004"]
    assert sorted(second.keys() - first.keys()) == ["NB240308-0009"]
    # same booking seen twice carries the same values (positions differ)
    for ref in ("NB240305-0003", "NB240305-0004"):
        a, b = first[ref], second[ref]
        assert (a.amount, a.currency, a.credit, a.booking_date) == (b.amount, b.currency, b.credit, b.booking_date)


def test_missing_column_sample():
    parsed = parse_csv(sample("missing_column.csv"))
    assert parsed.entries == []
    assert parsed.errors == [
        StatementError(
            "file",
            "missing required column(s): currency (the header row has: booking_date, amount, "
            "bank_reference, counterparty, remittance)",
        )
    ]


# ---------------------------------------------------------------------------
# CSV details
# ---------------------------------------------------------------------------


def test_csv_several_missing_columns_one_error():
    parsed = parse_csv(b"Date,Amount,Reference\n2024-03-04,10.00,X1\n")
    assert parsed.entries == []
    assert parsed.errors == [
        StatementError(
            "file",
            "missing required column(s): booking_date, currency, counterparty, remittance "
            "(the header row has: Date, Amount, Reference; delimiter ',', encoding UTF-8); the 'settle' profile "
            "(Settle CSV) expects booking_date, amount, currency, counterparty, remittance and optionally "
            "bank_reference, customer_ref, reversal, account",
        )
    ]


def test_csv_semicolon_file_gets_hint():
    parsed = parse_csv(b"booking_date;amount;currency;bank_reference;counterparty;remittance\n")
    assert parsed.entries == []
    assert len(parsed.errors) == 1
    assert parsed.errors[0].position == "file"
    assert parsed.errors[0].reason.endswith("(the file looks semicolon-separated; use commas)")


def test_csv_duplicate_header_column():
    parsed = parse_csv(("amount," + CSV_HEADER + "\n").encode())
    assert parsed.errors == [StatementError("file", "header has duplicate column(s): amount")]
    assert parsed.entries == []


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_csv_empty_file(data):
    parsed = parse_csv(data)
    assert parsed.entries == []
    assert parsed.errors == [StatementError("file", "file is empty; a header row is required")]


def test_csv_header_only_is_an_empty_statement():
    assert parse_csv((CSV_HEADER + "\n").encode()) == ParsedStatement([], [], "csv")


def test_csv_bom_crlf_whitespace_and_extra_columns():
    data = (
        "\ufeff Booking_Date , AMOUNT,Currency,bank_reference,counterparty,remittance,note\r\n"
        "\r\n"
        " 2024-03-04 , 12.30 , eur , R1 ,  Acme   GmbH ,  Inv ACME-000001 ,ignored\r\n"
    ).encode()
    parsed = parse_csv(data)
    assert parsed.errors == []
    assert parsed.entries == [
        entry(
            "line 3", "R1", date(2024, 3, 4), D("12.30"), "EUR", counterparty="Acme GmbH", remittance="Inv ACME-000001"
        ),
    ]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("yes", True),
        ("YES", True),
        ("true", True),
        ("1", True),
        ("True", True),
        ("no", False),
        ("false", False),
        ("0", False),
        ("", False),
        ("No", False),
    ],
)
def test_csv_reversal_values(value, expected):
    parsed = one_row(f"2024-03-04,-5.00,EUR,R1,A,B,{value}", header=CSV_HEADER + ",reversal")
    assert parsed.errors == []
    assert parsed.entries[0].reversal is expected
    assert parsed.entries[0].credit is False


def test_csv_bad_reversal():
    parsed = one_row("2024-03-04,5.00,EUR,R1,A,B,maybe", header=CSV_HEADER + ",reversal")
    assert parsed.entries == []
    assert parsed.errors == [StatementError("line 2", "reversal 'maybe' is not yes or no")]


@pytest.mark.parametrize(
    "amount, expected, credit",
    [
        ("10", D("10"), True),
        ("0.01", D("0.01"), True),
        ("-0.5", D("0.5"), False),
        ("10.500", D("10.50"), True),
        ("-99999999999.99", D("99999999999.99"), False),
        ("007.10", D("7.10"), True),
    ],
)
def test_csv_valid_amounts(amount, expected, credit):
    parsed = one_row(f"2024-03-04,{amount},EUR,R1,A,B")
    assert parsed.errors == []
    got = parsed.entries[0]
    assert type(got.amount) is Decimal
    assert got.amount == expected
    assert str(got.amount) == str(expected)
    assert got.credit is credit


def test_csv_trailing_zeros_normalised_to_two_decimals():
    parsed = one_row("2024-03-04,10.500,EUR,R1,A,B")
    assert str(parsed.entries[0].amount) == "10.50"


@pytest.mark.parametrize(
    "amount, reason",
    [
        ('"12,5x"', "amount '12,5x' is not a number (use a dot as decimal separator and no thousands separators)"),
        (
            '"1,234.00"',
            "amount '1,234.00' is not a number (use a dot as decimal separator and no thousands separators)",
        ),
        ("abc", "amount 'abc' is not a number"),
        ("+5.00", "amount '+5.00' is not a number"),
        (".50", "amount '.50' is not a number"),
        ("5.", "amount '5.' is not a number"),
        ("1e3", "amount '1e3' is not a number"),
        ("NaN", "amount 'NaN' is not a number"),
        ("--5", "amount '--5' is not a number"),
        ("1 000", "amount '1 000' is not a number"),
        ("\u0661\u0662", "amount '\u0661\u0662' is not a number"),
        ("10.005", "amount 10.005 has more decimals than allowed (at most 2)"),
        ("-0.001", "amount -0.001 has more decimals than allowed (at most 2)"),
        ("0", "amount must not be zero"),
        ("0.00", "amount must not be zero"),
        ("-0.00", "amount must not be zero"),
        ("", "missing amount"),
    ],
)
def test_csv_bad_amounts(amount, reason):
    parsed = one_row(f"2024-03-04,{amount},EUR,R1,A,B")
    assert parsed.entries == []
    assert parsed.errors == [StatementError("line 2", reason)]


@pytest.mark.parametrize(
    "currency, reason",
    [
        ("EURO", "currency 'EURO' is not a 3-letter ISO code"),
        ("EU", "currency 'EU' is not a 3-letter ISO code"),
        ("E1R", "currency 'E1R' is not a 3-letter ISO code"),
        ("€", "currency '€' is not a 3-letter ISO code"),
        ("ÉUR", "currency 'ÉUR' is not a 3-letter ISO code"),
        ("", "missing currency"),
    ],
)
def test_csv_bad_currency(currency, reason):
    parsed = one_row(f"2024-03-04,1.00,{currency},R1,A,B")
    assert parsed.entries == []
    assert parsed.errors == [StatementError("line 2", reason)]


def test_csv_currency_upper_cased():
    assert one_row("2024-03-04,1.00,gbp,R1,A,B").entries[0].currency == "GBP"


@pytest.mark.parametrize(
    "value, reason",
    [
        ("04/03/2024", "booking date '04/03/2024' is not a valid YYYY-MM-DD date"),
        ("2024-02-30", "booking date '2024-02-30' is not a valid YYYY-MM-DD date"),
        ("20240304", "booking date '20240304' is not a valid YYYY-MM-DD date"),
        ("2024-03-04T10:00", "booking date '2024-03-04T10:00' is not a valid YYYY-MM-DD date"),
        ("", "missing booking date"),
    ],
)
def test_csv_bad_dates(value, reason):
    parsed = one_row(f"{value},1.00,EUR,R1,A,B")
    assert parsed.entries == []
    assert parsed.errors == [StatementError("line 2", reason)]


def test_csv_leap_day_is_valid():
    assert one_row("2024-02-29,1.00,EUR,R1,A,B").entries[0].booking_date == date(2024, 2, 29)


def test_csv_missing_bank_reference_is_derived():
    # Issue 10 item 2: a row without the bank's reference is kept, with a derived one.
    parsed = one_row("2024-03-04,1.00,EUR,  ,A,B")
    assert parsed.errors == []
    assert parsed.entries[0].reference_kind == "derived"
    assert parsed.entries[0].bank_reference.startswith("D:")


def test_csv_several_problems_in_one_row_are_joined():
    parsed = one_row("2024-13-01,1.001,EURO,,A,B")
    assert parsed.errors == [
        StatementError(
            "line 2",
            "booking date '2024-13-01' is not a valid YYYY-MM-DD date; "
            "amount 1.001 has more decimals than allowed (at most 2); "
            "currency 'EURO' is not a 3-letter ISO code",
        )
    ]


def test_csv_wrong_field_counts():
    parsed = parse_csv(
        csv_bytes(
            "2024-03-04,1.00,EUR,R1,Bolt, Inc.,B",
            "2024-03-04,1.00,EUR,R2,A",
            "2024-03-04,2.00,EUR,R3,A,B",
        )
    )
    assert parsed.errors == [
        StatementError("line 2", "row has 7 fields but the header has 6 (quote values that contain commas)"),
        StatementError("line 3", "row has 5 fields but the header has 6"),
    ]
    assert [e.bank_reference for e in parsed.entries] == ["R3"]
    assert parsed.entries[0].position == "line 4"


def test_csv_positions_are_physical_lines_with_blank_and_multiline_rows():
    data = csv_bytes(
        "",
        '2024-03-04,1.00,EUR,R1,A,"multi',
        "line",
        'remittance"',
        "",
        "",
        "2024-03-04,bad,EUR,R2,A,B",
        "2024-03-04,3.00,EUR,R3,A,B",
    )
    parsed = parse_csv(data)
    assert [(e.position, e.bank_reference, e.remittance_text) for e in parsed.entries] == [
        ("line 3", "R1", "multi line remittance"),
        ("line 9", "R3", "B"),
    ]
    assert parsed.errors == [StatementError("line 8", "amount 'bad' is not a number")]


def test_csv_duplicate_only_counts_valid_rows():
    parsed = parse_csv(
        csv_bytes(
            "2024-03-04,oops,EUR,R1,A,B",
            "2024-03-04,1.00,EUR,R1,A,B",
            "2024-03-05,1.00,EUR,R1,A,B",
        )
    )
    assert [e.position for e in parsed.entries] == ["line 3"]
    assert parsed.errors == [
        StatementError("line 2", "amount 'oops' is not a number"),
        StatementError("line 4", "duplicate bank reference 'R1' (already on line 3); row skipped"),
    ]


def test_csv_not_utf8_refuses_only_that_row():
    # Rows are read as a stream: a line that is not UTF-8 is that row's error and the rest still reads.
    data = (
        csv_bytes("2024-03-04,1.00,EUR,R1,A,B")
        + "2024-03-04,1.00,EUR,R2,Müller,B\n".encode("latin-1")
        + b"2024-03-05,2.00,EUR,R3,A,B\n"
    )
    parsed = parse_csv(data)
    assert [e.bank_reference for e in parsed.entries] == ["R1", "R3"]
    assert parsed.errors == [
        StatementError("line 3", "line 3 is not valid UTF-8 (byte 0xfc); export the statement as UTF-8")
    ]


def test_csv_unicode_text_kept():
    parsed = one_row('2024-03-04,1.00,EUR,R1,Müller & Søn,"Zahlung für Rechnung MUELLER-000001 – danke"')
    assert parsed.entries[0].counterparty_name == "Müller & Søn"
    assert parsed.entries[0].remittance_text == "Zahlung für Rechnung MUELLER-000001 – danke"


def test_csv_unreadable_row_reports_error_and_the_rest_still_reads():
    # Issue 10 item 7: the csv module drops the line it fails on and goes on, so only that row is lost.
    huge = "x" * 200_000
    data = csv_bytes("2024-03-04,1.00,EUR,R1,A,B", f'2024-03-04,1.00,EUR,R2,A,"{huge}"', "2024-03-05,2.00,EUR,R3,A,B")
    parsed = parse_csv(data)
    assert [e.bank_reference for e in parsed.entries] == ["R1", "R3"]
    assert len(parsed.errors) == 1
    assert parsed.errors[0].position == "line 3"
    assert parsed.errors[0].reason.startswith("could not read this row: field larger than field limit")


# ---------------------------------------------------------------------------
# camt.053 samples
# ---------------------------------------------------------------------------

EUR_ACCOUNT = "NL91ABNA0417164300"
FOX_DERIVED = derived_reference(
    "EndToEndId",
    "E2E-FOX-20240307",
    "NL91ABNA0417164301",
    date(2024, 3, 7),
    True,
    False,
    D("15.50"),
    "USD",
    "booked",
    occurrence=1,
)

CAMT_SAMPLE_ENTRIES = [
    entry(
        "entry 1",
        "2024030400012345",
        date(2024, 3, 4),
        D("1250.00"),
        "EUR",
        counterparty="Acme Trading GmbH",
        remittance="Payment invoice ACME-000042",
        account=EUR_ACCOUNT,
    ),
    entry(
        "entry 2",
        "2024030500022346",
        date(2024, 3, 5),
        D("120.00"),
        "EUR",
        credit=False,
        counterparty="Delta Foods BV",
        remittance="Refund overpayment DELTA-000311",
        account=EUR_ACCOUNT,
    ),
    entry(
        "entry 3",
        "2024030600032347",
        date(2024, 3, 6),
        D("1250.00"),
        "EUR",
        credit=False,
        reversal=True,
        counterparty="Acme Trading GmbH",
        remittance="RETURN Payment invoice ACME-000042 reason AC04",
        account=EUR_ACCOUNT,
    ),
    entry(
        "entry 6",
        "NTRY-20240306-77",
        date(2024, 3, 6),
        D("75.25"),
        "EUR",
        counterparty="Echo Media SARL",
        remittance="Facture ECHO-000120",
        account=EUR_ACCOUNT,
    ),
    entry(
        "entry 7",
        "2024030400052349",
        date(2024, 3, 4),
        D("310.50"),
        "USD",
        counterparty="Bolt Logistics, Inc.",
        remittance="Invoices bolt-000007, BOLT-000008 and BOLT-000009",
        account="NL91ABNA0417164301",
    ),
    entry(
        "entry 8",
        # the payer's EndToEndId is no bank reference: only part of a derived identity
        FOX_DERIVED,
        date(2024, 3, 7),
        D("15.50"),
        "USD",
        counterparty="Foxtrot LLC",
        remittance="INV-FOX-000003, thanks!",
        account="NL91ABNA0417164301",
        reference_kind="derived",
    ),
    entry(
        "entry 9",
        "2024030500062350",
        date(2024, 3, 5),
        D("89.99"),
        "GBP",
        counterparty="Cobalt & Sons Ltd",
        customer_reference="RF18539007547034",
        account="NL91ABNA0417164302",
    ),
]

CAMT_SAMPLE_ERRORS = [
    StatementError(
        "entry 4",
        "amount '1.250,00' is not a number (use a dot as decimal separator and no thousands separators)",
    ),
    StatementError("entry 5", "duplicate bank reference '2024030400012345' (already in entry 1); entry skipped"),
]


def test_camt_sample_entries_exact():
    parsed = parse_camt053(sample("statement_camt053.xml"))
    assert parsed.format == "camt053"
    assert parsed.entries == CAMT_SAMPLE_ENTRIES
    assert_exact_decimals(parsed.entries)


def test_camt_sample_errors_exact():
    assert parse_camt053(sample("statement_camt053.xml")).errors == CAMT_SAMPLE_ERRORS


def test_camt_sample_invoice_numbers():
    by_ref = {e.bank_reference: e for e in parse_camt053(sample("statement_camt053.xml")).entries}
    assert find_invoice_numbers(by_ref["2024030400012345"].remittance_text) == ["ACME-000042"]
    assert find_invoice_numbers(by_ref["2024030400052349"].remittance_text) == [
        "BOLT-000007",
        "BOLT-000008",
        "BOLT-000009",
    ]
    assert by_ref["2024030500062350"].customer_reference == "RF18539007547034"


def test_malformed_xml_sample():
    parsed = parse_camt053(sample("malformed.xml"))
    assert parsed == ParsedStatement(
        entries=[],
        errors=[StatementError("file", "malformed XML at line 8, column 9: mismatched tag")],
        format="camt053",
    )


# ---------------------------------------------------------------------------
# camt.053 details
# ---------------------------------------------------------------------------

NS08 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def camt(*ntries: str, ns: str | None = NS08, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>\n') -> bytes:
    xmlns = f' xmlns="{ns}"' if ns else ""
    body = "".join(f"<Ntry>{n}</Ntry>" for n in ntries)
    return (
        f"{prolog}<Document{xmlns}><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>"
        f"<Stmt><Id>S1</Id>{body}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def ntry(
    amount='<Amt Ccy="EUR">10.00</Amt>',
    ind="<CdtDbtInd>CRDT</CdtDbtInd>",
    rvsl="",
    date_="<BookgDt><Dt>2024-03-04</Dt></BookgDt>",
    ref="<AcctSvcrRef>REF1</AcctSvcrRef>",
    details="",
    ntry_ref="",
):
    return f"{ntry_ref}{amount}{ind}{rvsl}<Sts><Cd>BOOK</Cd></Sts>{date_}{ref}{details}"


def only_error(data: bytes) -> StatementError:
    parsed = parse_camt053(data)
    assert parsed.entries == []
    assert len(parsed.errors) == 1
    return parsed.errors[0]


def test_camt_minimal_entry():
    parsed = parse_camt053(camt(ntry()))
    assert parsed == ParsedStatement(
        entries=[entry("entry 1", "REF1", date(2024, 3, 4), D("10.00"), "EUR")],
        errors=[],
        format="camt053",
    )


@pytest.mark.parametrize("version", ["02", "04", "08", "10", "12", "13"])
def test_camt_all_namespace_versions(version):
    parsed = parse_camt053(camt(ntry(), ns=f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"))
    assert parsed.errors == []
    assert [e.bank_reference for e in parsed.entries] == ["REF1"]


def test_camt_without_namespace():
    parsed = parse_camt053(camt(ntry(), ns=None))
    assert parsed.errors == []
    assert parsed.entries[0].amount == D("10.00")


def test_camt_prefixed_namespace():
    data = (
        f'<c:Document xmlns:c="{NS08}"><c:BkToCstmrStmt><c:Stmt><c:Ntry>'
        '<c:Amt Ccy="USD">1.00</c:Amt><c:CdtDbtInd>DBIT</c:CdtDbtInd>'
        "<c:BookgDt><c:Dt>2024-03-04</c:Dt></c:BookgDt><c:AcctSvcrRef>P1</c:AcctSvcrRef>"
        "</c:Ntry></c:Stmt></c:BkToCstmrStmt></c:Document>"
    ).encode()
    assert parse_camt053(data).entries == [entry("entry 1", "P1", date(2024, 3, 4), D("1.00"), "USD", credit=False)]


def test_camt_elements_from_other_namespace_are_ignored():
    data = camt(ntry()).replace(b"<Amt ", b'<Amt xmlns="urn:other" ')
    assert only_error(data) == StatementError("entry 1", "missing amount (Amt)")


@pytest.mark.parametrize(
    "ns",
    [
        "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08",
        "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08",
        "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08x",
    ],
)
def test_camt_other_message_types_refused(ns):
    assert only_error(camt(ntry(), ns=ns)) == StatementError(
        "file", f"not a camt.053 statement: document namespace is '{ns}'"
    )


def test_camt_wrong_root():
    assert only_error(b"<Statement><Ntry/></Statement>") == StatementError(
        "file", "root element is 'Statement', expected camt.053 'Document'"
    )


def test_camt_no_statement_element():
    assert only_error(f'<Document xmlns="{NS08}"/>'.encode()) == StatementError(
        "file", "not a camt.053 statement: no BkToCstmrStmt element"
    )


def test_camt_statement_without_entries():
    assert parse_camt053(camt()) == ParsedStatement([], [], "camt053")


@pytest.mark.parametrize("data", [b"", b"  \n"])
def test_camt_empty(data):
    assert only_error(data) == StatementError("file", "file is empty")


def test_camt_bom_and_whitespace_accepted():
    parsed = parse_camt053(b"\xef\xbb\xbf\n  " + camt(ntry(), prolog=""))
    assert parsed.errors == []
    assert len(parsed.entries) == 1


def test_camt_utf16_document():
    text = camt(ntry(), prolog='<?xml version="1.0" encoding="UTF-16"?>').decode()
    parsed = parse_camt053(text.encode("utf-16"))
    assert parsed.errors == []
    assert parsed.entries[0].bank_reference == "REF1"


DOCTYPE_REASON = (
    "XML documents with a DOCTYPE or entity declarations are refused for security reasons; "
    "camt.053 files do not need them"
)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Document>&b;</Document>',
        b'<!DOCTYPE Document SYSTEM "file:///etc/passwd"><Document/>',
        b'<!ENTITY x "y"><Document/>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Document><Document/>'.encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-16BE"?><!DOCTYPE Document><Document/>'.encode("utf-16-be"),
    ],
    ids=["billion-laughs", "external", "entity-only", "utf16", "utf16be"],
)
def test_camt_doctype_and_entities_refused(data):
    assert only_error(data) == StatementError("file", DOCTYPE_REASON)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"<Document><BkToCstmrStmt></Document>", "malformed XML at line 1, column 28: mismatched tag"),
        (b"<Document>", "malformed XML at line 1, column 11: no element found"),
        (
            b"<Document>\n  <Amt Ccy=EUR>1</Amt>\n</Document>",
            "malformed XML at line 2, column 12: not well-formed (invalid token)",
        ),
        (b"<Document>&nbsp;</Document>", "malformed XML at line 1, column 11: undefined entity"),
        (b"<a/><b/>", "malformed XML at line 1, column 5: junk after document element"),
    ],
)
def test_camt_malformed(data, reason):
    assert only_error(data) == StatementError("file", reason)


@pytest.mark.parametrize(
    "amount, reason",
    [
        ("", "missing amount (Amt)"),
        (
            '<Amt Ccy="EUR">12,5x</Amt>',
            "amount '12,5x' is not a number (use a dot as decimal separator and no thousands separators)",
        ),
        ('<Amt Ccy="EUR"></Amt>', "missing amount"),
        ('<Amt Ccy="EUR">1e2</Amt>', "amount '1e2' is not a number"),
        ('<Amt Ccy="EUR">+1.00</Amt>', "amount '+1.00' is not a number"),
        ('<Amt Ccy="EUR">-1.00</Amt>', "amount '-1.00' must not be negative (CdtDbtInd gives the direction)"),
        ('<Amt Ccy="EUR">10.005</Amt>', "amount 10.005 has more decimals than allowed (at most 2)"),
        ('<Amt Ccy="EUR">0.00</Amt>', "amount must not be zero"),
        ("<Amt>1.00</Amt>", "missing currency (Amt/@Ccy)"),
        ('<Amt Ccy="">1.00</Amt>', "missing currency (Amt/@Ccy)"),
        ('<Amt Ccy="EURO">1.00</Amt>', "currency 'EURO' is not a 3-letter ISO code"),
    ],
)
def test_camt_bad_amount_or_currency(amount, reason):
    assert only_error(camt(ntry(amount=amount))) == StatementError("entry 1", reason)


def test_camt_amount_with_surrounding_whitespace_and_trailing_zeros():
    parsed = parse_camt053(camt(ntry(amount='<Amt Ccy=" usd ">\n  1250.10000\n</Amt>')))
    assert parsed.errors == []
    assert parsed.entries[0].amount == D("1250.10")
    assert str(parsed.entries[0].amount) == "1250.10"
    assert parsed.entries[0].currency == "USD"


@pytest.mark.parametrize(
    "ind, reason",
    [
        ("", "missing credit/debit indicator (CdtDbtInd)"),
        ("<CdtDbtInd>X</CdtDbtInd>", "unknown credit/debit indicator 'X'"),
        ("<CdtDbtInd>CREDIT</CdtDbtInd>", "unknown credit/debit indicator 'CREDIT'"),
    ],
)
def test_camt_bad_indicator(ind, reason):
    assert only_error(camt(ntry(ind=ind))) == StatementError("entry 1", reason)


@pytest.mark.parametrize(
    "rvsl, expected",
    [
        ("", False),
        ("<RvslInd>true</RvslInd>", True),
        ("<RvslInd>1</RvslInd>", True),
        ("<RvslInd>false</RvslInd>", False),
        ("<RvslInd>0</RvslInd>", False),
    ],
)
def test_camt_reversal_indicator(rvsl, expected):
    assert parse_camt053(camt(ntry(rvsl=rvsl))).entries[0].reversal is expected


def test_camt_bad_reversal_indicator():
    assert only_error(camt(ntry(rvsl="<RvslInd>yes</RvslInd>"))) == StatementError(
        "entry 1", "reversal indicator 'yes' is not true or false"
    )


@pytest.mark.parametrize(
    "date_, expected",
    [
        ("<BookgDt><Dt>2024-03-04</Dt></BookgDt>", date(2024, 3, 4)),
        ("<BookgDt><Dt>2024-03-04+01:00</Dt></BookgDt>", date(2024, 3, 4)),
        ("<BookgDt><DtTm>2024-03-05T10:15:00</DtTm></BookgDt>", date(2024, 3, 5)),
        ("<BookgDt><DtTm>2024-03-05T23:59:59.123+02:00</DtTm></BookgDt>", date(2024, 3, 5)),
        ("<BookgDt><DtTm>2024-03-05T00:30:00Z</DtTm></BookgDt>", date(2024, 3, 5)),
    ],
)
def test_camt_booking_dates(date_, expected):
    assert parse_camt053(camt(ntry(date_=date_))).entries[0].booking_date == expected


NO_DATE = "missing booking date (BookgDt, ValDt, nor the statement's FrToDt/ToDtTm or CreDtTm)"


@pytest.mark.parametrize(
    "date_, reason",
    [
        ("", NO_DATE),
        ("<BookgDt/>", NO_DATE),
        ("<BookgDt/><ValDt><Dt>2024-13-04</Dt></ValDt>", "value date '2024-13-04' is not a valid YYYY-MM-DD date"),
        ("<BookgDt><Dt>04.03.2024</Dt></BookgDt>", "booking date '04.03.2024' is not a valid YYYY-MM-DD date"),
        ("<BookgDt><Dt>2023-02-29</Dt></BookgDt>", "booking date '2023-02-29' is not a valid YYYY-MM-DD date"),
        ("<BookgDt><DtTm>yesterday</DtTm></BookgDt>", "booking date-time 'yesterday' is not a valid ISO date-time"),
    ],
)
def test_camt_bad_booking_dates(date_, reason):
    assert only_error(camt(ntry(date_=date_))) == StatementError("entry 1", reason)


def tx(refs="", parties="", rmt=""):
    return f"<NtryDtls><TxDtls>{refs}{parties}{rmt}</TxDtls></NtryDtls>"


def test_camt_reference_priority():
    e2e = "<Refs><EndToEndId>E2E</EndToEndId></Refs>"
    both = ntry(ntry_ref="<NtryRef>NREF</NtryRef>", ref="<AcctSvcrRef>ASR</AcctSvcrRef>", details=tx(e2e))
    no_asr = ntry(ntry_ref="<NtryRef>NREF2</NtryRef>", ref="", details=tx(e2e))
    only_e2e = ntry(ref="", details=tx("<Refs><EndToEndId>E2E3</EndToEndId></Refs>"))
    parsed = parse_camt053(camt(both, no_asr, only_e2e))
    assert parsed.errors == []
    # the payer's EndToEndId alone is no bank reference any more (see tests/intake/test_camt.py)
    assert [(e.bank_reference[:2], e.reference_kind) for e in parsed.entries] == [
        ("AS", "bank"),
        ("NR", "bank"),
        ("D:", "derived"),
    ]
    assert [e.bank_reference for e in parsed.entries[:2]] == ["ASR", "NREF2"]


@pytest.mark.parametrize(
    "details",
    ["", tx("<Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"), tx("<Refs><EndToEndId> </EndToEndId></Refs>")],
)
def test_camt_missing_reference_is_derived(details):
    # an entry without any reference used to be rejected; now it gets a derived identity
    parsed = parse_camt053(camt(ntry(ref="", details=details)))
    assert parsed.errors == []
    assert parsed.entries[0].reference_kind == "derived"
    assert parsed.entries[0].bank_reference.startswith("D:")


def test_camt_several_problems_joined():
    data = camt(ntry(amount="<Amt>abc</Amt>", ind="<CdtDbtInd>X</CdtDbtInd>", date_="", ref=""))
    assert only_error(data) == StatementError(
        "entry 1",
        f"amount 'abc' is not a number; missing currency (Amt/@Ccy); unknown credit/debit indicator 'X'; {NO_DATE}",
    )


def test_camt_entry_numbers_continue_across_statements():
    doc = (
        f'<Document xmlns="{NS08}"><BkToCstmrStmt>'
        f"<Stmt><Ntry>{ntry(ref='<AcctSvcrRef>A</AcctSvcrRef>')}</Ntry></Stmt>"
        f"<Stmt><Ntry>{ntry(amount='')}</Ntry><Ntry>{ntry(ref='<AcctSvcrRef>C</AcctSvcrRef>')}</Ntry></Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()
    parsed = parse_camt053(doc)
    assert [(e.position, e.bank_reference) for e in parsed.entries] == [("entry 1", "A"), ("entry 3", "C")]
    assert parsed.errors == [StatementError("entry 2", "missing amount (Amt)")]


def test_camt_old_style_party_names_and_unsplittable_batch():
    details = (
        "<NtryDtls>"
        "<TxDtls><RltdPties><Dbtr><Nm>Old Style Ltd</Nm></Dbtr></RltdPties>"
        "<RmtInf><Ustrd> first\n  line </Ustrd><Ustrd></Ustrd><Ustrd>ACME-000001</Ustrd>"
        "<Strd><CdtrRefInf><Ref>RF471234</Ref></CdtrRefInf></Strd>"
        "<Strd><CdtrRefInf><Ref>RF999</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>"
        "<TxDtls><RltdPties><Dbtr><Nm>Second Tx</Nm></Dbtr></RltdPties>"
        "<RmtInf><Ustrd>ACME-000002</Ustrd></RmtInf></TxDtls>"
        "</NtryDtls>"
    )
    parsed = parse_camt053(camt(ntry(details=details), ns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"))
    # two TxDtls without amounts cannot be split: one entry naming both, sent to review
    assert parsed.errors == []
    got = parsed.entries[0]
    assert got.review == (
        "batched entry does not add up: transaction 1 of 2 (TxDtls) has no usable amount "
        "(missing amount (AmtDtls/TxAmt/Amt))"
    )
    assert got.counterparty_name == "Old Style Ltd; Second Tx"
    assert got.remittance_text == "first line ACME-000001 ACME-000002"
    assert got.customer_reference == ""  # only the first transaction names one


@pytest.mark.parametrize(
    "ind, rvsl, expected",
    [
        ("CRDT", "", "Payer"),  # money in: the debtor paid us
        ("DBIT", "", "Payee"),  # money out: we paid the creditor
        ("DBIT", "<RvslInd>true</RvslInd>", "Payer"),  # reversal of an incoming payment
        ("CRDT", "<RvslInd>true</RvslInd>", "Payee"),  # reversal of an outgoing payment
    ],
)
def test_camt_counterparty_follows_direction(ind, rvsl, expected):
    parties = "<RltdPties><Dbtr><Pty><Nm>Payer</Nm></Pty></Dbtr><Cdtr><Pty><Nm>Payee</Nm></Pty></Cdtr></RltdPties>"
    parsed = parse_camt053(camt(ntry(ind=f"<CdtDbtInd>{ind}</CdtDbtInd>", rvsl=rvsl, details=tx(parties=parties))))
    assert parsed.entries[0].counterparty_name == expected


@pytest.mark.parametrize(
    "ind, parties, expected",
    [
        ("CRDT", "<RltdPties><Cdtr><Pty><Nm>Only Creditor</Nm></Pty></Cdtr></RltdPties>", "Only Creditor"),
        ("DBIT", "<RltdPties><Dbtr><Pty><Nm>Only Debtor</Nm></Pty></Dbtr></RltdPties>", "Only Debtor"),
        ("CRDT", "", ""),
    ],
)
def test_camt_counterparty_fallback(ind, parties, expected):
    parsed = parse_camt053(camt(ntry(ind=f"<CdtDbtInd>{ind}</CdtDbtInd>", details=tx(parties=parties))))
    assert parsed.entries[0].counterparty_name == expected


def test_camt_entry_without_details_has_empty_texts():
    got = parse_camt053(camt(ntry())).entries[0]
    assert (got.counterparty_name, got.customer_reference, got.remittance_text) == ("", "", "")


def test_camt_escaped_characters():
    parties = "<RltdPties><Dbtr><Pty><Nm>Smith &amp; Co &lt;UK&gt;</Nm></Pty></Dbtr></RltdPties>"
    got = parse_camt053(camt(ntry(details=tx(parties=parties)))).entries[0]
    assert got.counterparty_name == "Smith & Co <UK>"


# ---------------------------------------------------------------------------
# parse_statement: format detection
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("statement.csv", "csv"),
        ("overlap.csv", "csv"),
        ("missing_column.csv", "csv"),
        ("statement_camt053.xml", "camt053"),
        ("malformed.xml", "camt053"),
    ],
)
def test_detect_samples_without_filename(name, fmt):
    assert parse_statement(sample(name)).format == fmt


def test_detect_matches_direct_parsers():
    assert parse_statement(sample("statement.csv")) == parse_csv(sample("statement.csv"))
    assert parse_statement(sample("statement_camt053.xml")) == parse_camt053(sample("statement_camt053.xml"))


@pytest.mark.parametrize(
    "prefix",
    [b"", b"\xef\xbb\xbf", b"\n\n   \t", b"\xef\xbb\xbf  \r\n"],
)
def test_detect_xml_after_bom_and_whitespace(prefix):
    parsed = parse_statement(prefix + camt(ntry(), prolog=""))
    assert parsed.format == "camt053"
    assert parsed.errors == []


def test_detect_utf16_xml():
    text = camt(ntry(), prolog='<?xml version="1.0" encoding="UTF-16"?>').decode()
    assert parse_statement(text.encode("utf-16")).format == "camt053"


def test_detect_content_wins_over_csv_filename():
    assert parse_statement(camt(ntry()), filename="export.CSV").format == "camt053"


def test_detect_xml_filename_for_non_xml_content():
    parsed = parse_statement(b"garbage", filename="statement.XML")
    assert parsed.format == "camt053"
    assert parsed.errors == [StatementError("file", "malformed XML at line 1, column 1: syntax error")]


def test_detect_defaults_to_csv():
    parsed = parse_statement(b"", filename=None)
    assert parsed.format == "csv"
    assert parsed.errors == [StatementError("file", "file is empty; a header row is required")]


@pytest.mark.parametrize(
    "given, expected",
    [
        ("csv", "csv"),
        ("CSV", "csv"),
        ("camt053", "camt053"),
        ("camt.053", "camt053"),
        ("CAMT_053", "camt053"),
        ("xml", "camt053"),
    ],
)
def test_explicit_format(given, expected):
    assert parse_statement(b"booking_date\n", format=given).format == expected


def test_explicit_format_overrides_content():
    parsed = parse_statement(sample("statement_camt053.xml"), format="csv")
    assert parsed.format == "csv"
    assert parsed.entries == []
    assert parsed.errors[0].position == "file"


def test_unknown_format_raises():
    with pytest.raises(ValueError, match="unknown statement format 'ofx'"):
        parse_statement(b"x", format="ofx")


def test_str_data_raises():
    with pytest.raises(TypeError, match="must be bytes or a binary file, not str"):
        parse_statement("booking_date")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_accepted():
    data = sample("statement.csv")
    assert parse_statement(bytearray(data)) == parse_csv(data)
    assert parse_statement(memoryview(data)) == parse_csv(data)


# ---------------------------------------------------------------------------
# Invoice numbers
# ---------------------------------------------------------------------------


def test_find_invoice_numbers_brief_example():
    text = "Payment for invoices acme-000042, ACME-000043 and BOLT-000007 thanks"
    assert find_invoice_numbers(text) == ["ACME-000042", "ACME-000043", "BOLT-000007"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("INV-ACME-000123", ["ACME-000123"]),
        ("Ref: INV-ACME-000123/2024", ["ACME-000123"]),
        ("ACME-000042 acme-000042 Acme-000042", ["ACME-000042"]),
        ("BOLT-000007 then ACME-000001 then bolt-000007", ["BOLT-000007", "ACME-000001"]),
        ("(ACME-000042)", ["ACME-000042"]),
        ("ACME-000042.", ["ACME-000042"]),
        ("ACME-000042;BOLT-000001", ["ACME-000042", "BOLT-000001"]),
        ("line1\nAB-123456\tX2-000001", ["AB-123456", "X2-000001"]),
        ("ABCDEFGHIJ-000001", ["ABCDEFGHIJ-000001"]),  # 10-character provider code
        ("A1B2-654321", ["A1B2-654321"]),
        ("", []),
        ("no invoice here", []),
    ],
)
def test_find_invoice_numbers_matches(text, expected):
    assert find_invoice_numbers(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ACME-0000421",  # 7 digits
        "ACME-00042",  # 5 digits
        "ACME-000042X",  # glued to a letter
        "ACME-0000429",
        "REF_ACME-000042",  # underscore is part of a word
        "ABCDEFGHIJK-000001",  # provider code too long (11) -- no partial match either
        "A-000001",  # provider code too short
        "1ACME-000001",  # starts with a digit
        "2B-000001",
        "ÄACME-000001",  # glued to a non-ASCII letter
        "ACME-000001é",
        "ACME 000042",
        "ACME–000042",  # en dash
        "ACME-\u0660\u0661\u0662\u0663\u0664\u0665",  # Arabic-Indic digits
        "\u212aACME-000001",  # Kelvin sign must not count as a letter K
    ],
)
def test_find_invoice_numbers_rejects(text):
    assert find_invoice_numbers(text) == []


def test_longer_provider_code_matches_whole_token_not_suffix():
    assert find_invoice_numbers("XACME-000042") == ["XACME-000042"]


def test_invoice_number_re_is_a_compiled_pattern():
    assert INVOICE_NUMBER_RE.search("pay acme-000042").group(0) == "acme-000042"
    assert [m.group(0) for m in INVOICE_NUMBER_RE.finditer("A1-000001 b2-000002")] == ["A1-000001", "b2-000002"]


def test_find_invoice_numbers_none_safe():
    assert find_invoice_numbers(None) == []  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# No float anywhere
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted((PROJECT_ROOT / "intake" / "parsing").glob("*.py")), ids=lambda p: p.name)
def test_parsers_never_use_float(module):
    assert "float(" not in module.read_text()


def test_largest_amount_stays_exact():
    parsed = one_row("2024-03-04,999999999999.99,EUR,R1,A,B")
    assert parsed.entries[0].amount == D("999999999999.99")
    assert str(parsed.entries[0].amount) == "999999999999.99"


@pytest.mark.parametrize("amount", ["1000000000000", "-1000000000000.00", "1" * 40, "1" * 40 + ".001"])
def test_csv_too_large_amounts(amount):
    parsed = one_row(f"2024-03-04,{amount},EUR,R1,A,B")
    assert parsed.entries == []
    assert parsed.errors == [
        StatementError("line 2", f"amount '{amount}' is too large (at most 12 digits before the decimal point)")
    ]


def test_camt_too_large_amount():
    data = camt(ntry(amount='<Amt Ccy="EUR">' + "9" * 30 + "</Amt>"))
    assert only_error(data) == StatementError(
        "entry 1", f"amount '{'9' * 30}' is too large (at most 12 digits before the decimal point)"
    )


def test_long_fraction_of_zeros_is_fine():
    parsed = one_row("2024-03-04,1." + "0" * 40 + ",EUR,R1,A,B")
    assert str(parsed.entries[0].amount) == "1.00"
