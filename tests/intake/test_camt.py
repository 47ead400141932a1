"""camt.053 behaviour beyond the basics in test_statements.py: batches, derived identities, date
fallbacks, additional texts, references, status, streaming, and real banks' sample files.

Pure Python, no Django, no database. Files are built here unless a test names a sample in
tests/intake/samples/camt/ (their sources are in the README.md there).
"""

from __future__ import annotations

import dataclasses
import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pytest

from intake.parsing import camt as camt_module
from intake.parsing.camt import iter_camt053, parse_camt053
from intake.parsing.common import BOOKED, INFO, PENDING, StatementEntry, StatementError, derived_reference

D = Decimal
date = datetime.date
SAMPLES = Path(__file__).resolve().parent / "samples" / "camt"
NS04 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"
NS08 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
IBAN = "CH9300762011623852957"


def statement(*ntries: str, ns: str = NS08, head: str = f"<Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>") -> bytes:
    body = "".join(f"<Ntry>{n}</Ntry>" for n in ntries)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt><Id>S1</Id>{head}{body}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def ntry(
    amount: str = "3483.00",
    ccy: str = "CHF",
    ind: str = "CRDT",
    ref: str = "<AcctSvcrRef>NTRY-1</AcctSvcrRef>",
    date_: str = "<BookgDt><Dt>2017-03-22</Dt></BookgDt>",
    sts: str = "",
    details: str = "",
    extra: str = "",
) -> str:
    return (
        f'<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{sts}{date_}{ref}'
        f"<NtryDtls>{details}</NtryDtls>{extra}"
    )


def txdtls(amount: str = "", payer: str = "", creditor_ref: str = "", refs: str = "", rmt: str = "", more="") -> str:
    amt = f'<Amt Ccy="CHF">{amount}</Amt>' if amount else ""
    parties = f"<RltdPties><Dbtr><Pty><Nm>{payer}</Nm></Pty></Dbtr></RltdPties>" if payer else ""
    strd = f"<Strd><CdtrRefInf><Ref>{creditor_ref}</Ref></CdtrRefInf></Strd>" if creditor_ref else ""
    return f"<TxDtls><Refs>{refs}</Refs>{amt}{parties}<RmtInf>{rmt}{strd}</RmtInf>{more}</TxDtls>"


def entries_and_errors(data: bytes) -> tuple[list[StatementEntry], list[StatementError]]:
    parsed = parse_camt053(data)
    return parsed.entries, parsed.errors


# ---------------------------------------------------------------------------
# 1. Batched entries
# ---------------------------------------------------------------------------

SWISS_BATCH = ntry(
    details=txdtls("2187.00", "Alpha AG", "RF18000000000000000000001A", rmt="<Ustrd>Invoice ALPHA-000001</Ustrd>")
    + txdtls("1296.00", "Beta GmbH", "RF18000000000000000000002B", rmt="<Ustrd>Invoice BETA-000002</Ustrd>"),
    extra="<AddtlNtryInf>COLLECTIVE CREDIT 2 PAYMENTS</AddtlNtryInf>",
)


def test_batch_with_amounts_that_add_up_is_one_entry_per_transaction():
    entries, errors = entries_and_errors(statement(SWISS_BATCH))
    assert errors == []
    assert [(e.position, e.amount, e.counterparty_name, e.customer_reference, e.remittance_text) for e in entries] == [
        ("entry 1.1", D("2187.00"), "Alpha AG", "RF18000000000000000000001A", "Invoice ALPHA-000001"),
        ("entry 1.2", D("1296.00"), "Beta GmbH", "RF18000000000000000000002B", "Invoice BETA-000002"),
    ]
    # only the entry has a bank reference: the parts number it
    assert [e.bank_reference for e in entries] == ["NTRY-1/1", "NTRY-1/2"]
    assert {(e.currency, e.credit, e.booking_date, e.account) for e in entries} == {
        ("CHF", True, date(2017, 3, 22), IBAN)
    }


def test_batch_parts_use_their_own_distinct_bank_references():
    details = txdtls("1.00", refs="<AcctSvcrRef>TX-A</AcctSvcrRef>") + txdtls(
        "2.00", refs="<AcctSvcrRef>TX-B</AcctSvcrRef>"
    )
    entries, errors = entries_and_errors(statement(ntry(amount="3.00", details=details)))
    assert errors == []
    assert [(e.position, e.bank_reference, e.reference_kind) for e in entries] == [
        ("entry 1.1", "TX-A", "bank"),
        ("entry 1.2", "TX-B", "bank"),
    ]


