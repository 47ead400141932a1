"""SWIFT MT940 bank statements, read with the ``mt-940`` library (import name ``mt940``).

MT940
=====

A file holds one or more statements, each starting with ``:20:``; text before
the first ``:20:`` (a SWIFT envelope, ABN AMRO's ``ABNANL2A/940`` lines) is
ignored.  Every ``:61:`` statement line becomes one entry; positions are
``"entry N"``, N counting ``:61:`` lines from 1 across the whole file.  The
file is decoded as UTF-8, else Windows-1252 / ISO-8859-1.

Field mapping:

* ``booking_date``: the entry date of ``:61:`` (MMDD; its year taken from the
  value date, corrected across a year end by the library), else the value date.
  A value date of 30 or 31 February (some banks date interest on 30-day months)
  is read as the month's last day (the library's date fix-up).
* ``amount``, ``credit``, ``reversal``: the ``:61:`` amount and its mark:
  ``C`` credit, ``D`` debit, ``RC`` a reversal of a credit (money out,
  ``credit`` False), ``RD`` a reversal of a debit (money in).  The same amount
  rules as for CSV apply.
* ``currency``: the statement's, from its balances (``:60F:`` and others).
* ``account``: ``:25:`` with spaces removed, and without the statement's
  currency when it ends in it (ING writes ``NL20INGB0001234567EUR``).
* ``status``: always booked (MT940 is the booked statement; interim MT942
  reports are not read here).
* ``bank_reference``: the bank's reference after ``//`` in ``:61:``
  (``reference_kind`` "bank").  Without one the reference is derived as for
  CSV (see intake.parsing.bank_csv) from the account, booking date, direction,
  amount, currency, counterparty, remittance text and the ``:61:`` customer
  reference (``NONREF`` does not count).  The customer reference is the
  account owner's or the payer's choice, so it is never the identity alone: two
  payers may use the same one (issue 10 item 5 found that for EndToEndId).
* ``counterparty_name`` and ``remittance_text`` from ``:86:``: German
  structured details (``166?00GUTSCHRIFT?20...``) give the name from ``?32``
  and ``?33`` and the text from ``?20``-``?29`` and ``?60``-``?63``, cut to
  the ``SVWZ+`` part when there is one; Dutch/SWIFT keyword details
  (``/NAME/``, ``/REMI/``, ``/CNTP/``, ``/ORDP/``, ``/BENM/``) give the name
  and the text, and ``/REMI/STRD/CUR/<ref>`` the ``customer_reference``;
  anything else is the remittance text as it stands.  Line breaks and runs of
  spaces become single spaces.

A statement whose tags the library cannot read is one error at
``"statement N"``; a ``:61:`` line it cannot read is that entry's error and the
other entries are still read.  A file without any ``:20:`` line is not MT940
and gets one error at ``"file"``.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import mt940

from intake.parsing.common import (
    BOOKED,
    CSV_AMOUNT_RE,
    Occurrences,
    StatementEntry,
    StatementError,
    StatementItem,
    StatementSource,
    check_amount,
    check_currency,
    derived_reference,
    read_all,
    squash,
)
from intake.parsing.mt940_details import parse_details

__all__ = ["iter_mt940"]

_STATEMENT_START = re.compile(r"(?m)^(?=:20:)")
_STATEMENT_LINE = re.compile(r"(?m)^:61:")
_MT940_AMOUNT_RE = re.compile(r"([0-9]*),([0-9]*)")
_NOT_PROVIDED = {"", "NONREF", "NOTPROVIDED"}
_ERROR = "settle_error"
# Bank references repeat between the two accounts of an internal transfer, so
# a repeated one is only a duplicate within the same account.
_OPTIONS = mt940.Options(strip_bom=True, unbounded_details=True, merge_keeps_values=True)


class _TolerantStatementLine(mt940.tags.Statement):
    """The library's ``:61:`` tag, but a line it cannot read becomes that entry's error.

    The library raises for one bad ``:61:`` and loses the whole file; marking the
    transaction instead keeps every other entry.
    """

    def parse(self, transactions: Any, value: str) -> dict[str, Any]:
        try:
            return dict(super().parse(transactions, value))
        except RuntimeError:
            first_line = value.splitlines()[0] if value else ""
            return {_ERROR: f"statement line ':61:{first_line}' is not valid MT940", "id": "ERROR"}

    def __call__(self, transactions: Any, value: dict[str, Any]) -> dict[str, Any]:
        if _ERROR in value:
            return value
        raw_amount, mark = value.get("amount") or "", value.get("status") or ""
        try:
            data = super().__call__(transactions, value)
        except (ValueError, decimal.InvalidOperation) as exc:
            return {_ERROR: f"statement line is not valid MT940: {exc}", "id": "ERROR"}
        data["settle_amount"], data["settle_mark"] = raw_amount, mark.upper()
        return data


def _unless_error(
    processor: Callable[..., dict[str, Any]], transactions: Any, tag: Any, tag_dict: dict[str, Any], *rest: Any
) -> dict[str, Any]:
    """Run a library processor, unless _TolerantStatementLine marked the transaction as an error."""
    result = rest[0] if rest else tag_dict
    return result if _ERROR in tag_dict else processor(transactions, tag, tag_dict, *rest)


# The library finds a tag's processors by its slug, which it derives from the class name
# (_TolerantStatementLine: "tolerant_statement_line", not the :61: tag's "statement").
_STATEMENT_LINE_TAG = _TolerantStatementLine()
_PROCESSORS: dict[str, list[Any]] = {
    # 30 February and the like (some banks' value dates) become the month's last day.
    f"pre_{_STATEMENT_LINE_TAG.slug}": [partial(_unless_error, mt940.processors.date_fixup_pre_processor)],
    f"post_{_STATEMENT_LINE_TAG.slug}": [partial(_unless_error, mt940.processors.date_cleanup_post_processor)],
    # Structured :86: details are read by intake.parsing.mt940_details, from the raw text.
    "post_transaction_details": [],
}


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_statement(block: str) -> Any:
    transactions = mt940.models.Transactions(processors=_PROCESSORS, tags={61: _STATEMENT_LINE_TAG}, options=_OPTIONS)
    transactions.parse(block)
    return transactions


def iter_mt940(source: StatementSource) -> Iterator[StatementItem]:
    """The entries and errors of an MT940 file, in file order (see module doc)."""
    text = _decode(read_all(source)).replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b for b in _STATEMENT_START.split(text) if b.startswith(":20:")]
    if not blocks:
        yield StatementError("file", "not an MT940 statement: no line starts with ':20:'")
        return
    number = 0
    seen_refs: dict[tuple[str, str], str] = {}
    occurrences = Occurrences()
    for statement_number, block in enumerate(blocks, 1):
        try:
            statement = _read_statement(block)
        except (RuntimeError, ValueError, KeyError, decimal.InvalidOperation) as exc:
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            lines = len(_STATEMENT_LINE.findall(block))
            number += lines
            yield StatementError(
                f"statement {statement_number}",
                f"could not read statement {statement_number} ({lines} entries): {reason}",
            )
            continue
        currency = statement.currency or ""
        account = "".join(str(statement.data.get("account_identification") or "").split())
        if currency and len(account) > len(currency) and account.endswith(currency):
            account = account.removesuffix(currency)  # ING NL writes NL20INGB0001234567EUR
        for transaction in statement:
            number += 1
            yield _entry(f"entry {number}", transaction.data, account, currency, seen_refs, occurrences)


def _amount(data: dict[str, Any], problems: list[str]) -> decimal.Decimal | None:
    raw = str(data.get("settle_amount") or "").strip()
    match = _MT940_AMOUNT_RE.fullmatch(raw)
    if not match or not match.group(1):
        problems.append(f"amount '{raw}' is not an MT940 amount (digits with a decimal comma)")
        return None
    plain = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return check_amount(plain, CSV_AMOUNT_RE, problems)


def _entry(
    position: str,
    data: dict[str, Any],
    account: str,
    currency_text: str,
    seen_refs: dict[tuple[str, str], str],
    occurrences: Occurrences,
) -> StatementItem:
    if _ERROR in data:
        return StatementError(position, data[_ERROR])
    problems: list[str] = []
    amount = _amount(data, problems)
    currency = check_currency(currency_text, problems, missing="statement has no currency (no :60F: balance)")
    value_date = data.get("entry_date") or data.get("date")
    booking_date = datetime.date(value_date.year, value_date.month, value_date.day) if value_date else None
    if problems:
        return StatementError(position, "; ".join(problems))
    assert amount is not None and currency is not None and booking_date is not None
    mark = data["settle_mark"]
    credit = mark in {"C", "RD"}
    details = parse_details(str(data.get("transaction_details") or ""))
    bank_reference = squash(str(data.get("bank_reference") or ""))
    kind = "bank"
    if bank_reference.upper() in _NOT_PROVIDED:
        customer_reference = squash(str(data.get("customer_reference") or ""))
        if customer_reference.upper() in _NOT_PROVIDED:
            customer_reference = ""
        facts = (
            account,
            booking_date.isoformat(),
            "C" if credit else "D",
            amount,
            currency,
            details.counterparty,
            details.remittance,
            customer_reference,
        )
        bank_reference = derived_reference(*facts, occurrence=occurrences.next(*facts))
        kind = "derived"
    elif (account, bank_reference) in seen_refs:
        return StatementError(
            position,
            f"duplicate bank reference '{bank_reference}' (already on {seen_refs[account, bank_reference]}); "
            "entry skipped",
        )
    else:
        seen_refs[account, bank_reference] = position
    return StatementEntry(
        position=position,
        bank_reference=bank_reference,
        booking_date=booking_date,
        amount=amount,
        currency=currency,
        credit=credit,
        reversal=mark.startswith("R"),
        counterparty_name=details.counterparty,
        customer_reference=details.creditor_reference,
        remittance_text=details.remittance,
        status=BOOKED,
        account=account,
        reference_kind=kind,
    )
