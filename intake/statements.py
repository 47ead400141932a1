"""Bank statement intake: parse CSV and camt.053 statements into plain entries.

Pure Python, standard library only, no Django and no database: the functions
here turn the bytes of an uploaded statement into :class:`StatementEntry`
values plus a list of :class:`StatementError` values that a person can act on.
Storing entries, matching them to invoices and skipping entries that were
already imported from an earlier (overlapping) statement is the caller's job;
``bank_reference`` is the key to do that with.

Amounts are always :class:`decimal.Decimal` built from the text of the file;
no float is ever involved.

The formats are documented where they are parsed: intake.parsing.bank_csv (CSV) and
intake.parsing.camt (camt.053); intake.parsing.common holds what they share.
"""

from __future__ import annotations

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

__all__ = [
    "INVOICE_NUMBER_RE",
    "ParsedStatement",
    "StatementEntry",
    "StatementError",
    "find_invoice_numbers",
    "iter_statement",
    "parse_camt053",
    "parse_csv",
    "parse_statement",
]

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


def detect_format(head: bytes, *, format: str | None = None, filename: str | None = None) -> str:
    """The format to parse with: ``format`` if given, else guessed from the file's first bytes and name.

    ``format`` is ``"csv"`` or ``"camt053"`` (``"camt.053"``, ``"camt"`` and
    ``"xml"`` are accepted too).  Without it, content that starts with ``<``
    (after an optional byte order mark and whitespace) is camt.053; otherwise a
    ``.xml`` filename means camt.053 and anything else CSV. An unknown ``format``
    raises ValueError.
    """
    if format is not None:
        key = format.strip().lower().replace(".", "").replace("_", "").replace("-", "")
        if key not in _FORMAT_ALIASES:
            raise ValueError(f"unknown statement format {format!r}; use 'csv' or 'camt053'")
        return _FORMAT_ALIASES[key]
    if _looks_like_xml(head) or (filename and filename.lower().endswith(".xml")):
        return "camt053"
    return "csv"


_PARSERS = {"csv": iter_csv, "camt053": iter_camt053}


def iter_statement(
    source: StatementSource, *, format: str | None = None, filename: str | None = None
) -> tuple[str, Iterator[StatementItem]]:
    """The chosen format and the statement's entries and errors as a stream, in file order.

    ``source`` is the bytes or a binary file (read from its current position; the
    first bytes are peeked to detect the format).
    """
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
    return chosen, _PARSERS[chosen](source)


def parse_statement(data: bytes, *, format: str | None = None, filename: str | None = None) -> ParsedStatement:
    """Parse a whole statement (see :func:`detect_format` for how the format is chosen)."""
    chosen, items = iter_statement(data, format=format, filename=filename)
    return collect(items, chosen)