def test_batch_parts_sharing_one_transaction_reference_number_the_entry_reference():
    # PostFinance repeats the batch ("package") id in every TxDtls/Refs/AcctSvcrRef
    shared = "<AcctSvcrRef>PACKAGE-9</AcctSvcrRef>"
    details = txdtls("1.00", refs=shared) + txdtls("2.00", refs=shared)
    entries, _ = entries_and_errors(statement(ntry(amount="3.00", details=details)))
    assert [e.bank_reference for e in entries] == ["NTRY-1/1", "NTRY-1/2"]


def test_batch_amount_from_amount_details_as_in_older_versions():
    def old_style(amount: str) -> str:
        return f'<TxDtls><AmtDtls><TxAmt><Amt Ccy="CHF">{amount}</Amt></TxAmt></AmtDtls></TxDtls>'

    entries, errors = entries_and_errors(statement(ntry(amount="3.50", details=old_style("1.25") + old_style("2.25"))))
    assert errors == []
    assert [(e.position, e.amount) for e in entries] == [("entry 1.1", D("1.25")), ("entry 1.2", D("2.25"))]


@pytest.mark.parametrize(
    "details, why",
    [
        (
            txdtls("2187.00") + txdtls("1000.00"),
            "its 2 transactions (TxDtls) total 3187.00 CHF, the entry is 3483.00 CHF",
        ),
        (
            txdtls("2187.00") + txdtls(),
            "transaction 2 of 2 (TxDtls) has no usable amount (missing amount (AmtDtls/TxAmt/Amt))",
        ),
        (
            txdtls("2187.00") + txdtls("1296.00").replace('Ccy="CHF"', 'Ccy="EUR"'),
            "transaction 2 of 2 is in EUR, the entry in CHF",
        ),
        (
            txdtls("2187.00") + txdtls("1296.00", more="<CdtDbtInd>DBIT</CdtDbtInd>"),
            "transaction 2 of 2 goes the other way (DBIT)",
        ),
    ],
    ids=["sum-differs", "amount-missing", "other-currency", "other-direction"],
)
def test_batch_that_does_not_add_up_is_one_entry_sent_to_review(details, why):
    entries, errors = entries_and_errors(statement(ntry(details=details)))
    assert errors == []
    assert [(e.position, e.amount, e.bank_reference, e.review) for e in entries] == [
        ("entry 1", D("3483.00"), "NTRY-1", "batched entry does not add up: " + why)
    ]


def test_unsplittable_batch_names_every_payer_and_keeps_no_single_customer_reference():
    details = txdtls("1.00", "Alpha AG", "RF-A", rmt="<Ustrd>ALPHA-000001</Ustrd>") + txdtls(
        "", "Beta GmbH", "RF-B", rmt="<Ustrd>BETA-000002</Ustrd>"
    )
    extra = "<AddtlNtryInf>COLLECTIVE CREDIT</AddtlNtryInf>"
    (got,), _ = entries_and_errors(statement(ntry(details=details, extra=extra)))
    assert got.counterparty_name == "Alpha AG; Beta GmbH"
    assert got.customer_reference == ""  # paying the first payer's reference was the bug
    assert got.remittance_text == "ALPHA-000001 BETA-000002 COLLECTIVE CREDIT"


def test_single_transaction_keeps_its_entry_whatever_its_amount():
    # a lone TxDtls is the entry itself; some banks put 0 or another currency there
    (got,), errors = entries_and_errors(statement(ntry(details=txdtls("0", "Alpha AG"))))
    assert errors == []
    assert (got.position, got.amount, got.counterparty_name) == ("entry 1", D("3483.00"), "Alpha AG")


def test_split_positions_follow_entry_numbers():
    entries, _ = entries_and_errors(
        statement(
            ntry(ref="<AcctSvcrRef>FIRST</AcctSvcrRef>"), SWISS_BATCH, ntry(ref="<AcctSvcrRef>LAST</AcctSvcrRef>")
        )
    )
    assert [e.position for e in entries] == ["entry 1", "entry 2.1", "entry 2.2", "entry 3"]


# ---------------------------------------------------------------------------
# 2. Derived identity
# ---------------------------------------------------------------------------


