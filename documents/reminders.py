"""Which accounts are due a dunning letter, and what a reminder prints (DESIGN.md §11).

The dunning cycle of an account starts when its oldest overdue invoice fell due: the
account's cached `oldest_due_date` (the earliest due date of its open, unpaid or partially
paid invoices, DESIGN.md §5). The levels it had in this cycle are the reminders issued for
it with an `as_of` after that date. So a payment or credit note resets the level when it
settles the oldest overdue invoice: `oldest_due_date` moves to a later invoice (or to none),
and reminders sent before that invoice fell due no longer count. A partial payment, or
paying a newer invoice while the oldest stays open, does not reset it: the customer is
still as late as before. An invoice that fell due before the last reminder was on that
letter, so it carries the letter's level on when older ones are paid.

An account is due the highest level whose `days` its oldest overdue invoice has passed. It
gets that level if it had no level as high in this cycle: never a lower letter after a
higher one, and an account found long overdue (say 40 days, on the first run after going
live) gets the final notice alone, not three letters in one night. A call note promising
to pay holds the account's letters while its promised date is today or later (the newest
note with a promised date is the promise that counts).

`due_reminders` finds them all in one SQL statement over the owing-account index; the nightly
run asks it again for each chunk's accounts under their locks (documents.reminder_letters), and
reads a chunk's overdue invoices and journal positions with one query each (the `_of`
functions below), so a letter costs a fraction of a query.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Max

from billing.models import Account
from documents.levels import DunningLevel, dunning_levels
from documents.models import Document, DocumentKind
from invoices.models import Invoice, open_work
from ledger.models import Entry

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DueReminder:
    account_id: int
    days_past_due: int
    level: int  # the level to send now
    last_level: int  # the highest level had in this cycle (0: none)


_DUE_SQL = """
SELECT account_id, days_past_due, due_level, last_level FROM (
    SELECT account.id AS account_id,
           %(as_of)s::date - account.oldest_due_date AS days_past_due,
           CASE {levels} ELSE 0 END AS due_level,
           COALESCE(had.level, 0) AS last_level
    FROM billing_account AS account
    LEFT JOIN LATERAL (
        SELECT MAX(reminder.level) AS level FROM documents_document AS reminder
        WHERE reminder.kind = 'reminder' AND reminder.account_id = account.id
          AND reminder.as_of > account.oldest_due_date
    ) AS had ON true
    LEFT JOIN LATERAL (
        SELECT note.promised_date FROM billing_collectionnote AS note
        WHERE note.account_id = account.id AND note.promised_date IS NOT NULL
        ORDER BY note.id DESC LIMIT 1
    ) AS promise ON true
    WHERE account.balance_due > 0 AND account.oldest_due_date <= %(first_due)s{accounts}
      AND (promise.promised_date IS NULL OR promise.promised_date < %(as_of)s)
) AS due
WHERE due_level > last_level
ORDER BY account_id
"""


def _level_case(levels: list[DunningLevel], params: dict[str, Any]) -> str:
    # Highest level first: the first WHEN that holds is the highest level passed.
    whens = []
    for level in reversed(levels):
        params[f"days_{level.level}"] = level.days
        whens.append(f"WHEN %(as_of)s::date - account.oldest_due_date >= %(days_{level.level})s THEN {level.level:d}")
    return " ".join(whens)


def due_reminders(as_of: datetime.date, *, account_ids: Sequence[int] | None = None) -> list[DueReminder]:
    """Every account due a letter on `as_of` (or those of `account_ids` that are), with the
    level to send: one statement."""
    levels = dunning_levels()
    params: dict[str, Any] = {"as_of": as_of, "first_due": as_of - datetime.timedelta(days=levels[0].days)}
    accounts = ""
    if account_ids is not None:
        params["account_ids"] = list(account_ids)
        accounts = " AND account.id = ANY(%(account_ids)s)"
    sql = _DUE_SQL.format(levels=_level_case(levels, params), accounts=accounts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [DueReminder(*row) for row in cursor.fetchall()]


def level_due(days_past_due: int, levels: list[DunningLevel]) -> int:
    """The highest level passed after `days_past_due` days (0: none yet); the SQL's CASE in Python."""
    return max((level.level for level in levels if days_past_due >= level.days), default=0)


