"""ISO 20022 camt.053 bank statements, streamed.

camt.053
========

ISO 20022 ``BankToCustomerStatement``, any version ``camt.053.001.XX``
(``.02`` to ``.13`` are known) or without namespace.  Every
``Document/BkToCstmrStmt/Stmt/Ntry`` is one booking; N in the positions
``"entry N"`` counts ``Ntry`` elements from 1 across the whole document (all
``Stmt`` elements).

Reading.  The file is read in chunks and parsed as it comes (bytes or a binary
file); each ``Ntry`` is turned into items when its end tag arrives and then
dropped from the tree, as is every other child of ``Stmt`` once read, so memory
does not grow with the number of entries.  Documents with a DOCTYPE (and hence
entity declarations) are refused: the bytes before the root element are scanned
before the parser sees them (XML allows a DOCTYPE nowhere else; one later is
malformed XML).  Malformed
XML gives one error at ``"file"`` naming the 1-based line and column, after the
entries read before it.  Problems in an entry are one error for that entry
(several reasons joined by ``"; "``).

Field mapping (the rules live in intake.parsing.camt_entries):

* ``amount``/``currency``: ``Ntry/Amt`` and its ``Ccy``; the same amount rules as
  for CSV apply, and the amount must not be negative.
* ``credit``: ``Ntry/CdtDbtInd`` (``CRDT``/``DBIT``); ``reversal``: ``Ntry/RvslInd``.
* ``status``: ``Ntry/Sts`` (its text up to .07, ``Sts/Cd`` from .08): ``BOOK`` is
  booked, ``PDNG`` and ``FUTR`` pending, ``INFO`` info; absent means booked; any
  other code is an error for the entry.  Only booked entries are settled money.
* ``booking_date``: ``BookgDt`` (``Dt``, or the date part of ``DtTm`` as written),
  else ``ValDt`` likewise, else the date of the statement's ``FrToDt/ToDtTm``,
  else of its ``CreDtTm``; an error only if there is none of these.
* ``account``: ``Stmt/Acct/Id/IBAN``, else ``Stmt/Acct/Id/Othr/Id``.
* ``counterparty_name``: ``TxDtls/RltdPties/Dbtr`` name for money that came in
  (CRDT, or a reversed DBIT), ``Cdtr`` for money that went out, falling back to the
  other; ``Nm`` (up to .07) and ``Pty/Nm`` (.08 on).
* ``customer_reference``: the first ``TxDtls/RmtInf/Strd/CdtrRefInf/Ref``.
* ``remittance_text``: ``RmtInf/Ustrd`` (joined by a space), then every
  ``RmtInf/Strd/AddtlRmtInf``, ``TxDtls/AddtlTxInf`` and ``Ntry/AddtlNtryInf``,
  squashed, each identical text once.

Batches.  An ``Ntry`` with several ``NtryDtls/TxDtls`` that each carry an amount
(``TxDtls/Amt``, else ``AmtDtls/TxAmt/Amt``) in the entry's currency and direction,
adding up to the entry's amount, is one entry per ``TxDtls``: ``"entry N.1"``,
``"entry N.2"``, each with that transaction's parties, references and texts
(``AddtlNtryInf`` describes the whole batch and is left out, so that its invoice
numbers are not matched against every part).  If they do not add up (or an amount
is missing), the ``Ntry`` is one entry with every transaction's texts and payers,
a customer reference only if all transactions share it, and ``review`` saying why
(``"batched entry does not add up: ..."``): the importer hands it to a clerk
instead of recording it for whoever the text names first.  A
single ``TxDtls`` is read as part of its entry whatever its amount says.

References (``reference_kind`` "bank"), the bank's own first:

1. ``Ntry/AcctSvcrRef``; for a lone ``TxDtls`` then ``TxDtls/Refs/AcctSvcrRef``;
   then ``Ntry/NtryRef``.
2. A split part takes its ``TxDtls/Refs/AcctSvcrRef`` when every part has its own
   and they all differ (banks that repeat one batch id there do not name the
   parts); otherwise the entry's reference from 1. with ``/1``, ``/2``...

``TxId``, ``UETR`` and ``InstrId`` are never used: they belong to the payment, not to
the booking, and a return of that payment carries them again.  Without a bank
reference the identity is derived (``reference_kind`` "derived", see
:func:`intake.parsing.common.derived_reference`) from the account, booking date,
direction, reversal, amount, currency and status, plus

* the ``EndToEndId`` (not ``NOTPROVIDED``) when there is one: the payer chooses it,
  so it only counts together with the rest (two payers reusing one both come
  through);
* otherwise the counterparty, remittance text and customer reference.

Identical facts are told apart by their occurrence in the file, so re-reading the
file, or a longer one holding the same days, gives the same references.  A
reference already used in the file by an earlier entry of the same status is an
error for the later entry.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import cast

from intake.parsing.camt_entries import EntryReader, StatementFacts, xml_date
from intake.parsing.common import (
    ParsedStatement,
    StatementError,
    StatementItem,
    StatementSource,
    collect,
    element_text,
)

_CAMT053_NS_RE = re.compile(r"camt\.053\.001\.[0-9]{2}$")
#: Read size: big enough that parsing dominates, small enough that memory stays flat.
CHUNK_SIZE = 64 * 1024

_DOCTYPE_REASON = (
    "XML documents with a DOCTYPE or entity declarations are refused for security reasons; "
    "camt.053 files do not need them"
)
_MARKERS = [
    marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("utf-8", "utf-16-le", "utf-16-be")
]
_OVERLAP = max(len(marker) for marker in _MARKERS)


class _NotCamt(Exception):
    pass


def _contains_doctype(data: bytes) -> bool:
    return any(marker in data for marker in _MARKERS)


def parse_camt053(data: bytes) -> ParsedStatement:
    """Parse a whole ISO 20022 camt.053 BankToCustomerStatement (see module doc)."""
    return collect(iter_camt053(data), "camt053")


def iter_camt053(source: StatementSource) -> Iterator[StatementItem]:
    """The entries and errors of a camt.053 statement (see module doc), in file order, streamed."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    walker = _Walker()
    # The element events are collected by the C parser (no Python call per element: a third of
    # the reading's time). A DOCTYPE can only stand before the root element, and every byte
    # before it is scanned for one before the parser sees it.
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    tail = b""  # the end of the bytes before the root element, for markers split across chunks
    seen_content = False
    try:
        while chunk := stream.read(CHUNK_SIZE):
            seen_content = seen_content or bool(chunk.strip())
            if not walker.started:
                if _contains_doctype(tail + chunk):
                    yield StatementError("file", _DOCTYPE_REASON)
                    return
                tail = (tail + chunk)[-_OVERLAP:]
            yield from _read(walker, parser, chunk)
        if not seen_content:
            yield StatementError("file", "file is empty")
            return
        yield from _read(walker, parser, None)
        walker.finish()
    except _NotCamt as exc:
        yield StatementError("file", str(exc))
    except ET.ParseError as exc:
        line, column = exc.position
        what = re.sub(r": line \d+, column \d+$", "", exc.msg)
        yield StatementError("file", f"malformed XML at line {line}, column {column + 1}: {what}")