def no_ref(amount: str = "10.00", payer: str = "Payer", text: str = "INV-1", day: str = "2024-03-04") -> str:
    return ntry(
        amount=amount,
        ccy="CHF",
        ref="",
        date_=f"<BookgDt><Dt>{day}</Dt></BookgDt>",
        details=txdtls(payer=payer, rmt=f"<Ustrd>{text}</Ustrd>"),
    )


def test_entry_without_any_reference_gets_a_documented_derived_identity():
    (got,), errors = entries_and_errors(statement(no_ref()))
    assert errors == []
    assert got.reference_kind == "derived"
    facts = (IBAN, date(2024, 3, 4), True, False, D("10.00"), "CHF", BOOKED, "Payer", "INV-1", "")
    assert got.bank_reference == derived_reference("entry", *facts, occurrence=1)


def test_identical_entries_on_one_day_stay_two():
    entries, errors = entries_and_errors(statement(no_ref(), no_ref()))
    assert errors == []
    assert len({e.bank_reference for e in entries}) == 2


def test_derived_identities_are_stable_across_reparse_and_a_longer_overlapping_file():
    day_one = [no_ref(day="2024-03-04"), no_ref(day="2024-03-04"), no_ref("5.00", day="2024-03-04")]
    day_two = [no_ref(day="2024-03-05"), no_ref("7.00", "Other", "INV-9", day="2024-03-05")]
    first = parse_camt053(statement(*day_one)).entries
    again = parse_camt053(statement(*day_one)).entries
    longer = parse_camt053(statement(*day_one, *day_two)).entries
    assert [e.bank_reference for e in first] == [e.bank_reference for e in again]
    assert [e.bank_reference for e in longer[:3]] == [e.bank_reference for e in first]
    assert len({e.bank_reference for e in longer}) == 5


def test_derived_identity_depends_on_the_account():
    other = statement(no_ref(), head="<Acct><Id><Othr><Id>12-3456-7</Id></Othr></Id></Acct>")
    (mine,) = parse_camt053(statement(no_ref())).entries
    (theirs,) = parse_camt053(other).entries
    assert theirs.account == "12-3456-7"
    assert mine.bank_reference != theirs.bank_reference


# ---------------------------------------------------------------------------
# 3. Missing booking date
# ---------------------------------------------------------------------------

STATEMENT_DATES = (
    f"<CreDtTm>2024-03-08T06:00:00+01:00</CreDtTm>"
    f"<FrToDt><FrDtTm>2024-03-06T00:00:00</FrDtTm><ToDtTm>2024-03-07T23:59:59+01:00</ToDtTm></FrToDt>"
    f"<Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>"
)


@pytest.mark.parametrize(
    "date_, head, expected",
    [
        ("<ValDt><Dt>2024-03-05</Dt></ValDt>", STATEMENT_DATES, date(2024, 3, 5)),
        ("<BookgDt/><ValDt><DtTm>2024-03-05T23:30:00+02:00</DtTm></ValDt>", STATEMENT_DATES, date(2024, 3, 5)),
        ("", STATEMENT_DATES, date(2024, 3, 7)),
        ("", "<CreDtTm>2024-03-08T06:00:00Z</CreDtTm>", date(2024, 3, 8)),
        ("<BookgDt><Dt>2024-03-04</Dt></BookgDt><ValDt><Dt>2024-03-05</Dt></ValDt>", STATEMENT_DATES, date(2024, 3, 4)),
    ],
    ids=["value-date", "value-date-time", "statement-to-date", "statement-created", "booking-date-first"],
)
def test_booking_date_falls_back_to_value_date_then_statement_dates(date_, head, expected):
    (got,), errors = entries_and_errors(statement(ntry(date_=date_), head=head))
    assert errors == []
    assert got.booking_date == expected


def test_no_date_anywhere_is_an_error():
    assert entries_and_errors(statement(ntry(date_=""))) == (
        [],
        [
            StatementError(
                "entry 1", "missing booking date (BookgDt, ValDt, nor the statement's FrToDt/ToDtTm or CreDtTm)"
            )
        ],
    )


