"""CSV bank statements.

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

"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from intake.parsing.common import (
    CSV_AMOUNT_RE,
    CSV_DATE_RE,
    ParsedStatement,
    StatementEntry,
    StatementError,
    StatementItem,
    StatementSource,
    as_items,
    check_amount,
    check_currency,
    check_date,
    file_error,
    read_all,
    squash,
)

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


def iter_csv(source: StatementSource) -> Iterator[StatementItem]:
    """The entries and errors of a CSV statement (see module doc)."""
    yield from as_items(parse_csv(read_all(source)))


def parse_csv(data: bytes) -> ParsedStatement:
    """Parse a statement in the Settle CSV statement layout (see module doc)."""
    data = bytes(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return file_error(
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
                return file_error("csv", f"header has duplicate column(s): {', '.join(duplicates)}")
            missing = [c for c in CSV_REQUIRED_COLUMNS if c not in names]
            if missing:
                reason = f"missing required column(s): {', '.join(missing)}"
                if len(row) == 1 and ";" in row[0]:
                    reason += " (the file looks semicolon-separated; use commas)"
                else:
                    reason += f" (the header row has: {', '.join(n for n in names if n) or 'nothing'})"
                return file_error("csv", reason)
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
            booking_date = check_date(raw_date, CSV_DATE_RE, "booking date", problems)
        signed = check_amount(cell("amount"), CSV_AMOUNT_RE, problems)
        currency = check_currency(cell("currency"), problems)
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
                counterparty_name=squash(cell("counterparty")),
                customer_reference=cell("customer_ref"),
                remittance_text=squash(cell("remittance")),
            )
        )

    if header is None:
        return file_error("csv", "file is empty; a header row is required", errors=errors)
    return ParsedStatement(entries=entries, errors=errors, format="csv")
