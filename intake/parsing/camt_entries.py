"""One camt.053 ``Ntry`` element into statement entries and errors (the rules are in intake.parsing.camt).

Kept apart from the streaming in intake.parsing.camt because this is where the banking
rules live (batches, references, dates, texts, status), while that module only decides
which elements are entries and keeps memory flat.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from intake.parsing.common import (
    BOOKED,
    CAMT_AMOUNT_RE,
    INFO,
    PENDING,
    XML_DATE_RE,
    Occurrences,
    StatementEntry,
    StatementError,
    StatementItem,
    check_amount,
    check_currency,
    check_date,
    derived_reference,
    element_text,
    squash,
)

_NOT_PROVIDED = "NOTPROVIDED"
#: ``Sts`` codes (ExternalEntryStatus1Code); FUTR (value at a future date) is not settled money yet.
_STATUSES = {"BOOK": BOOKED, "PDNG": PENDING, "INFO": INFO, "FUTR": PENDING}
_NOT_ADDING_UP = "batched entry does not add up: "


@dataclass
class StatementFacts:
    """What an entry needs from its ``Stmt``: the account and the dates a booking date may fall back to."""

    account: str = ""
    to_date: datetime.date | None = None
    created: datetime.date | None = None


def xml_date(text: str) -> datetime.date | None:
    """The date of an xs:date or xs:dateTime as written (no time zone conversion), None if it is neither."""
    match = XML_DATE_RE.fullmatch(text)
    try:
        if match:
            return datetime.date.fromisoformat(match.group(1))
        return datetime.datetime.fromisoformat(text).date() if text else None
    except ValueError:
        return None


@dataclass
class _Part:
    """One entry to yield: the whole ``Ntry`` or one ``TxDtls`` of a split batch."""

    position: str
    amount: Decimal
    counterparty: str
    customer_reference: str
    remittance: str
    bank_reference: str = ""
    end_to_end: str = ""


class EntryReader:
    """Turns ``Ntry`` elements into items; remembers references and derived-fact counts across one file."""

    def __init__(self, prefix: str) -> None:
        self._p = prefix
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._seen: dict[tuple[str, str], str] = {}  # (status, reference) -> position
        self._occurrences = Occurrences()

    def _find(self, element: ET.Element | None, *names: str) -> ET.Element | None:
        # one tag at a time: Element.find with a plain tag stays in C, a path goes through ElementPath
        tags = self._names.get(names)
        if tags is None:
            tags = self._names[names] = tuple(self._p + name for name in names)
        for tag in tags:
            if element is None:
                return None
            element = element.find(tag)
        return element

    def _findall(self, element: ET.Element, *names: str) -> list[ET.Element]:
        parents = [element]
        for name in names:
            parents = [child for parent in parents for child in parent.iterfind(self._p + name)]
        return parents

    def _text(self, element: ET.Element, *names: str) -> str:
        return element_text(self._find(element, *names))

    def items(self, ntry: ET.Element, number: int, stmt: StatementFacts) -> Iterator[StatementItem]:
        """The entries (one, or one per TxDtls of a batch) and errors of the ``number``-th ``Ntry``.

        A problem with the entry's own fields rejects it whole: a part of a broken entry
        would be money recorded on a guess.
        """
        position = f"entry {number}"
        problems: list[str] = []
        amount, currency = self._amount(ntry, problems, "Amt")
        credit = self._direction(ntry, problems)
        raw_reversal = self._text(ntry, "RvslInd")
        reversal = raw_reversal.lower() in ("true", "1")
        if raw_reversal.lower() not in ("", "true", "1", "false", "0"):
            problems.append(f"reversal indicator '{raw_reversal}' is not true or false")
        status = self._status(ntry, problems)
        booking_date = self._booking_date(ntry, stmt, problems)
        if problems:
            yield StatementError(position, "; ".join(problems))
            return
        # No problem means every check above returned its value.
        assert amount is not None and currency is not None and credit is not None and booking_date is not None

        txs = self._findall(ntry, "NtryDtls", "TxDtls")
        entry_text = self._text(ntry, "AddtlNtryInf")
        not_adding_up = self._why_not_split(txs, amount, currency, credit) if len(txs) > 1 else None
        if not_adding_up is None and len(txs) > 1:
            parts = self._split(ntry, txs, position, credit != reversal)
        else:
            parts = [self._whole(ntry, txs, position, amount, credit != reversal, entry_text)]

        for part in parts:
            facts = (stmt.account, booking_date, credit, reversal, part.amount, currency, status)
            kind = "bank"
            reference = part.bank_reference
            if not reference:
                kind = "derived"
                if part.end_to_end:  # chosen by the payer: only unique together with account, date and amount
                    key: tuple[object, ...] = ("EndToEndId", part.end_to_end, *facts)
                else:
                    key = ("entry", *facts, part.counterparty, part.remittance, part.customer_reference)
                reference = derived_reference(*key, occurrence=self._occurrences.next(*key))
            seen = self._seen.get((status, reference))
            if seen is not None:
                yield StatementError(
                    part.position, f"duplicate bank reference '{reference}' (already in {seen}); entry skipped"
                )
                continue
            self._seen[(status, reference)] = part.position
            yield StatementEntry(
                position=part.position,
                bank_reference=reference,
                booking_date=booking_date,
                amount=part.amount,
                currency=currency,
                credit=credit,
                reversal=reversal,
                counterparty_name=part.counterparty,
                customer_reference=part.customer_reference,
                remittance_text=part.remittance,
                status=status,
                account=stmt.account,
                reference_kind=kind,
                review=_NOT_ADDING_UP + not_adding_up if not_adding_up is not None else "",
            )

    # -- the entry's own fields ------------------------------------------------------------

    def _amount(self, element: ET.Element, problems: list[str], *path: str) -> tuple[Decimal | None, str | None]:
        amount_el = self._find(element, *path)
        if amount_el is None:
            problems.append(f"missing amount ({'/'.join(path)})")
            return None, None
        raw_amount = element_text(amount_el)
        amount = None
        if raw_amount.startswith("-"):
            problems.append(f"amount '{raw_amount}' must not be negative (CdtDbtInd gives the direction)")
        else:
            amount = check_amount(raw_amount, CAMT_AMOUNT_RE, problems)
        currency = check_currency((amount_el.get("Ccy") or "").strip(), problems, "missing currency (Amt/@Ccy)")
        return amount, currency

    def _direction(self, element: ET.Element, problems: list[str]) -> bool | None:
        indicator = self._text(element, "CdtDbtInd")
        if not indicator:
            problems.append("missing credit/debit indicator (CdtDbtInd)")
        elif indicator.upper() in ("CRDT", "DBIT"):
            return indicator.upper() == "CRDT"
        else:
            problems.append(f"unknown credit/debit indicator '{indicator}'")
        return None

    def _status(self, ntry: ET.Element, problems: list[str]) -> str:
        sts = self._find(ntry, "Sts")
        if sts is None:
            return BOOKED
        # up to .07 the code is the element's text; from .08 on it is in Sts/Cd (or Sts/Prtry)
        code = element_text(self._find(sts, "Cd")) or element_text(sts)
        if code.upper() in _STATUSES:
            return _STATUSES[code.upper()]
        proprietary = element_text(self._find(sts, "Prtry"))
        problems.append(f"unknown entry status '{code or proprietary}' (Sts: expected BOOK, PDNG, INFO or FUTR)")
        return BOOKED

    def _booking_date(self, ntry: ET.Element, stmt: StatementFacts, problems: list[str]) -> datetime.date | None:
        for element, what in (("BookgDt", "booking date"), ("ValDt", "value date")):
            raw_date = self._text(ntry, element, "Dt")
            raw_datetime = self._text(ntry, element, "DtTm")
            if raw_date:
                return check_date(raw_date, XML_DATE_RE, what, problems)
            if raw_datetime:
                try:
                    return datetime.datetime.fromisoformat(raw_datetime).date()
                except ValueError:
                    problems.append(f"{what}-time '{raw_datetime}' is not a valid ISO date-time")
                    return None
        if stmt.to_date or stmt.created:
            return stmt.to_date or stmt.created
        problems.append("missing booking date (BookgDt, ValDt, nor the statement's FrToDt/ToDtTm or CreDtTm)")
        return None

    # -- batches -----------------------------------------------------------------------------

    def _why_not_split(self, txs: list[ET.Element], amount: Decimal, currency: str, credit: bool) -> str | None:
        """None when every TxDtls carries its own amount and they add up to the entry, else why not."""
        total = Decimal(0)
        for index, tx in enumerate(txs, start=1):
            problems: list[str] = []
            tx_amount, tx_currency = self._tx_amount(tx, problems)
            tx_indicator = self._text(tx, "CdtDbtInd").upper()
            if problems or tx_amount is None:
                return f"transaction {index} of {len(txs)} (TxDtls) has no usable amount ({'; '.join(problems)})"
            if tx_currency != currency:
                return f"transaction {index} of {len(txs)} is in {tx_currency}, the entry in {currency}"
            if tx_indicator and tx_indicator != ("CRDT" if credit else "DBIT"):
                return f"transaction {index} of {len(txs)} goes the other way ({tx_indicator})"
            total += tx_amount
        if total != amount:
            return f"its {len(txs)} transactions (TxDtls) total {total} {currency}, the entry is {amount} {currency}"
        return None

    def _tx_amount(self, tx: ET.Element, problems: list[str]) -> tuple[Decimal | None, str | None]:
        # TxDtls/Amt from .04 on; AmtDtls/TxAmt/Amt (the amount booked to this account) in every version
        if self._find(tx, "Amt") is not None:
            return self._amount(tx, problems, "Amt")
        return self._amount(tx, problems, "AmtDtls", "TxAmt", "Amt")

    def _split(self, ntry: ET.Element, txs: list[ET.Element], position: str, came_in: bool) -> list[_Part]:
        own_refs = [self._text(tx, "Refs", "AcctSvcrRef") for tx in txs]
        entry_ref = self._text(ntry, "AcctSvcrRef") or self._text(ntry, "NtryRef")
        # A bank that repeats one reference on every TxDtls (a batch id) does not name the parts.
        per_tx = all(own_refs) and len(set(own_refs)) == len(own_refs) and entry_ref not in own_refs
        parts = []
        for index, tx in enumerate(txs, start=1):
            tx_amount, _ = self._tx_amount(tx, [])
            assert tx_amount is not None  # _why_not_split checked every amount
            counterparty, customer_reference, texts = self._tx_texts(tx, came_in)
            reference = own_refs[index - 1] if per_tx else (f"{entry_ref}/{index}" if entry_ref else "")
            parts.append(
                _Part(
                    position=f"{position}.{index}",
                    amount=tx_amount,
                    counterparty=counterparty,
                    customer_reference=customer_reference,
                    remittance=_join_texts(texts),
                    bank_reference=reference,
                    end_to_end=self._end_to_end(tx),
                )
            )
        return parts

    def _whole(
        self, ntry: ET.Element, txs: list[ET.Element], position: str, amount: Decimal, came_in: bool, entry_text: str
    ) -> _Part:
        names: list[str] = []
        customer_references: list[str] = []
        texts: list[str] = []
        for tx in txs:
            counterparty, customer_reference, tx_texts = self._tx_texts(tx, came_in)
            names.append(counterparty)
            customer_references.append(customer_reference)
            texts.extend(tx_texts)
        single = txs[0] if len(txs) == 1 else None
        reference = (
            self._text(ntry, "AcctSvcrRef")
            or (self._text(single, "Refs", "AcctSvcrRef") if single is not None else "")
            or self._text(ntry, "NtryRef")
        )
        return _Part(
            position=position,
            amount=amount,
            # an unsplit batch names every payer, and a customer reference only when all agree
            counterparty="; ".join(dict.fromkeys(name for name in names if name)),
            customer_reference=customer_references[0] if len(set(customer_references)) == 1 else "",
            remittance=_join_texts([*texts, entry_text]),
            bank_reference=reference,
            end_to_end=self._end_to_end(single) if single is not None else "",
        )

    # -- a transaction's texts ----------------------------------------------------------------

    def _end_to_end(self, tx: ET.Element) -> str:
        end_to_end = self._text(tx, "Refs", "EndToEndId")
        return "" if end_to_end.upper() == _NOT_PROVIDED else end_to_end

    def _tx_texts(self, tx: ET.Element, came_in: bool) -> tuple[str, str, list[str]]:
        """Counterparty, customer reference and remittance texts (Ustrd, Strd/AddtlRmtInf, AddtlTxInf)."""
        debtor, creditor = self._party(tx, "Dbtr"), self._party(tx, "Cdtr")
        # money that came in (CRDT, or a reversed DBIT) names its payer as debtor
        counterparty = (debtor or creditor) if came_in else (creditor or debtor)
        customer_reference = self._text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref")
        unstructured = " ".join(element_text(u) for u in self._findall(tx, "RmtInf", "Ustrd"))
        structured = [element_text(t) for t in self._findall(tx, "RmtInf", "Strd", "AddtlRmtInf")]
        return squash(counterparty), customer_reference, [unstructured, *structured, self._text(tx, "AddtlTxInf")]

    def _party(self, tx: ET.Element, role: str) -> str:
        # Dbtr/Nm up to .07, Dbtr/Pty/Nm from .08 on
        return self._text(tx, "RltdPties", role, "Pty", "Nm") or self._text(tx, "RltdPties", role, "Nm")


def _join_texts(texts: list[str]) -> str:
    """The texts in order, squashed, each identical text once."""
    return " ".join(dict.fromkeys(text for text in (squash(t) for t in texts) if text))