def test_statement_dates_do_not_leak_into_the_next_statement():
    doc = (
        f'<Document xmlns="{NS08}"><BkToCstmrStmt>'
        f"<Stmt>{STATEMENT_DATES}<Ntry>{ntry(date_='')}</Ntry></Stmt>"
        f"<Stmt><Ntry>{ntry(date_='', ref='<AcctSvcrRef>B</AcctSvcrRef>')}</Ntry></Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()
    entries, errors = entries_and_errors(doc)
    assert [(e.position, e.booking_date, e.account) for e in entries] == [("entry 1", date(2024, 3, 7), IBAN)]
    assert [e.position for e in errors] == ["entry 2"]


# ---------------------------------------------------------------------------
# 4. Additional texts
# ---------------------------------------------------------------------------


def test_remittance_joins_unstructured_structured_and_additional_texts_in_order_once():
    rmt = (
        "<Ustrd>Invoice</Ustrd><Ustrd>ACME-000042</Ustrd>"
        "<Strd><CdtrRefInf><Ref>RF47</Ref></CdtrRefInf><AddtlRmtInf>Order 77</AddtlRmtInf></Strd>"
    )
    more = "<AddtlTxInf>SEPA CREDIT  TRANSFER</AddtlTxInf>"
    extra = "<AddtlNtryInf>SEPA CREDIT TRANSFER</AddtlNtryInf>"  # the same text once squashed: not repeated
    (got,), _ = entries_and_errors(statement(ntry(details=txdtls(rmt=rmt, more=more), extra=extra)))
    assert got.remittance_text == "Invoice ACME-000042 Order 77 SEPA CREDIT TRANSFER"
    assert got.customer_reference == "RF47"


def test_entry_level_text_alone_reaches_the_clerk():
    extra = "<AddtlNtryInf>/INV/ACME-000042 Acme Trading</AddtlNtryInf>"
    (got,), _ = entries_and_errors(statement(ntry(extra=extra)))
    assert got.remittance_text == "/INV/ACME-000042 Acme Trading"


def test_split_parts_leave_out_the_batch_text():
    parts, _ = entries_and_errors(statement(SWISS_BATCH))
    assert all("COLLECTIVE" not in e.remittance_text for e in parts)


# ---------------------------------------------------------------------------
# 5. References
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref, tx_refs, expected",
    [
        ("<NtryRef>N1</NtryRef><AcctSvcrRef>A1</AcctSvcrRef>", "<AcctSvcrRef>T1</AcctSvcrRef>", "A1"),
        ("<NtryRef>N1</NtryRef>", "<AcctSvcrRef>T1</AcctSvcrRef><TxId>X1</TxId>", "T1"),
        ("<NtryRef>N1</NtryRef>", "<TxId>X1</TxId><EndToEndId>E1</EndToEndId>", "N1"),
    ],
)
def test_bank_reference_order(ref, tx_refs, expected):
    (got,), _ = entries_and_errors(statement(ntry(ref=ref, details=txdtls(refs=tx_refs))))
    assert (got.bank_reference, got.reference_kind) == (expected, "bank")


def test_end_to_end_id_only_counts_combined_with_account_date_and_amount():
    e2e = txdtls(refs="<TxId>TX-9</TxId><EndToEndId>INVOICE 42</EndToEndId>")
    (got,), _ = entries_and_errors(statement(ntry(ref="", details=e2e)))
    facts = (IBAN, date(2017, 3, 22), True, False, D("3483.00"), "CHF", BOOKED)
    assert got.reference_kind == "derived"
    assert got.bank_reference == derived_reference("EndToEndId", "INVOICE 42", *facts, occurrence=1)


def test_two_payers_reusing_one_end_to_end_id_both_come_through():
    same = "<EndToEndId>INVOICE 42</EndToEndId>"
    first = ntry(amount="10.00", ref="", details=txdtls(payer="Alpha AG", refs=same))
    second = ntry(amount="20.00", ref="", details=txdtls(payer="Beta GmbH", refs=same))
    also_same_amount = ntry(amount="10.00", ref="", details=txdtls(payer="Gamma SA", refs=same))
    entries, errors = entries_and_errors(statement(first, second, also_same_amount))
    assert errors == []
    assert [e.counterparty_name for e in entries] == ["Alpha AG", "Beta GmbH", "Gamma SA"]
    assert len({e.bank_reference for e in entries}) == 3


def test_duplicate_bank_reference_is_an_error_for_the_later_entry():
    entries, errors = entries_and_errors(statement(ntry(), ntry(amount="1.00")))
    assert [e.position for e in entries] == ["entry 1"]
    assert errors == [
        StatementError("entry 2", "duplicate bank reference 'NTRY-1' (already in entry 1); entry skipped")
    ]


def test_pending_and_booked_twins_are_not_duplicates():
    pending = ntry(sts="<Sts><Cd>PDNG</Cd></Sts>")
    entries, errors = entries_and_errors(statement(pending, ntry(sts="<Sts><Cd>BOOK</Cd></Sts>")))
    assert errors == []
    assert [(e.bank_reference, e.status) for e in entries] == [("NTRY-1", PENDING), ("NTRY-1", BOOKED)]


