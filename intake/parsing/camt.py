"""ISO 20022 camt.053 bank statements.

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

import datetime
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from intake.parsing.common import (
    CAMT_AMOUNT_RE,
    XML_DATE_RE,
    ParsedStatement,
    StatementEntry,
    StatementError,
    StatementItem,
    StatementSource,
    as_items,
    check_amount,
    check_currency,
    check_date,
    element_text,
    file_error,
    read_all,
    squash,
)

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


def iter_camt053(source: StatementSource) -> Iterator[StatementItem]:
    """The entries and errors of a camt.053 statement (see module doc), in file order."""
    yield from as_items(parse_camt053(read_all(source)))


def parse_camt053(data: bytes) -> ParsedStatement:
    """Parse an ISO 20022 camt.053 BankToCustomerStatement (see module doc)."""
    data = bytes(data)
    if not data.strip():
        return file_error("camt053", "file is empty")
    if _contains_doctype(data):
        return file_error("camt053", _DOCTYPE_REASON)
    parser = ET.XMLParser(target=_NoDoctypeTreeBuilder())
    try:
        parser.feed(data)
        root = parser.close()
    except _DoctypeRefused:
        return file_error("camt053", _DOCTYPE_REASON)
    except ET.ParseError as exc:
        line, column = exc.position
        what = re.sub(r": line \d+, column \d+$", "", exc.msg)
        return file_error("camt053", f"malformed XML at line {line}, column {column + 1}: {what}")

    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document":
        return file_error("camt053", f"root element is '{local}', expected camt.053 'Document'")
    if namespace and not _CAMT053_NS_RE.search(namespace):
        return file_error("camt053", f"not a camt.053 statement: document namespace is '{namespace}'")
    prefix = f"{{{namespace}}}" if namespace else ""

    def path(*names: str) -> str:
        return "/".join(prefix + name for name in names)

    statement = root.find(path("BkToCstmrStmt"))
    if statement is None:
        return file_error("camt053", "not a camt.053 statement: no BkToCstmrStmt element")

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
            raw_amount = element_text(amount_el)
            if raw_amount.startswith("-"):
                problems.append(f"amount '{raw_amount}' must not be negative (CdtDbtInd gives the direction)")
            else:
                amount = check_amount(raw_amount, CAMT_AMOUNT_RE, problems)
            currency = check_currency((amount_el.get("Ccy") or "").strip(), problems, "missing currency (Amt/@Ccy)")

        indicator = element_text(ntry.find(path("CdtDbtInd")))
        credit = None
        if not indicator:
            problems.append("missing credit/debit indicator (CdtDbtInd)")
        elif indicator.upper() in ("CRDT", "DBIT"):
            credit = indicator.upper() == "CRDT"
        else:
            problems.append(f"unknown credit/debit indicator '{indicator}'")

        raw_reversal = element_text(ntry.find(path("RvslInd")))
        reversal = raw_reversal.lower() in ("true", "1")
        if raw_reversal.lower() not in ("", "true", "1", "false", "0"):
            problems.append(f"reversal indicator '{raw_reversal}' is not true or false")

        booking_date = None
        raw_date = element_text(ntry.find(path("BookgDt", "Dt")))
        raw_datetime = element_text(ntry.find(path("BookgDt", "DtTm")))
        if raw_date:
            booking_date = check_date(raw_date, XML_DATE_RE, "booking date", problems)
        elif raw_datetime:
            try:
                booking_date = datetime.datetime.fromisoformat(raw_datetime).date()
            except ValueError:
                problems.append(f"booking date-time '{raw_datetime}' is not a valid ISO date-time")
        else:
            problems.append("missing booking date (BookgDt/Dt or BookgDt/DtTm)")

        tx = ntry.find(path("NtryDtls", "TxDtls"))
        end_to_end = element_text(tx.find(path("Refs", "EndToEndId"))) if tx is not None else ""
        if end_to_end.upper() == _NOT_PROVIDED:
            end_to_end = ""
        reference = (
            element_text(ntry.find(path("AcctSvcrRef"))) or element_text(ntry.find(path("NtryRef"))) or end_to_end
        )
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
                return element_text(tx.find(path("RltdPties", role, "Pty", "Nm"))) or element_text(
                    tx.find(path("RltdPties", role, "Nm"))
                )

            debtor, creditor = party_name("Dbtr"), party_name("Cdtr")
            money_came_in = credit != reversal  # a reversed DBIT undoes an incoming payment
            counterparty = (debtor or creditor) if money_came_in else (creditor or debtor)
            customer_reference = element_text(tx.find(path("RmtInf", "Strd", "CdtrRefInf", "Ref")))
            remittance = squash(" ".join(element_text(u) for u in tx.iterfind(path("RmtInf", "Ustrd"))))

        entries.append(
            StatementEntry(
                position=position,
                bank_reference=reference,
                booking_date=booking_date,
                amount=amount,
                currency=currency,
                credit=credit,
                reversal=reversal,
                counterparty_name=squash(counterparty),
                customer_reference=customer_reference,
                remittance_text=remittance,
            )
        )

    return ParsedStatement(entries=entries, errors=errors, format="camt053")
