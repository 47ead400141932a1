"""Bank statement intake: parse CSV and camt.053 statements into plain entries.

Pure Python, standard library only, no Django and no database: the functions
here turn the bytes of an uploaded statement into :class:`StatementEntry`
values plus a list of :class:`StatementError` values that a person can act on.
Storing entries, matching them to invoices and skipping entries that were
already imported from an earlier (overlapping) statement is the caller's job;
``bank_reference`` is the key to do that with.

Amounts are always :class:`decimal.Decimal` built from the text of the file;
no float is ever involved.

Settle CSV statement layout
===========================

* Encoding UTF-8 (a leading byte order mark is accepted), comma-separated,
  fields containing commas, quotes or line breaks quoted with ``"`` as usual.
* The first line is a header row, required.  Column names are matched
  case-insensitively and ignoring surrounding spaces; the order is free.
  Columns not listed below are ignored.

  ==================  ========  ==============================================
  column              required  content
  ==================  ========  ==============================================
  ``booking_date``    yes       ``YYYY-MM-DD``
  ``amount``          yes       decimal number with a dot, at most 2 decimals,
                                no thousands separators, e.g. ``1250.00``;
                                a leading minus marks a debit (money out)
  ``currency``        yes       ISO 4217 code, 3 letters (``EUR``, ``usd``)
  ``bank_reference``  yes       the bank's unique reference of the booking
  ``counterparty``    yes       name of the payer / payee (value may be empty)
  ``remittance``      yes       free remittance text (value may be empty)
  ``customer_ref``    no        structured creditor reference, e.g. ``RF18...``
  ``reversal``        no        ``yes``/``no``/``true``/``false``/``1``/``0``;
                                empty means ``no``
  ==================  ========  ==============================================

* Line breaks and runs of spaces inside ``counterparty`` and ``remittance``
  become single spaces (the same is done for camt.053 names and texts).
* Empty lines are skipped.  Positions are reported as ``"line N"``, the
  physical line in the file on which the row starts (the header is line 1).
* A missing required column is reported once at position ``"file"`` and no
  entry is returned.  A bad row is reported with its line number and the
  other rows are still parsed.
* The amount must not be zero, must have at most 12 digits before the
  decimal point (Settle stores money with 14 digits, 2 of them decimals) and
  at most 2 decimals (the parser does not know each currency's minor units;
  trailing zeros such as ``10.500`` are accepted and normalised to
  ``10.50``).  The entry's ``amount`` is always positive; ``credit`` is
  False for negative amounts.
* A ``bank_reference`` that already appeared on an earlier valid row of the
  same file is reported as an error and the repeated row is skipped.

camt.053
========

ISO 20022 ``BankToCustomerStatement``, any version ``camt.053.001.XX``
(``.02`` to ``.13`` are known) or without namespace.  Every
``Document/BkToCstmrStmt/Stmt/Ntry`` becomes one entry; positions are
``"entry N"``, N counting ``Ntry`` elements from 1 across the whole document
(all ``Stmt`` elements).  Documents with a DOCTYPE (and hence entity
declarations) are refused.  Malformed XML gives one error at ``"file"``
naming the 1-based line and column.  Problems in an entry are reported as
one error for that entry (several reasons joined by ``"; "``), and an
``AcctSvcrRef``/reference already used by an earlier valid entry is an error.

Field mapping (``TxDtls`` is the first ``Ntry/NtryDtls/TxDtls``):

* ``amount``/``currency``: ``Ntry/Amt`` and its ``Ccy`` attribute; the same
  amount rules as for CSV apply, and the amount must not be negative.
* ``credit``: ``Ntry/CdtDbtInd`` (``CRDT`` or ``DBIT``).
* ``reversal``: ``Ntry/RvslInd`` (``true``/``1``), absent means False.
* ``booking_date``: ``Ntry/BookgDt/Dt``, else the date part of
  ``Ntry/BookgDt/DtTm`` (as written, no time zone conversion).
* ``bank_reference``: ``Ntry/AcctSvcrRef`` (the bank's own reference),
  else ``Ntry/NtryRef``, else ``TxDtls/Refs/EndToEndId`` (the placeholder
  ``NOTPROVIDED`` does not count).
* ``counterparty_name``: ``TxDtls/RltdPties/Dbtr`` name for money that
  originally came in (CRDT, or a reversed DBIT), ``Cdtr`` name for money that
  originally went out, falling back to the other party.  Both ``Dbtr/Nm``
  (up to .07) and ``Dbtr/Pty/Nm`` (.08 and later) are read.
* ``customer_reference``: first ``TxDtls/RmtInf/Strd/CdtrRefInf/Ref``.
* ``remittance_text``: all ``TxDtls/RmtInf/Ustrd`` joined by one space.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal

from allocations.rules import INVOICE_NUMBER_RE, find_invoice_numbers
from billing.errors import InvalidAmount
from billing.money import parse_decimal

__all__ = [
    "INVOICE_NUMBER_RE",
    "ParsedStatement",
    "StatementEntry",
    "StatementError",
    "find_invoice_numbers",
    "parse_camt053",
    "parse_csv",
    "parse_statement",
]


@dataclass(frozen=True)
class StatementEntry:
    position: str
    bank_reference: str
    booking_date: datetime.date
    amount: Decimal
    currency: str
    credit: bool
    reversal: bool
    counterparty_name: str
    customer_reference: str
    remittance_text: str


@dataclass(frozen=True)
class StatementError:
    position: str
    reason: str


@dataclass(frozen=True)
class ParsedStatement:
    entries: list[StatementEntry]
    errors: list[StatementError]
    format: str


# --------------------------------------------------------------------------
# Invoice numbers
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# Shared field checks
# --------------------------------------------------------------------------

_CURRENCY_RE = re.compile(r"[A-Za-z]{3}")
_CSV_DATE_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")
_XML_DATE_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")  # xs:date
_CSV_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CAMT_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CENT = Decimal("0.01")
_MAX_DECIMALS = 2
# Settle stores money as DecimalField(max_digits=14, decimal_places=2).
_MAX_INTEGER_DIGITS = 12
_TOO_LARGE = Decimal(10) ** _MAX_INTEGER_DIGITS


def _check_amount(text: str, pattern: re.Pattern[str], problems: list[str]) -> Decimal | None:
    """Exact Decimal for ``text`` or None after appending the reason."""
    if not text:
        problems.append("missing amount")
        return None
    if not pattern.fullmatch(text):
        reason = f"amount '{text}' is not a number"
        if "," in text:
            reason += " (use a dot as decimal separator and no thousands separators)"
        problems.append(reason)
        return None
    try:
        value = parse_decimal(text)  # billing.money's one grammar of amounts
    except InvalidAmount:  # pragma: no cover - the pattern is narrower than the grammar
        problems.append(f"amount '{text}' is not a number")
        return None
    if abs(value) >= _TOO_LARGE:
        problems.append(f"amount '{text}' is too large (at most {_MAX_INTEGER_DIGITS} digits before the decimal point)")
        return None
    if value != value.quantize(_CENT):
        problems.append(f"amount {text} has more decimals than allowed (at most {_MAX_DECIMALS})")
        return None
    exponent = value.as_tuple().exponent  # an int: the value is finite (it quantized above)
    if isinstance(exponent, int) and exponent < -_MAX_DECIMALS:  # e.g. 10.500: harmless zeros
        value = value.quantize(_CENT)
    if value == 0:
        problems.append("amount must not be zero")
        return None
    return value


def _check_currency(text: str, problems: list[str], missing: str = "missing currency") -> str | None:
    if not text:
        problems.append(missing)
        return None
    if not _CURRENCY_RE.fullmatch(text):
        problems.append(f"currency '{text}' is not a 3-letter ISO code")
        return None
    return text.upper()


def _check_date(text: str, pattern: re.Pattern[str], what: str, problems: list[str]) -> datetime.date | None:
    match = pattern.fullmatch(text)
    if match:
        try:
            return datetime.date.fromisoformat(match.group(1))
        except ValueError:
            pass
    problems.append(f"{what} '{text}' is not a valid YYYY-MM-DD date")
    return None


def _text(element: ET.Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()


def _squash(text: str) -> str:
    """Collapse line breaks and runs of whitespace to single spaces."""
    return " ".join(text.split())


# --------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------

_FORMAT_ALIASES = {"csv": "csv", "camt053": "camt053", "camt": "camt053", "xml": "camt053"}


def _looks_like_xml(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").lstrip().startswith("<")
        except UnicodeDecodeError:
            return False
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.lstrip().startswith(b"<")


def parse_statement(data: bytes, *, format: str | None = None, filename: str | None = None) -> ParsedStatement:
    """Parse a statement, detecting the format unless ``format`` is given.

    ``format`` is ``"csv"`` or ``"camt053"`` (``"camt.053"``, ``"camt"`` and
    ``"xml"`` are accepted too).  Without it, content that starts with ``<``
    (after an optional byte order mark and whitespace) is camt.053; otherwise a
    ``.xml`` filename means camt.053 and anything else CSV.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"statement data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if format is not None:
        key = format.strip().lower().replace(".", "").replace("_", "").replace("-", "")
        if key not in _FORMAT_ALIASES:
            raise ValueError(f"unknown statement format {format!r}; use 'csv' or 'camt053'")
        chosen = _FORMAT_ALIASES[key]
    elif _looks_like_xml(data):
        chosen = "camt053"
    elif filename and filename.lower().endswith(".xml"):
        chosen = "camt053"
    else:
        chosen = "csv"
    return parse_camt053(data) if chosen == "camt053" else parse_csv(data)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------