# ---------------------------------------------------------------------------
# 6. Status
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ns, sts, expected",
    [
        (NS04, "<Sts>BOOK</Sts>", BOOKED),
        (NS04, "<Sts>PDNG</Sts>", PENDING),
        (NS04, "<Sts> info </Sts>", INFO),
        (NS08, "<Sts><Cd>BOOK</Cd></Sts>", BOOKED),
        (NS08, "<Sts><Cd>PDNG</Cd></Sts>", PENDING),
        (NS08, "<Sts><Cd>INFO</Cd></Sts>", INFO),
        (NS08, "<Sts><Cd>FUTR</Cd></Sts>", PENDING),
        (NS08, "", BOOKED),
    ],
)
def test_entry_status(ns, sts, expected):
    (got,), errors = entries_and_errors(statement(ntry(sts=sts), ns=ns))
    assert errors == []
    assert got.status == expected


@pytest.mark.parametrize(
    "sts, code",
    [("<Sts>DONE</Sts>", "DONE"), ("<Sts><Prtry>X1</Prtry></Sts>", "X1"), ("<Sts/>", "")],
)
def test_unknown_status_is_an_error_for_that_entry(sts, code):
    entries, errors = entries_and_errors(statement(ntry(sts=sts), ntry(ref="<AcctSvcrRef>OK</AcctSvcrRef>")))
    assert [e.position for e in entries] == ["entry 2"]
    assert errors == [
        StatementError("entry 1", f"unknown entry status '{code}' (Sts: expected BOOK, PDNG, INFO or FUTR)")
    ]


# ---------------------------------------------------------------------------
# 7. Streaming
# ---------------------------------------------------------------------------


def generate_camt053(out: BinaryIO, count: int, *, customers: int = 20_000, seed_day: int = 1) -> None:
    """A camt.053.001.08 of ``count`` booked credits over ``customers`` payers, each naming an invoice.

    For measuring the parser by hand (see the report of the streaming change); no test times it.
    """
    out.write(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS08}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>GEN-{count}</MsgId><CreDtTm>2024-03-31T06:00:00Z</CreDtTm></GrpHdr>"
        f"<Stmt><Id>GEN-STMT</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>\n".encode()
    )
    for number in range(1, count + 1):
        customer = number % customers
        day = seed_day + number % 28
        out.write(
            f'<Ntry><Amt Ccy="EUR">{100 + number % 900}.{number % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2024-03-{day:02d}</Dt></BookgDt>"
            f"<ValDt><Dt>2024-03-{day:02d}</Dt></ValDt><AcctSvcrRef>GEN{number:09d}</AcctSvcrRef>"
            "<NtryDtls><TxDtls><Refs>"
            f"<EndToEndId>E2E-{number}</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>Customer {customer:05d} Ltd"
            f"</Nm></Pty></Dbtr></RltdPties><RmtInf><Ustrd>Invoice CUST-{customer:06d} thank you</Ustrd>"
            "</RmtInf></TxDtls></NtryDtls></Ntry>\n".encode()
        )
    out.write(b"</Stmt></BkToCstmrStmt></Document>\n")


def generated(count: int) -> bytes:
    buffer = io.BytesIO()
    generate_camt053(buffer, count)
    return buffer.getvalue()


def test_generated_statement_parses_completely():
    parsed = parse_camt053(generated(300))
    assert parsed.errors == []
    assert len(parsed.entries) == 300
    assert parsed.entries[-1].bank_reference == "GEN000000300"


def test_file_source_streams_the_same_items_as_bytes(monkeypatch):
    data = statement(SWISS_BATCH, no_ref(), ntry(ref="<AcctSvcrRef>LAST</AcctSvcrRef>"))
    monkeypatch.setattr(camt_module, "CHUNK_SIZE", 7)  # many chunk borders, inside tags and texts
    assert list(iter_camt053(io.BytesIO(data))) == list(iter_camt053(data))


def test_file_source_is_read_lazily():
    class CountingReader(io.BytesIO):
        reads = 0

        def read(self, size: int | None = -1) -> bytes:
            CountingReader.reads += 1
            return super().read(size)

    source = CountingReader(generated(2000))
    items = iter_camt053(source)
    first = next(items)
    assert isinstance(first, StatementEntry) and first.position == "entry 1"
    assert CountingReader.reads < len(source.getvalue()) // camt_module.CHUNK_SIZE


