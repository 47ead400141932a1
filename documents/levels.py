"""Dunning levels: the setting SETTLE_DUNNING_LEVELS, read and checked once (DESIGN.md §11).

Each level is a letter sent when an account's oldest overdue invoice is `days` past due:
its number (1, 2, 3, ... in order), a title and a paragraph printed on the letter, and an
optional fee per currency (a `fee` invoice issued with the letter). A bad list stops the
application at start (the system check below), not in the middle of a nightly run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.checks import CheckMessage, Error

from billing.errors import BillingError
from billing.money import MINOR_UNITS, parse_positive_amount


@dataclass(frozen=True)
class DunningLevel:
    level: int
    days: int  # days past due of the account's oldest overdue invoice
    title: str
    text: str
    fees: Mapping[str, Decimal] = field(default_factory=dict)  # currency -> fee; none: no fee


def _level(position: int, raw: object, previous_days: int) -> DunningLevel:
    where = f"SETTLE_DUNNING_LEVELS[{position - 1}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a dict with level, days, title and text, not {raw!r}.")
    unknown = set(raw) - {"level", "days", "title", "text", "fee"}
    if unknown:
        raise ValueError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
    level, days = raw.get("level"), raw.get("days")
    if level != position or isinstance(level, bool):
        raise ValueError(
            f"{where} must be level {position} (levels are numbered 1, 2, 3, ... in order), not {level!r}."
        )
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ValueError(f"{where}: days past due must be a whole number of at least 1, not {days!r}.")
    if days <= previous_days:
        raise ValueError(
            f"{where}: level {level} at {days} days must come later than the level before ({previous_days})."
        )
    title, text = raw.get("title"), raw.get("text", "")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"{where} needs a title (the letter's heading).")
    if not isinstance(text, str):
        raise ValueError(f"{where}: text must be a string.")
    fee = raw.get("fee") or {}
    if not isinstance(fee, Mapping):
        raise ValueError(f"{where}: fee must be a dict of currency to amount, such as {{'EUR': '5.00'}}.")
    fees = {}
    for currency, amount in fee.items():
        if currency not in MINOR_UNITS:
            raise ValueError(f"{where}: {currency!r} is not a currency Settle knows.")
        try:
            fees[currency] = parse_positive_amount(amount, currency, field=f"fee of level {level}")
        except BillingError as error:
            raise ValueError(f"{where}: {' '.join(error.messages)}") from None
    return DunningLevel(level=level, days=days, title=title.strip(), text=text.strip(), fees=fees)


def dunning_levels() -> list[DunningLevel]:
    """The configured levels in order; ValueError naming what is wrong (the check reports it at start)."""
    raw = getattr(settings, "SETTLE_DUNNING_LEVELS", None)
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError("SETTLE_DUNNING_LEVELS must be a non-empty list of levels.")
    levels: list[DunningLevel] = []
    for position, item in enumerate(raw, start=1):
        levels.append(_level(position, item, levels[-1].days if levels else 0))
    return levels


def level_named(number: int) -> DunningLevel:
    for level in dunning_levels():
        if level.level == number:
            return level
    raise ValueError(f"There is no dunning level {number}.")


def check_dunning_levels(app_configs=None, **kwargs) -> list[CheckMessage]:
    try:
        dunning_levels()
    except ValueError as error:
        return [
            Error(
                str(error),
                hint="Each level: {'level': n, 'days': d, 'title': ..., 'text': ..., 'fee': {'EUR': '5.00'}}; "
                "levels numbered from 1, days increasing.",
                id="settle.E002",
            )
        ]
    return []