def _read(walker: _Walker, parser: ET.XMLPullParser[ET.Element], chunk: bytes | None) -> Iterator[StatementItem]:
    """Feed the chunk (None: the end of the file) and walk the elements it completed; if the
    parser stopped on an error, the entries completed before it count, then the error is raised."""
    error: ET.ParseError | None = None
    try:
        if chunk is None:
            parser.close()
        else:
            parser.feed(chunk)
    except ET.ParseError as exc:  # close() raises at once
        error = exc
    events: list[tuple[str, ET.Element]] = []
    try:
        # With only "start" and "end" asked for, every event is (that word, its element).
        events.extend(cast("Iterator[tuple[str, ET.Element]]", parser.read_events()))
    except ET.ParseError as exc:  # feed() queues its error behind the elements completed before it
        error = exc
    try:
        yield from walker.walk(events)
    except _NotCamt:
        if error is None:
            raise
        # a broken file is reported as broken, not as the wrong kind of document
    if error is not None:
        raise error


class _Walker:
    """Follows the element events: checks the root, reads each Stmt's facts, hands each Ntry on, prunes."""

    def __init__(self) -> None:
        self.started = False
        self._stack: list[ET.Element] = []
        self._prefix = ""
        self._names: dict[str, str] = {}
        self._entries: EntryReader | None = None
        self._statement_seen = False
        self._facts = StatementFacts()
        self._number = 0

    def walk(self, events: list[tuple[str, ET.Element]]) -> Iterator[StatementItem]:
        stack = self._stack
        for event, element in events:
            if event == "start":
                stack.append(element)
                depth = len(stack)
                if depth == 1:
                    self._root(element.tag)
                elif depth == 2 and element.tag == self._names["BkToCstmrStmt"]:
                    self._statement_seen = True
                elif depth == 3 and element.tag == self._names["Stmt"] and self._in_statement():
                    self._facts = StatementFacts()
                continue
            stack.pop()
            depth = len(stack)
            if depth == 3 and stack[2].tag == self._names["Stmt"] and self._in_statement():
                if element.tag == self._names["Ntry"]:
                    self._number += 1
                    assert self._entries is not None
                    yield from self._entries.items(element, self._number, self._facts)
                else:
                    self._statement_fact(element)
                stack[2].remove(element)  # read: drop it, so the tree stays as small as one entry
            elif depth in (1, 2):
                stack[-1].remove(element)

    def finish(self) -> None:
        if not self._statement_seen:
            raise _NotCamt("not a camt.053 statement: no BkToCstmrStmt element")

    def _in_statement(self) -> bool:
        return self._stack[1].tag == self._names["BkToCstmrStmt"]

    def _root(self, tag: str) -> None:
        self.started = True
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if local != "Document":
            raise _NotCamt(f"root element is '{local}', expected camt.053 'Document'")
        if namespace and not _CAMT053_NS_RE.search(namespace):
            raise _NotCamt(f"not a camt.053 statement: document namespace is '{namespace}'")
        self._prefix = f"{{{namespace}}}" if namespace else ""
        names = ("BkToCstmrStmt", "Stmt", "Ntry", "Acct", "FrToDt", "CreDtTm")
        self._names = {name: self._prefix + name for name in names}
        self._entries = EntryReader(self._prefix)

    def _statement_fact(self, element: ET.Element) -> None:
        p = self._prefix
        if element.tag == self._names["Acct"]:
            self._facts.account = element_text(element.find(f"{p}Id/{p}IBAN")) or element_text(
                element.find(f"{p}Id/{p}Othr/{p}Id")
            )
        elif element.tag == self._names["FrToDt"]:
            self._facts.to_date = xml_date(element_text(element.find(f"{p}ToDtTm")))
        elif element.tag == self._names["CreDtTm"]:
            self._facts.created = xml_date(element_text(element))