def levels_had(account: Account) -> list[int]:
    """The levels `account` had in its current dunning cycle (see the module docstring)."""
    if account.oldest_due_date is None:
        return []
    reminders = Document.objects.filter(
        kind=DocumentKind.REMINDER, account=account, as_of__gt=account.oldest_due_date
    ).order_by("level")
    return [level for level in reminders.values_list("level", flat=True).distinct() if level is not None]


def next_level(account: Account, as_of: datetime.date) -> int:
    """The level a clerk's "Reminder" button sends for `account` on `as_of`: the highest level
    passed that it has not had in this cycle, as run_dunning would choose it (0: none due)."""
    if account.oldest_due_date is None or account.oldest_due_date >= as_of:
        return 0
    level = level_due((as_of - account.oldest_due_date).days, dunning_levels())
    had = levels_had(account)
    return level if level and (not had or max(had) < level) else 0


class OverdueInvoice(NamedTuple):
    """What a letter prints of one overdue invoice (a row, not a model: a night reads a million)."""

    number: str
    issue_date: datetime.date | None
    due_date: datetime.date
    total: Decimal
    balance_due: Decimal


def overdue_invoices_of(account_ids: Sequence[int], as_of: datetime.date) -> dict[int, list[OverdueInvoice]]:
    """Each account's overdue invoices on `as_of`, oldest due first (what its letter lists): one query."""
    found: dict[int, list[OverdueInvoice]] = {}
    invoices = Invoice.objects.filter(open_work(), account_id__in=list(account_ids), due_date__lt=as_of)
    rows = invoices.order_by("account_id", "due_date", "id").values_list(
        "account_id", "number", "issue_date", "due_date", "total", "balance_due"
    )
    for account_id, *printed in rows:
        found.setdefault(account_id, []).append(OverdueInvoice(*printed))
    return found


def journal_positions_of(account_ids: Sequence[int]) -> dict[int, int]:
    """Each account's journal position (its highest entry id; 0 when it has none): one query."""
    rows = Entry.objects.filter(account_id__in=list(account_ids)).values("account_id").annotate(top=Max("id"))
    positions = {account_id: 0 for account_id in account_ids}
    positions.update((row["account_id"], row["top"]) for row in rows.order_by())
    return positions


def reminder_figures(
    account: Account,
    overdue: list[OverdueInvoice],
    *,
    level: DunningLevel,
    as_of: datetime.date,
    today: datetime.date,
    fee_invoice: Invoice | None,
) -> dict[str, Any]:
    """Everything the letter prints, amounts as strings (I6); pure: no query.

    `overdue` is the account's overdue invoices read under its lock; a fee invoice issued with
    the letter falls due later, so it is printed as the fee, never among them."""
    items = []
    overdue_total = ZERO
    for invoice in overdue:
        overdue_total += invoice.balance_due
        items.append(
            {
                "number": invoice.number,
                "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else "",
                "due_date": invoice.due_date.isoformat(),
                "days_past_due": (as_of - invoice.due_date).days,
                "total": str(invoice.total),
                "balance_due": str(invoice.balance_due),
            }
        )
    fee = fee_invoice.total if fee_invoice is not None else ZERO
    customer, provider = account.customer, account.provider
    figures = {
        "customer": {"name": customer.name, "email": customer.email, "reference": customer.reference or ""},
        "provider": {"name": provider.name, "code": provider.code},
        "currency": account.currency,
        "as_of": as_of.isoformat(),
        "issued_on": today.isoformat(),
        "level": level.level,
        "title": level.title,
        "text": level.text,
        "overdue": items,
        "overdue_total": str(overdue_total),
        "fee": {"number": str(fee_invoice), "amount": str(fee), "due_date": fee_invoice.due_date.isoformat()}
        if fee_invoice is not None
        else None,
        "amount_due": str(overdue_total + fee),
        # Everything owed on the account, not yet due included (the fee too).
        "balance_due": str(account.balance_due),
    }
    return figures