CSV_REQUIRED_COLUMNS = (
    "booking_date",
    "amount",
    "currency",
    "bank_reference",
    "counterparty",
    "remittance",
)
CSV_OPTIONAL_COLUMNS = ("customer_ref", "reversal")

_TRUE_WORDS = {"yes", "true", "1"}
_FALSE_WORDS = {"no", "false", "0", ""}


def _file_error(
    fmt: str, reason: str, entries: list[StatementEntry] | None = None, errors: list[StatementError] | None = None
) -> ParsedStatement:
    return ParsedStatement(
        entries=entries or [],
        errors=(errors or []) + [StatementError("file", reason)],
        format=fmt,
    )


def parse_csv(data: bytes) -> ParsedStatement:
    """Parse a statement in the Settle CSV statement layout (see module doc)."""
    data = bytes(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return _file_error(
            "csv",
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); export the statement as UTF-8",
        )

    reader = csv.reader(io.StringIO(text, newline=""))
    entries: list[StatementEntry] = []
    errors: list[StatementError] = []
    header: dict[str, int] | None = None
    header_width = 0
    seen_refs: dict[str, str] = {}
    previous_line = 0  # reader.line_num after the previous record

    while True:
        start_line = previous_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(StatementError(f"line {start_line}", f"could not read the rest of the file: {exc}"))
            break
        previous_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # empty line
        position = f"line {start_line}"

        if header is None:
            names = [cell.strip().lower() for cell in row]
            duplicates = sorted({n for n in names if n and names.count(n) > 1})
            if duplicates:
                return _file_error("csv", f"header has duplicate column(s): {', '.join(duplicates)}")
            missing = [c for c in CSV_REQUIRED_COLUMNS if c not in names]
            if missing:
                reason = f"missing required column(s): {', '.join(missing)}"
                if len(row) == 1 and ";" in row[0]:
                    reason += " (the file looks semicolon-separated; use commas)"
                else:
                    reason += f" (the header row has: {', '.join(n for n in names if n) or 'nothing'})"
                return _file_error("csv", reason)
            header = {name: index for index, name in enumerate(names) if name}
            header_width = len(row)
            continue

        if len(row) != header_width:
            reason = f"row has {len(row)} fields but the header has {header_width}"
            if len(row) > header_width:
                reason += " (quote values that contain commas)"
            errors.append(StatementError(position, reason))
            continue

        def cell(name: str) -> str:
            index = header.get(name)
            return row[index].strip() if index is not None else ""

        problems: list[str] = []
        booking_date = None
        raw_date = cell("booking_date")
        if not raw_date:
            problems.append("missing booking date")
        else:
            booking_date = _check_date(raw_date, _CSV_DATE_RE, "booking date", problems)
        signed = _check_amount(cell("amount"), _CSV_AMOUNT_RE, problems)
        currency = _check_currency(cell("currency"), problems)
        reference = cell("bank_reference")
        if not reference:
            problems.append("missing bank reference")
        raw_reversal = cell("reversal")
        reversal = False
        if raw_reversal.lower() in _TRUE_WORDS:
            reversal = True
        elif raw_reversal.lower() not in _FALSE_WORDS:
            problems.append(f"reversal '{raw_reversal}' is not yes or no")

        if problems:
            errors.append(StatementError(position, "; ".join(problems)))
            continue
        # No problem means every check above returned its value.
        assert booking_date is not None and signed is not None and currency is not None
        if reference in seen_refs:
            errors.append(
                StatementError(
                    position,
                    f"duplicate bank reference '{reference}' (already on {seen_refs[reference]}); row skipped",
                )
            )
            continue
        seen_refs[reference] = position
        entries.append(
            StatementEntry(
                position=position,
                bank_reference=reference,
                booking_date=booking_date,
                amount=abs(signed),
                currency=currency,
                credit=signed > 0,
                reversal=reversal,
                counterparty_name=_squash(cell("counterparty")),
                customer_reference=cell("customer_ref"),
                remittance_text=_squash(cell("remittance")),
            )
        )

    if header is None:
        return _file_error("csv", "file is empty; a header row is required", errors=errors)
    return ParsedStatement(entries=entries, errors=errors, format="csv")


