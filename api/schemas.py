"""Shared JSON shapes: money and quantities as strings ("12.50"), dates ISO 8601, one error body."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import PlainSerializer, WithJsonSchema

MONEY_PATTERN = r"^-?[0-9]+\.[0-9]+$"
# What a client may send: plain digits, at most two decimals; the services check the rest
# (the currency's minor unit, positive, not beyond the column).
AMOUNT_IN_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
QUANTITY_IN_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,3})?$"

#: An amount in a response: a Decimal written as its plain string, never a JSON number.
Money = Annotated[
    Decimal,
    PlainSerializer(lambda value: str(value), return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["12.50"]}),
]
Quantity = Money
AmountIn = Annotated[str, Field(pattern=AMOUNT_IN_PATTERN, examples=["12.50"])]
QuantityIn = Annotated[str, Field(pattern=QUANTITY_IN_PATTERN, examples=["1"])]
Text = Annotated[str, Field(max_length=500)]
Reason = Annotated[str, Field(min_length=1, max_length=500, examples=["customer asked"])]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]


class Error(Schema):
    """Every 4xx: `code` is the error's class (e.g. InsufficientFunds), `message` reads as the pages'."""

    code: str
    message: str
    field: str | None = None


class CurrencyTotal(Schema):
    currency: str
    count: int
    sums: dict[str, str]


class Totals(Schema):
    count: int
    by_currency: list[CurrencyTotal]


class PageLinks(Schema):
    next: str | None = None
    previous: str | None = None
    first: str | None = None
    last: str | None = None


def totals_out(totals) -> dict:
    rows = []
    for row in totals.by_currency:
        sums = {
            name: str(value if value is not None else Decimal("0.00"))
            for name, value in row.items()
            if name not in ("currency", "count")
        }
        rows.append({"currency": row["currency"], "count": row["count"], "sums": sums})
    return {"count": totals.count, "by_currency": rows}


__all__ = ["datetime", "Money"]
