"""What every statement parser shares: the entry and error values, and the field checks.

Pure Python, standard library only, no Django and no database. Amounts are always
:class:`decimal.Decimal` built from the text of the file; no float is ever involved.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

from billing.errors import InvalidAmount
from billing.money import parse_decimal


@dataclass(frozen=True, slots=True)
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
    #: The bank's status of the booking: only BOOKED entries are settled money.
    status: str = "booked"
    #: The statement's own account (IBAN or the bank's account id), when the file names it.
    account: str = ""
    #: Where ``bank_reference`` came from: "bank" (the bank's own reference) or "derived"
    #: (made by :func:`derived_reference` because the bank gave none).
    reference_kind: str = "bank"
    #: Why a person must look at this entry before anything is recorded ("" when nothing is wrong),
    #: e.g. a batched credit whose parts do not add up to it.
    review: str = ""


BOOKED = "booked"
PENDING = "pending"
INFO = "info"


@dataclass(frozen=True)
class StatementError:
    position: str
    reason: str


#: What the ``iter_*`` parsers yield, in file order: an entry, or an error at "file" or at an entry.
StatementItem = StatementEntry | StatementError
#: A statement to parse: its bytes, or a binary file open for reading (streamed where the format allows).
StatementSource = bytes | BinaryIO


@dataclass(frozen=True)
class ParsedStatement:
    entries: list[StatementEntry]
    errors: list[StatementError]
    format: str


CURRENCY_RE = re.compile(r"[A-Za-z]{3}")
CSV_DATE_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")
XML_DATE_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")  # xs:date
CSV_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
CAMT_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CENT = Decimal("0.01")
_MAX_DECIMALS = 2
# Settle stores money as DecimalField(max_digits=14, decimal_places=2).
_MAX_INTEGER_DIGITS = 12
_TOO_LARGE = Decimal(10) ** _MAX_INTEGER_DIGITS


def check_amount(text: str, pattern: re.Pattern[str], problems: list[str]) -> Decimal | None:
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


def check_currency(text: str, problems: list[str], missing: str = "missing currency") -> str | None:
    if not text:
        problems.append(missing)
        return None
    if not CURRENCY_RE.fullmatch(text):
        problems.append(f"currency '{text}' is not a 3-letter ISO code")
        return None
    return text.upper()


def check_date(text: str, pattern: re.Pattern[str], what: str, problems: list[str]) -> datetime.date | None:
    match = pattern.fullmatch(text)
    if match:
        try:
            return datetime.date.fromisoformat(match.group(1))
        except ValueError:
            pass
    problems.append(f"{what} '{text}' is not a valid YYYY-MM-DD date")
    return None


def element_text(element: ET.Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()


def squash(text: str) -> str:
    """Collapse line breaks and runs of whitespace to single spaces."""
    return " ".join(text.split())


def collect(items: Iterable[StatementItem], format: str) -> ParsedStatement:
    """A whole ParsedStatement from a parser's stream of items."""
    entries: list[StatementEntry] = []
    errors: list[StatementError] = []
    for item in items:
        (entries if isinstance(item, StatementEntry) else errors).append(item)  # type: ignore[arg-type]
    return ParsedStatement(entries=entries, errors=errors, format=format)


def read_all(source: StatementSource) -> bytes:
    return source if isinstance(source, bytes) else source.read()


def as_items(parsed: ParsedStatement) -> Iterator[StatementItem]:
    """A parsed statement as a stream again (errors first): for parsers that read the whole file."""
    yield from parsed.errors
    yield from parsed.entries


# --------------------------------------------------------------------------
# A stable identity when the bank gives no reference
# --------------------------------------------------------------------------

DERIVED_PREFIX = "D:"


def derived_reference(*facts: object, occurrence: int) -> str:
    """The identity of a booking whose bank gave no reference of its own.

    A digest of the booking's facts (callers pass the account, booking date,
    direction, amount, currency, counterparty and text, and whatever else the
    format offers) and its ``occurrence``: 1 for the first entry with exactly these
    facts in the file, 2 for the second, and so on. The same booking exported again,
    alone or inside a longer (overlapping) statement, gets the same identity, so it
    is recorded once; two identical payments on one day stay two. ``D:`` and 40 hex
    digits, within the 100 characters of a bank reference.
    """
    text = "\x1f".join(str(fact) for fact in facts) + f"\x1f#{occurrence}"
    return DERIVED_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


class Occurrences:
    """Counts how often the same facts came up in one file, for :func:`derived_reference`."""

    def __init__(self) -> None:
        self._seen: dict[tuple[object, ...], int] = {}

    def next(self, *facts: object) -> int:
        count = self._seen.get(facts, 0) + 1
        self._seen[facts] = count
        return count