# --------------------------------------------------------------------------
# camt.053
# --------------------------------------------------------------------------

_CAMT053_NS_RE = re.compile(r"camt\.053\.001\.[0-9]{2}$")
_NOT_PROVIDED = "NOTPROVIDED"


class _DoctypeRefused(Exception):
    pass


class _NoDoctypeTreeBuilder(ET.TreeBuilder):
    def doctype(self, name, pubid, system):  # called by XMLParser for <!DOCTYPE
        raise _DoctypeRefused()


_DOCTYPE_REASON = (
    "XML documents with a DOCTYPE or entity declarations are refused for security reasons; "
    "camt.053 files do not need them"
)


def _contains_doctype(data: bytes) -> bool:
    for marker in ("<!DOCTYPE", "<!ENTITY"):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            if marker.encode(encoding) in data:
                return True
    return False


def parse_camt053(data: bytes) -> ParsedStatement:
    """Parse an ISO 20022 camt.053 BankToCustomerStatement (see module doc)."""
    data = bytes(data)
    if not data.strip():
        return _file_error("camt053", "file is empty")
    if _contains_doctype(data):
        return _file_error("camt053", _DOCTYPE_REASON)
    parser = ET.XMLParser(target=_NoDoctypeTreeBuilder())
    try:
        parser.feed(data)
        root = parser.close()
    except _DoctypeRefused:
        return _file_error("camt053", _DOCTYPE_REASON)
    except ET.ParseError as exc:
        line, column = exc.position
        what = re.sub(r": line \d+, column \d+$", "", exc.msg)
        return _file_error("camt053", f"malformed XML at line {line}, column {column + 1}: {what}")

    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document":
        return _file_error("camt053", f"root element is '{local}', expected camt.053 'Document'")
    if namespace and not _CAMT053_NS_RE.search(namespace):
        return _file_error("camt053", f"not a camt.053 statement: document namespace is '{namespace}'")
    prefix = f"{{{namespace}}}" if namespace else ""

    def path(*names: str) -> str:
        return "/".join(prefix + name for name in names)

    statement = root.find(path("BkToCstmrStmt"))
    if statement is None:
        return _file_error("camt053", "not a camt.053 statement: no BkToCstmrStmt element")

    entries: list[StatementEntry] = []
    errors: list[StatementError] = []
    seen_refs: dict[str, str] = {}
    for number, ntry in enumerate(statement.iterfind(path("Stmt", "Ntry")), start=1):
        position = f"entry {number}"
        problems: list[str] = []

        amount_el = ntry.find(path("Amt"))
        amount = currency = None
        if amount_el is None:
            problems.append("missing amount (Amt)")
        else:
            raw_amount = _text(amount_el)
            if raw_amount.startswith("-"):
                problems.append(f"amount '{raw_amount}' must not be negative (CdtDbtInd gives the direction)")
            else:
                amount = _check_amount(raw_amount, _CAMT_AMOUNT_RE, problems)
            currency = _check_currency((amount_el.get("Ccy") or "").strip(), problems, "missing currency (Amt/@Ccy)")

        indicator = _text(ntry.find(path("CdtDbtInd")))
        credit = None
        if not indicator:
            problems.append("missing credit/debit indicator (CdtDbtInd)")
        elif indicator.upper() in ("CRDT", "DBIT"):
            credit = indicator.upper() == "CRDT"
        else:
            problems.append(f"unknown credit/debit indicator '{indicator}'")

        raw_reversal = _text(ntry.find(path("RvslInd")))
        reversal = raw_reversal.lower() in ("true", "1")
        if raw_reversal.lower() not in ("", "true", "1", "false", "0"):
            problems.append(f"reversal indicator '{raw_reversal}' is not true or false")

        booking_date = None
        raw_date = _text(ntry.find(path("BookgDt", "Dt")))
        raw_datetime = _text(ntry.find(path("BookgDt", "DtTm")))
        if raw_date:
            booking_date = _check_date(raw_date, _XML_DATE_RE, "booking date", problems)
        elif raw_datetime:
            try:
                booking_date = datetime.datetime.fromisoformat(raw_datetime).date()
            except ValueError:
                problems.append(f"booking date-time '{raw_datetime}' is not a valid ISO date-time")
        else:
            problems.append("missing booking date (BookgDt/Dt or BookgDt/DtTm)")

        tx = ntry.find(path("NtryDtls", "TxDtls"))
        end_to_end = _text(tx.find(path("Refs", "EndToEndId"))) if tx is not None else ""
        if end_to_end.upper() == _NOT_PROVIDED:
            end_to_end = ""
        reference = _text(ntry.find(path("AcctSvcrRef"))) or _text(ntry.find(path("NtryRef"))) or end_to_end
        if not reference:
            problems.append("missing bank reference (AcctSvcrRef, NtryRef or EndToEndId)")

        if problems:
            errors.append(StatementError(position, "; ".join(problems)))
            continue
        # No problem means every check above returned its value.
        assert booking_date is not None and amount is not None and currency is not None and credit is not None
        if reference in seen_refs:
            errors.append(
                StatementError(
                    position,
                    f"duplicate bank reference '{reference}' (already in {seen_refs[reference]}); entry skipped",
                )
            )
            continue
        seen_refs[reference] = position

        counterparty = customer_reference = remittance = ""
        if tx is not None:

            def party_name(role: str) -> str:
                return _text(tx.find(path("RltdPties", role, "Pty", "Nm"))) or _text(
                    tx.find(path("RltdPties", role, "Nm"))
                )

            debtor, creditor = party_name("Dbtr"), party_name("Cdtr")
            money_came_in = credit != reversal  # a reversed DBIT undoes an incoming payment
            counterparty = (debtor or creditor) if money_came_in else (creditor or debtor)
            customer_reference = _text(tx.find(path("RmtInf", "Strd", "CdtrRefInf", "Ref")))
            remittance = _squash(" ".join(_text(u) for u in tx.iterfind(path("RmtInf", "Ustrd"))))

        entries.append(
            StatementEntry(
                position=position,
                bank_reference=reference,
                booking_date=booking_date,
                amount=amount,
                currency=currency,
                credit=credit,
                reversal=reversal,
                counterparty_name=_squash(counterparty),
                customer_reference=customer_reference,
                remittance_text=remittance,
            )
        )

    return ParsedStatement(entries=entries, errors=errors, format="camt053")