def test_the_tree_holds_one_entry_at_a_time(monkeypatch):
    # deterministic stand-in for "memory does not grow": count the elements alive in the
    # parsed tree each time an entry is read; read entries must have been dropped.
    live: list[int] = []
    original = camt_module.EntryReader.items

    def counting(self, ntry_element, number, facts):
        root = walker_root[0]
        live.append(sum(1 for _ in root.iter()))
        return original(self, ntry_element, number, facts)

    walker_root: list = []
    original_walk = camt_module._Walker.walk

    def walk(self, events):
        if not walker_root and events:
            walker_root.append(events[0][1])
        return original_walk(self, events)

    monkeypatch.setattr(camt_module.EntryReader, "items", counting)
    monkeypatch.setattr(camt_module._Walker, "walk", walk)
    monkeypatch.setattr(camt_module, "CHUNK_SIZE", 4096)
    items = list(iter_camt053(io.BytesIO(generated(1500))))
    assert len(items) == 1500
    per_entry = generated(1).count(b"</") - generated(0).count(b"</")
    # at most the entries of one 4 KiB chunk (about 9) are alive, not the 1500 read so far
    assert max(live) < 20 * per_entry
    assert live[-1] < 20 * per_entry


def test_malformed_xml_after_some_entries_keeps_them(monkeypatch):
    good = statement(ntry(ref="<AcctSvcrRef>A</AcctSvcrRef>"), ntry(ref="<AcctSvcrRef>B</AcctSvcrRef>"))
    broken = good.replace(b"</Stmt>", b"<Ntry><Amt></Ntry></Stmt>")
    monkeypatch.setattr(camt_module, "CHUNK_SIZE", 16)
    items = list(iter_camt053(io.BytesIO(broken)))
    assert [getattr(i, "bank_reference", None) for i in items[:2]] == ["A", "B"]
    column = broken.index(b"</Ntry></Stmt>") + 1 + 2  # expat points past "</" of the mismatched tag
    assert items[2:] == [StatementError("file", f"malformed XML at line 1, column {column}: mismatched tag")]


@pytest.mark.parametrize("chunk", [5, 64 * 1024])
def test_doctype_split_across_chunks_is_refused(monkeypatch, chunk):
    monkeypatch.setattr(camt_module, "CHUNK_SIZE", chunk)
    data = b'<?xml version="1.0"?>\n' + b" " * 100 + b'<!DOCTYPE Document [<!ENTITY a "x">]><Document>&a;</Document>'
    assert list(iter_camt053(io.BytesIO(data))) == [StatementError("file", camt_module._DOCTYPE_REASON)]


def test_entity_expansion_stays_bounded_even_if_the_byte_scan_missed_a_doctype(monkeypatch):
    # Second line of defence: were the scan ever to miss a DOCTYPE, the parser (expat 2.4.1 and
    # later, as every supported Python ships) stops entities that expand the input a
    # thousandfold: "billion laughs" is a malformed file, not a gigabyte of memory.
    monkeypatch.setattr(camt_module, "_contains_doctype", lambda data: False)
    monkeypatch.setattr(camt_module, "CHUNK_SIZE", 64)
    entities = b"".join(b'<!ENTITY e%d "%s">' % (n, b"&e%d;" % (n - 1) * 10) for n in range(1, 10))
    data = b'<!DOCTYPE Document [<!ENTITY e0 "' + b"x" * 50 + b'">' + entities + b"]><Document>&e9;</Document>"
    [error] = iter_camt053(io.BytesIO(data))
    assert error.position == "file"
    assert error.reason.endswith("limit on input amplification factor (from DTD and entities) breached")


# ---------------------------------------------------------------------------
# 8. Real banks' sample files (sources and licences: samples/camt/README.md)
# ---------------------------------------------------------------------------


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def summary(entry: StatementEntry) -> tuple:
    """The entry's fields in order, without `review` (asserted where a sample should be reviewed)."""
    assert entry.review == ""
    return dataclasses.astuple(entry)[:-1]


