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

from allocations.rules import INVOICE_NUMBER_RE, find_invoice_numbers
from intake.parsing.bank_csv import parse_csv
from intake.parsing.camt import parse_camt053
from intake.parsing.common import ParsedStatement, StatementEntry, StatementError

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
