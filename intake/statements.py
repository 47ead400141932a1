"""Bank statement intake: parse CSV, camt.053 and MT940 statements into plain entries.

Pure Python, standard library only, no Django and no database: the functions
here turn the bytes of an uploaded statement into :class:`StatementEntry`
values plus a list of :class:`StatementError` values that a person can act on.
Storing entries, matching them to invoices and skipping entries that were
already imported from an earlier (overlapping) statement is the caller's job;
``bank_reference`` is the key to do that with.

Amounts are always :class:`decimal.Decimal` built from the text of the file;
no float is ever involved.

The formats are documented where they are parsed: intake.parsing.bank_csv (CSV, with
the bank layouts in intake.parsing.csv_profiles), intake.parsing.camt (camt.053) and
intake.parsing.mt940_statements (MT940); intake.parsing.common holds what they share.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from allocations.rules import INVOICE_NUMBER_RE, find_invoice_numbers
from intake.parsing.bank_csv import iter_csv, parse_csv
from intake.parsing.camt import iter_camt053, parse_camt053
from intake.parsing.common import (
    ParsedStatement,
    StatementEntry,
    StatementError,
    StatementItem,
    StatementSource,
    collect,
)
from intake.parsing.csv_profiles import CSV_PROFILES, CsvProfile, get_profile
from intake.parsing.mt940_statements import iter_mt940

__all__ = [
    "CSV_PROFILES",
    "CsvProfile",
    "INVOICE_NUMBER_RE",
    "ParsedStatement",
    "StatementEntry",
    "StatementError",
    "find_invoice_numbers",
    "iter_mt940",
    "iter_statement",
    "parse_camt053",
    "parse_csv",
    "parse_statement",
]

_FORMAT_ALIASES = {
    "csv": "csv",
    "camt053": "camt053",
    "camt": "camt053",
    "xml": "camt053",
    "mt940": "mt940",
    "sta": "mt940",
    "swift": "mt940",
}
_MT940_SUFFIXES = (".sta", ".940", ".mt940")
# A SWIFT envelope "{1:" or the statement's ":20:" line first, or both a ":20:" and a ":25:"
# line near the top (ABN AMRO puts "ABNANL2A" / "940" lines before the first ":20:").
_MT940_START_RE = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?::20:|\{1:)")
_MT940_TAGS_RE = (re.compile(rb"(?m)^:20:"), re.compile(rb"(?m)^:25:"))


def _looks_like_xml(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").lstrip().startswith("<")
        except UnicodeDecodeError:
            return False
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.lstrip().startswith(b"<")


def detect_format(head: bytes, *, format: str | None = None, filename: str | None = None) -> str:
    """The format to parse with: ``format`` if given, else guessed from the file's first bytes and name.

    ``format`` is ``"csv"``, ``"camt053"`` (``"camt.053"``, ``"camt"`` and
    ``"xml"`` are accepted too) or ``"mt940"`` (``"sta"``, ``"swift"``).
    Without it, content that starts with ``<`` (after an optional byte order
    mark and whitespace) is camt.053; content that starts with ``:20:`` or a
    SWIFT ``{1:`` block, or has ``:20:`` and ``:25:`` lines, is MT940; then a
    ``.xml`` filename means camt.053, ``.sta``, ``.940`` or ``.mt940`` MT940,
    and anything else CSV. An unknown ``format`` raises ValueError.
    """
    if format is not None:
        key = format.strip().lower().replace(".", "").replace("_", "").replace("-", "")
        if key not in _FORMAT_ALIASES:
            raise ValueError(f"unknown statement format {format!r}; use 'csv', 'camt053' or 'mt940'")
        return _FORMAT_ALIASES[key]
    if _looks_like_xml(head):
        return "camt053"
    if _MT940_START_RE.match(head) or all(tag.search(head) for tag in _MT940_TAGS_RE):
        return "mt940"
    name = (filename or "").lower()
    if name.endswith(".xml"):
        return "camt053"
    if name.endswith(_MT940_SUFFIXES):
        return "mt940"
    return "csv"


def iter_statement(
    source: StatementSource,
    *,
    format: str | None = None,
    profile: str | None = None,
    filename: str | None = None,
) -> tuple[str, Iterator[StatementItem]]:
    """The chosen format and the statement's entries and errors as a stream, in file order.

    ``source`` is the bytes or a binary file (read from its current position; the
    first bytes are peeked to detect the format). ``profile`` names the CSV
    layout (a key of :data:`CSV_PROFILES`; an unknown one raises ValueError
    naming the known ones); None lets a CSV file pick the one profile its header
    fits, Settle's own first. Other formats ignore it.
    """
    csv_profile: CsvProfile | None = get_profile(profile) if profile is not None else None
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    if isinstance(source, bytes):
        head = source[:4096]
    elif hasattr(source, "read"):
        position = source.tell()
        head = source.read(4096)
        source.seek(position)
    else:
        raise TypeError(f"statement data must be bytes or a binary file, not {type(source).__name__}")
    chosen = detect_format(head, format=format, filename=filename)
    if chosen == "csv":
        return chosen, iter_csv(source, csv_profile)
    return chosen, (iter_camt053 if chosen == "camt053" else iter_mt940)(source)


def parse_statement(
    data: bytes, *, format: str | None = None, profile: str | None = None, filename: str | None = None
) -> ParsedStatement:
    """Parse a whole statement (see :func:`detect_format` for how the format is chosen)."""
    chosen, items = iter_statement(data, format=format, profile=profile, filename=filename)
    return collect(items, chosen)
