"""CSV bank statements, in Settle's own layout or a bank's (see intake.parsing.csv_profiles).

Settle CSV statement layout (profile ``settle``, the default)
=============================================================

* Encoding UTF-8 (a leading byte order mark is accepted), comma-separated,
  fields containing commas, quotes or line breaks quoted with ``"`` as usual.
* The first non-empty line is a header row, required.  Column names are
  matched case-insensitively and ignoring surrounding spaces; the order is
  free.  Columns not listed below are ignored.

  ==================  ========  ==============================================
  column              required  content
  ==================  ========  ==============================================
  ``booking_date``    yes       ``YYYY-MM-DD``
  ``amount``          yes       decimal number with a dot, at most 2 decimals,
                                no thousands separators, e.g. ``1250.00``;
                                a leading minus marks a debit (money out)
  ``currency``        yes       ISO 4217 code, 3 letters (``EUR``, ``usd``)
  ``counterparty``    yes       name of the payer / payee (value may be empty)
  ``remittance``      yes       free remittance text (value may be empty)
  ``bank_reference``  no        the bank's unique reference of the booking;
                                empty or absent: a derived reference (below)
  ``customer_ref``    no        structured creditor reference, e.g. ``RF18...``
  ``reversal``        no        ``yes``/``no``/``true``/``false``/``1``/``0``;
                                empty means ``no``
  ``account``         no        the statement's own account (IBAN)
  ==================  ========  ==============================================

Bank profiles (``ing-nl``, ``knab``, ``ing-de``) read the bank's own columns,
delimiter, decimal comma, date format and encoding, and find the header row
below the bank's title lines; see :data:`CSV_PROFILES`.

Rules for every profile
-----------------------

* Line breaks and runs of spaces inside the counterparty and remittance
  become single spaces (the same is done for camt.053 names and texts); other
  control characters become spaces too.
* Empty lines are skipped.  Positions are reported as ``"line N"``, the
  physical line in the file on which the row starts.
* A header that does not fit the profile is reported once at ``"file"``: what
  was found (header names, delimiter, encoding), what the profile expects and,
  when another built-in profile fits, its name.  No entry is returned.
* A bad row is reported with its line number and the other rows are still
  parsed: a bad amount, date or currency, a wrong number of fields, a NUL byte
  (PostgreSQL text cannot hold one), bytes that are not valid in the
  profile's encodings, or a row the csv module cannot read (a field over its
  size limit, typically behind a quote that is never closed).
* The amount must not be zero, must have at most 12 digits before the decimal
  point and at most 2 decimals (trailing zeros such as ``10.500`` are accepted
  and normalised).  The entry's ``amount`` is always positive; ``credit``
  tells the direction.
* A bank reference that already appeared on an earlier valid row of the same
  file is reported as an error and the repeated row is skipped.

Derived references
------------------

Bank CSV exports (ING, and Settle CSV rows with an empty ``bank_reference``)
carry no reference of the bank's own.  Such an entry gets
:func:`~intake.parsing.common.derived_reference` over its account, booking
date, direction, amount, currency, counterparty and remittance text, numbered
by how often exactly these facts already came up in the file
(:class:`~intake.parsing.common.Occurrences`), and ``reference_kind`` is
``"derived"``.  The same export read twice, or a longer export that overlaps
it by whole days, gives the shared entries the same references, so a
re-import records nothing twice while two identical payments on one day stay
two.  An export cut in the middle of a day can number that day's identical
payments differently: export whole days.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from intake.parsing.common import (
    BOOKED,
    CSV_AMOUNT_RE,
    Occurrences,
    ParsedStatement,
    StatementEntry,
    StatementError,
    StatementItem,
    StatementSource,
    check_amount,
    check_currency,
    collect,
    derived_reference,
    squash,
)
from intake.parsing.csv_layout import Layout, LineDecoder, locate_layout
from intake.parsing.csv_profiles import CSV_PROFILES, CsvProfile, get_profile, parse_date

__all__ = ["CSV_PROFILES", "CsvProfile", "iter_csv", "parse_csv"]

_DELIMITER_WORDS = {",": "commas", ";": "semicolons", "\t": "tabs"}
_TRUE_WORDS = {"yes", "true", "1"}
_FALSE_WORDS = {"no", "false", "0", ""}
# Control characters other than tab, line feed and carriage return (which squash() turns into spaces).
_CONTROLS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def iter_csv(source: StatementSource, profile: str | CsvProfile | None = "settle") -> Iterator[StatementItem]:
    """The entries and errors of a CSV statement, row by row (see module doc).

    ``source`` is the bytes or a binary file, read line by line so a large export
    is never held whole.  ``profile`` is a key of :data:`CSV_PROFILES` (unknown:
    ValueError), a :class:`CsvProfile`, or None to pick the one built-in profile
    whose header fits (Settle's first).
    """
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    lines = iter(stream)
    layout = locate_layout(chosen, lines)
    if isinstance(layout, StatementError):
        yield layout
        return
    yield from _rows(layout)


def parse_csv(data: bytes, profile: str | CsvProfile | None = "settle") -> ParsedStatement:
    """Parse a whole CSV statement (see module doc)."""
    return collect(iter_csv(bytes(data), profile), "csv")


@dataclass
class _Row:
    position: str
    cells: list[str]
    layout: Layout

    def cell(self, field: str) -> str:
        index = self.layout.fit.indexes.get(field)
        return self.cells[index].strip() if index is not None and index < len(self.cells) else ""

    def text(self, field: str) -> str:
        return squash(_CONTROLS_RE.sub(" ", self.cell(field)))

    def reference(self, field: str) -> str:
        return _CONTROLS_RE.sub(" ", self.cell(field)).strip()


def _rows(layout: Layout) -> Iterator[StatementItem]:
    profile = layout.profile
    decoder = LineDecoder(itertools.chain(layout.head, layout.rest), profile.encodings)
    reader = csv.reader(decoder, delimiter=layout.delimiter)
    seen_refs: dict[str, str] = {}
    occurrences = Occurrences()
    previous_line = 0  # reader.line_num after the previous record
    while True:
        start_line = previous_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader drops the line it failed on and goes on with the next one.
            previous_line = reader.line_num
            yield StatementError(f"line {start_line}", f"could not read this row: {exc}")
            continue
        previous_line = reader.line_num
        if start_line <= layout.header_line or not any(cell.strip() for cell in cells):
            continue  # title lines, the header row, empty lines
        position = f"line {start_line}"
        undecodable = decoder.bad_line_between(start_line, previous_line)
        if undecodable:
            yield StatementError(position, undecodable)
            continue
        width = layout.width
        if len(cells) != width and not (len(cells) > width and not any(c.strip() for c in cells[width:])):
            reason = f"row has {len(cells)} fields but the header has {width}"
            if len(cells) > width:
                reason += (
                    f" (quote values that contain {_DELIMITER_WORDS.get(layout.delimiter, repr(layout.delimiter))})"
                )
            yield StatementError(position, reason)
            continue
        nul_columns = [layout.shown_name(i) for i, cell in enumerate(cells) if "\x00" in cell]
        if nul_columns:
            yield StatementError(position, f"contains a NUL byte (in column {', '.join(nul_columns)})")
            continue
        yield _entry(_Row(position, cells, layout), seen_refs, occurrences)


def _entry(row: _Row, seen_refs: dict[str, str], occurrences: Occurrences) -> StatementItem:
    profile = row.layout.profile
    problems: list[str] = []
    booking_date = None
    raw_date = row.cell("booking_date")
    if not raw_date:
        problems.append("missing booking date")
    else:
        booking_date = parse_date(raw_date, profile.date_formats)
        if booking_date is None:
            problems.append(f"booking date '{raw_date}' is not a valid {' or '.join(profile.date_formats)} date")
    signed = signed_amount(row.cell, row.layout, problems)
    if profile.fixed_currency:
        currency: str | None = profile.fixed_currency
    else:
        currency = check_currency(row.cell("currency"), problems)
    raw_reversal = row.cell("reversal")
    reversal = False
    if raw_reversal.lower() in _TRUE_WORDS:
        reversal = True
    elif raw_reversal.lower() not in _FALSE_WORDS:
        problems.append(f"reversal '{raw_reversal}' is not yes or no")
    if problems:
        return StatementError(row.position, "; ".join(problems))
    # No problem means every check above returned its value.
    assert booking_date is not None and signed is not None and currency is not None

    account = "".join(row.cell("account").split()) or row.layout.title_account
    counterparty = row.text("counterparty")
    remittance = row.text("remittance")
    reference = row.reference("bank_reference")
    kind = "bank"
    if reference:
        if reference in seen_refs:
            return StatementError(
                row.position,
                f"duplicate bank reference '{reference}' (already on {seen_refs[reference]}); row skipped",
            )
        seen_refs[reference] = row.position
    else:
        direction = "C" if signed > 0 else "D"
        facts = (account, booking_date.isoformat(), direction, abs(signed), currency, counterparty, remittance)
        reference = derived_reference(*facts, occurrence=occurrences.next(*facts))
        kind = "derived"
    return StatementEntry(
        position=row.position,
        bank_reference=reference,
        booking_date=booking_date,
        amount=abs(signed),
        currency=currency,
        credit=signed > 0,
        reversal=reversal,
        counterparty_name=counterparty,
        customer_reference=row.reference("customer_reference"),
        remittance_text=remittance,
        status=BOOKED,
        account=account,
        reference_kind=kind,
    )


def _comma_amount_re(thousands: str) -> re.Pattern[str]:
    grouped = rf"[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+|" if thousands else ""
    return re.compile(rf"[+-]?(?:{grouped}[0-9]+)(?:,[0-9]+)?")


def _number(text: str, profile: CsvProfile, problems: list[str]) -> Decimal | None:
    """The signed amount written in ``text`` the profile's way, checked like every amount."""
    if not profile.decimal_comma or not text:
        return check_amount(text, CSV_AMOUNT_RE, problems)
    if not _comma_amount_re(profile.thousands_separator).fullmatch(text):
        example = "1.234,56" if profile.thousands_separator == "." else "1234,56"
        problems.append(f"amount '{text}' is not a number (expected a decimal comma, e.g. {example})")
        return None
    plain = text.replace(profile.thousands_separator, "") if profile.thousands_separator else text
    return check_amount(plain.lstrip("+").replace(",", "."), CSV_AMOUNT_RE, problems)


def signed_amount(cell: Callable[[str], str], layout: Layout, problems: list[str]) -> Decimal | None:
    """The amount with its sign (negative: money out), from whichever columns the profile uses."""
    profile = layout.profile
    indexes = layout.fit.indexes
    if "amount" not in indexes and ("debit" in indexes or "credit" in indexes):
        debit, credit = cell("debit"), cell("credit")
        if debit and credit:
            problems.append(f"both a debit ({debit}) and a credit ({credit}) amount")
            return None
        value = _number(debit or credit, profile, problems)
        if value is None:
            return None
        return -abs(value) if debit else abs(value)
    value = _number(cell("amount"), profile, problems)
    if "direction" not in indexes or value is None:
        return value
    word = cell("direction")
    column = layout.shown_name(indexes["direction"])
    if value < 0:
        problems.append(f"amount '{cell('amount')}' must not be signed: '{column}' gives the direction")
        return None
    if word.lower() in profile.credit_words:
        return value
    if word.lower() in profile.debit_words:
        return -value
    words = sorted(profile.credit_words | profile.debit_words)
    problems.append(f"{column} '{word}' is not one of {', '.join(words)}")
    return None