def test_sample_swiss_collective_credit_is_split_per_creditor_reference():
    # the example: a PostFinance batch credited to the first payer in full
    entries, errors = entries_and_errors(sample("postfinance_batch_camt053_v04.xml"))
    assert errors == []
    assert [
        (e.position, e.amount, e.currency, e.customer_reference, e.bank_reference, e.status, e.account) for e in entries
    ] == [
        (
            "entry 1.1",
            D("2187.00"),
            "CHF",
            "302388292000011111111111111",
            "20170323001234567891234567891234/1",
            BOOKED,
            "CH1111000000123456789",
        ),
        (
            "entry 1.2",
            D("1296.00"),
            "CHF",
            "302388292000022222222222222",
            "20170323001234567891234567891234/2",
            BOOKED,
            "CH1111000000123456789",
        ),
    ]
    assert {e.booking_date for e in entries} == {date(2017, 3, 22)}


def test_sample_abn_amro_without_bank_references_and_with_additional_texts():
    entries, errors = entries_and_errors(sample("abnamro_camt053_v02.xml"))
    assert errors == []
    assert [(e.position, e.amount, e.credit, e.reversal, e.reference_kind) for e in entries] == [
        ("entry 1", D("754.25"), False, False, "derived"),
        ("entry 2.1", D("564.05"), False, True, "derived"),
        ("entry 2.2", D("100.00"), False, True, "derived"),
        ("entry 3", D("1405.31"), True, False, "derived"),
    ]
    facts = ("NL77ABNA0574908765", date(2014, 1, 5), False, True, D("100.00"), "EUR", BOOKED)
    e2e = "TESTBANK/NL/20141229/01206407"
    assert entries[2].bank_reference == derived_reference("EndToEndId", e2e, *facts, occurrence=1)
    assert entries[0].remittance_text == (
        "Insurance policy 857239PERIOD 01.01.2014 - 31.12.2014 MKB Insurance 859239PERIOD 01.01.2014 - 31.12.2014"
    )
    assert len({e.bank_reference for e in entries}) == 4
    assert [e.bank_reference for e in parse_camt053(sample("abnamro_camt053_v02.xml")).entries] == [
        e.bank_reference for e in entries
    ]


def test_sample_version_08():
    (got,), errors = entries_and_errors(sample("genkgo_camt053_v08.xml"))
    assert errors == []
    assert summary(got) == (
        "entry 1",
        "AAAASESS-FP-CN_98765/01",
        date(2014, 12, 31),
        D("8.85"),
        "EUR",
        True,
        False,
        "NAME NAME",
        "4654654654654654",
        "",
        BOOKED,
        "NL26VAYB8060476890",
        "bank",
    )


def test_sample_without_any_reference():
    (got,), errors = entries_and_errors(sample("genkgo_minimal_camt053_v02.xml"))
    assert errors == []
    facts = ("NL26VAYB8060476890", date(2014, 12, 31), True, False, D("8.85"), "EUR", BOOKED)
    assert got.bank_reference == derived_reference("entry", *facts, "NAME NAME", "", "4654654654654654", occurrence=1)


def test_sample_two_statements_in_one_document():
    entries, errors = entries_and_errors(sample("genkgo_multi_statement_camt053_v02.xml"))
    assert errors == []
    assert [(e.position, e.amount, e.credit, e.counterparty_name, e.remittance_text) for e in entries] == [
        ("entry 1", D("8.85"), True, "Company Name 1", "Transaction Description 1"),
        ("entry 2", D("7.00"), False, "Company Name 2", "Transaction Description 2"),
    ]
    assert {e.reference_kind for e in entries} == {"derived"}


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.xml")))
def test_samples_stream_from_a_file_like_from_bytes(name, monkeypatch):
    monkeypatch.setattr(camt_module, "CHUNK_SIZE", 512)
    assert list(iter_camt053(io.BytesIO(sample(name)))) == list(iter_camt053(sample(name)))


# ---------------------------------------------------------------------------
# Edges found by mutation testing (issue 18): each case changes one thing.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-04", date(2024, 3, 4)),
        ("2024-03-04Z", date(2024, 3, 4)),
        ("2024-03-04+02:00", date(2024, 3, 4)),
        ("2024-03-04-11:00", date(2024, 3, 4)),
        ("2024-03-04T23:30:00+02:00", date(2024, 3, 4)),  # as written: no conversion to UTC
        ("2024-02-30", None),
        ("04.03.2024", None),
        ("", None),
    ],
)
def test_xml_dates_and_date_times_as_written(text, expected):
    from intake.parsing.camt_entries import xml_date

    assert xml_date(text) == expected


