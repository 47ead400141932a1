"""What an entry's facts decide, the same for the import (intake.pipeline) and the dry run (intake.preview).

Whether it was imported before, whether it looks like a credit imported under another
reference (a twin: the same booking exported twice), and the results and messages
both report.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import DatabaseError

from billing.errors import InvalidInput
from billing.money import parse_positive_amount
from billing.sql_arrays import array_param
from intake.models import BankEntry, BankEntryStatus
from intake.outcomes import EntryResult, Outcome
from intake.services import describe_entry
from intake.statements import StatementEntry

NOT_BOOKED_NOTE = "pending at the bank: not recorded; it will be recorded when a statement shows it booked"
TwinKey = tuple[object, Decimal, str, str, str]


def same_facts(existing: BankEntry, entry: StatementEntry) -> bool:
    return (
        existing.amount == entry.amount
        and existing.currency == entry.currency
        and existing.credit == entry.credit
        and existing.reversal == entry.reversal
        and existing.booking_date == entry.booking_date
    )


def twin_key(entry: BankEntry | StatementEntry) -> TwinKey | None:
    """What makes two credits look like one booking exported twice; None when there is nothing to compare."""
    if not entry.counterparty_name and not entry.remittance_text:
        return None
    return (entry.booking_date, entry.amount, entry.currency, entry.counterparty_name, entry.remittance_text)


def decided_by_facts(entry: StatementEntry) -> tuple[str, str] | None:
    """The outcome and note of a booked, new entry that its facts alone decide: a debit we
    ignore, a reversal of money we sent, a batch the parser sends to review; None for a credit
    or the reversal of one, which the services handle. An amount in a currency Settle does not
    keep (or finer than its minor unit) is refused here, as the services would refuse it."""
    if not entry.credit and not entry.reversal:
        return Outcome.IGNORED, "A bank fee or a refund we sent: nothing to record."
    parse_positive_amount(entry.amount, entry.currency)  # a currency we keep, in its minor unit
    if entry.reversal and entry.credit:
        return Outcome.NEEDS_REVIEW, "Reversal of money we sent (e.g. a refund that bounced): handle it by hand."
    if entry.review:  # the parser saw something only a person can settle (a batch that does not add up)
        return (
            Outcome.NEEDS_REVIEW,
            f"Not recorded: {entry.review}. Record the payments by hand, then dismiss this entry.",
        )
    return None


def bank_entry_row(entry: StatementEntry, *, source_name: str, status: str, **fields) -> BankEntry:
    """The (unsaved) bank entry row of a statement entry: the import stores it, the dry run keeps it
    in memory so later entries of the file see it (twins, already imported, reversals)."""
    return BankEntry(
        bank_reference=entry.bank_reference,
        booking_date=entry.booking_date,
        amount=entry.amount,
        currency=entry.currency,
        credit=entry.credit,
        reversal=entry.reversal,
        counterparty_name=entry.counterparty_name,
        customer_reference=entry.customer_reference,
        remittance_text=entry.remittance_text,
        source_name=source_name,
        source_position=entry.position[:32],
        status=status,
        **fields,
    )


def result_for(entry: StatementEntry, outcome: str, message: str, **kwargs) -> EntryResult:
    return EntryResult(
        position=entry.position,
        outcome=outcome,
        message=message,
        bank_reference=entry.bank_reference,
        amount=entry.amount,
        currency=entry.currency,
        credit=entry.credit,
        **kwargs,
    )


def already_imported(existing: BankEntry, entry: StatementEntry) -> EntryResult:
    if not same_facts(existing, entry):
        raise InvalidInput(
            f"Bank reference {entry.bank_reference} was imported before ({existing.source_position} of "
            f"{existing.source_name or 'an earlier file'}) as a {describe_entry(existing)}; this entry is a "
            f"{describe_entry(entry)}. Ask the bank which is right."
        )
    return result_for(
        entry,
        Outcome.ALREADY_IMPORTED,
        f"already imported from {existing.source_name or 'an earlier file'} ({existing.source_position}): "
        f"{BankEntryStatus(existing.status).label.lower()}",  # get_status_display: 25 µs an entry
        bank_entry=existing,
        payment=existing.payment,
    )


def twin_note(twin: BankEntry) -> str:
    return (
        f"Looks like {twin.bank_reference} ({twin.source_position} of {twin.source_name or 'an earlier file'}): "
        "same date, amount, payer and text under another bank reference. If it is a second payment, "
        "assign it to the customer; otherwise dismiss it."
    )


def check_storable(entry: StatementEntry) -> None:
    """What the services would refuse about any entry before it is stored."""
    if len(entry.bank_reference) > 100:
        raise InvalidInput(f"Bank reference {entry.bank_reference[:40]}... is longer than 100 characters.")


def load_twins(entries: Sequence[StatementEntry]) -> dict[TwinKey, BankEntry]:
    """Imported credits that look like the chunk's new credits, the newest per look (one query).

    Matched on the whole look in the database: the rows of the same day and amount that
    only differ in payer or text are never read (a 100,000-entry import of one booking day
    read an ever larger share of its own earlier credits when only date, amount and currency
    were compared here)."""
    keys = {key for entry in entries if (key := twin_key(entry)) is not None}
    if not keys:
        return {}
    # One array per part of the look: dates, amounts, currencies, payers, texts.
    rows = BankEntry.objects.raw(_TWINS_SQL, [array_param(column) for column in zip(*keys, strict=True)])
    return {key: row for row in rows if (key := twin_key(row)) is not None}


# The newest imported credit per look (twin_key) among the chunk's looks; bank_entry_match_idx
# finds the day's rows of each amount. Only what twin_key and twin_note read.
_TWINS_SQL = f"""
    SELECT DISTINCT ON (b.booking_date, b.amount, b.currency, b.counterparty_name, b.remittance_text)
           b.id, b.booking_date, b.amount, b.currency, b.counterparty_name, b.remittance_text,
           b.bank_reference, b.source_name, b.source_position
    FROM {BankEntry._meta.db_table} AS b
    JOIN unnest(%s::date[], %s::numeric[], %s::text[], %s::text[], %s::text[]) AS look(d, a, c, n, t)
      ON b.amount = look.a AND b.currency = look.c AND b.booking_date = look.d
         AND b.counterparty_name = look.n AND b.remittance_text = look.t
    WHERE b.credit AND NOT b.reversal
    ORDER BY b.booking_date, b.amount, b.currency, b.counterparty_name, b.remittance_text, b.id DESC
"""


def refused_message(exc: DatabaseError) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"the database refused this entry ({type(exc).__name__}: {detail}); nothing was recorded for it, "
        "the other entries were imported"
    )