def test_a_debit_batch_that_adds_up_is_split_like_a_credit_one():
    details = txdtls("1.00", more="<CdtDbtInd>DBIT</CdtDbtInd>") + txdtls("2.00", more="<CdtDbtInd>DBIT</CdtDbtInd>")
    entries, errors = entries_and_errors(statement(ntry(amount="3.00", ind="DBIT", details=details)))
    assert errors == []
    assert [(e.position, e.amount, e.credit) for e in entries] == [
        ("entry 1.1", D("1.00"), False),
        ("entry 1.2", D("2.00"), False),
    ]


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("1.5.0", "amount '1.5.0' is not a number; missing currency (Amt/@Ccy)"),
        ("2.00", "missing currency (Amt/@Ccy)"),  # the amount alone is fine
    ],
)
def test_a_batch_transaction_with_problems_names_them_all(amount, why):
    bad = f'<TxDtls><Amt Ccy="">{amount}</Amt></TxDtls>'
    (got,), _ = entries_and_errors(statement(ntry(amount="3.00", details=txdtls("1.00") + bad)))
    assert got.review == f"batched entry does not add up: transaction 2 of 2 (TxDtls) has no usable amount ({why})"


def test_batch_parts_number_the_entry_reference_when_the_bank_gives_only_ntryref():
    details = txdtls("1.00") + txdtls("2.00")
    entries, _ = entries_and_errors(statement(ntry(amount="3.00", ref="<NtryRef>N-7</NtryRef>", details=details)))
    assert [(e.bank_reference, e.reference_kind) for e in entries] == [("N-7/1", "bank"), ("N-7/2", "bank")]


def test_a_split_credit_names_each_payer_not_the_account_holder():
    def paid_by(amount, payer):
        parties = f"<RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr><Cdtr><Nm>Settle Ltd</Nm></Cdtr></RltdPties>"
        return f'<TxDtls><Amt Ccy="CHF">{amount}</Amt>{parties}</TxDtls>'

    entries, _ = entries_and_errors(
        statement(ntry(amount="3.00", details=paid_by("1.00", "Alpha AG") + paid_by("2.00", "Beta GmbH")))
    )
    assert [e.counterparty_name for e in entries] == ["Alpha AG", "Beta GmbH"]


@pytest.mark.parametrize("spelling", ["NOTPROVIDED", "NotProvided"])
def test_an_end_to_end_id_of_not_provided_is_no_end_to_end_id(spelling):
    without = txdtls(payer="Alpha AG", refs="<TxId>TX-9</TxId>")
    with_placeholder = txdtls(payer="Alpha AG", refs=f"<TxId>TX-9</TxId><EndToEndId>{spelling}</EndToEndId>")
    (plain,), _ = entries_and_errors(statement(ntry(ref="", details=without)))
    (got,), _ = entries_and_errors(statement(ntry(ref="", details=with_placeholder)))
    assert got.bank_reference == plain.bank_reference


def test_an_unsplit_batch_has_no_end_to_end_id_of_its_own():
    # Two transactions that do not add up stay one entry: no single EndToEndId names it, so its
    # identity is derived from the entry's facts, not from the first transaction's EndToEndId.
    details = txdtls("1.00", "Alpha AG", refs="<EndToEndId>E-1</EndToEndId>") + txdtls(
        "5.00", "Beta GmbH", refs="<EndToEndId>E-2</EndToEndId>"
    )
    (got,), _ = entries_and_errors(statement(ntry(amount="3.00", ref="", details=details)))
    facts = (IBAN, date(2017, 3, 22), True, False, D("3.00"), "CHF", BOOKED)
    assert got.bank_reference == derived_reference("entry", *facts, "Alpha AG; Beta GmbH", "", "", occurrence=1)


def test_a_duplicate_part_of_a_batch_is_skipped_and_the_other_parts_come_through():
    first = ntry(amount="1.00", ref="", details=txdtls("1.00", refs="<AcctSvcrRef>TX-A</AcctSvcrRef>"))
    batch = ntry(
        amount="3.00",
        ref="<AcctSvcrRef>NTRY-2</AcctSvcrRef>",
        details=txdtls("1.00", refs="<AcctSvcrRef>TX-A</AcctSvcrRef>")
        + txdtls("2.00", refs="<AcctSvcrRef>TX-B</AcctSvcrRef>"),
    )
    entries, errors = entries_and_errors(statement(first, batch))
    assert [(e.position, e.bank_reference) for e in entries] == [("entry 1", "TX-A"), ("entry 2.2", "TX-B")]
    assert errors == [
        StatementError("entry 2.1", "duplicate bank reference 'TX-A' (already in entry 1); entry skipped")
    ]
