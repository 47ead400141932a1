"""Money helpers: parse amounts exactly, format them, split them into exact parts.

Amounts are Decimal with the currency's minor unit (I6). Floats are refused outright:
a float has already lost the cents before we could see them.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

from billing.errors import InvalidAmount

# ISO 4217 minor units of the currencies Settle accepts.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "CAD": 2,
    "AUD": 2,
    "JPY": 0,
}
CURRENCY_CHOICES = [(code, code) for code in sorted(MINOR_UNITS)]
ZERO = Decimal("0.00")
# The largest amount a money column holds (DecimalField(max_digits=14, decimal_places=2)).
MAX_AMOUNT = Decimal("999999999999.99")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    try:
        return Decimal(1).scaleb(-MINOR_UNITS[currency])
    except KeyError:
        raise InvalidAmount(f"Currency {currency!r} is not supported.", code="currency") from None


# What a person or a file writes for an amount: ASCII digits, an optional point and
# decimals, an optional leading minus. Thousands may be grouped by commas in groups of
# exactly three when a point follows (1,000.50): "1,000" alone is one euro to a clerk
# used to a decimal comma, so it is read only where there are no decimals at all (JPY).
# Nothing else: no exponent (1e3), no other digits (١٢, １２３, ²), no underscore, no
# plus sign, no space inside, no NaN.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_GROUPED_AMOUNT = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+")
_GROUPED_WHOLE_AMOUNT = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "…'"


def parse_decimal(value: object, field: str = "amount", *, grouped_whole: bool = False) -> Decimal:
    """Decimal, int, or text in the grammar above, as an exact Decimal; InvalidAmount otherwise.

    grouped_whole: also read "1,000" (for a currency without decimals)."""
    if isinstance(value, float | bool):
        raise InvalidAmount(f"The {field} must be an exact decimal, not {type(value).__name__}.")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidAmount(f"The {field} {_shown(value)} is not a number.")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if (
            _PLAIN_AMOUNT.fullmatch(text)
            or _GROUPED_AMOUNT.fullmatch(text)
            or (grouped_whole and _GROUPED_WHOLE_AMOUNT.fullmatch(text))
        ):
            return Decimal(text.replace(",", ""))
    raise InvalidAmount(f"The {field} {_shown(value)} is not a number.")


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """Return value as an exact Decimal in the currency, or raise InvalidAmount.

    The one parser of amounts: forms, commands, bank import and services. Accepts
    Decimal, int and text as written by a person ("1234.50", "1,234.50", "-5"); refuses
    floats, exponents, non-ASCII digits and everything else. More decimals than the
    currency has is an error, never a silent rounding: the clerk must see what will be booked.
    """
    unit = minor_unit(currency)
    amount = parse_decimal(value, field, grouped_whole=MINOR_UNITS[currency] == 0)
    # Checked before quantizing: a huge exponent would make quantize itself fail.
    if amount.copy_abs() > MAX_AMOUNT:
        raise InvalidAmount(
            f"The {field} {_shown(value)} is larger than the largest amount Settle can book "
            f"({format_money(MAX_AMOUNT, currency)})."
        )
    if amount != amount.quantize(unit):
        raise InvalidAmount(
            f"The {field} {amount} {currency} has more decimals than {currency} allows ({MINOR_UNITS[currency]})."
        )
    return amount.quantize(Decimal("0.01"))


def parse_positive_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    amount = parse_amount(value, currency, field=field)
    if amount <= 0:
        raise InvalidAmount(f"The {field} must be greater than zero; got {format_money(amount, currency)}.")
    return amount


def parse_amount_bound(value: object, *, field: str = "amount") -> Decimal:
    """A bound of a list filter (total from/to): an amount as parse_amount reads it, in any
    currency, so at most two decimals (the most any currency Settle keeps has)."""
    amount = parse_decimal(value, field)
    if amount.copy_abs() > MAX_AMOUNT:
        raise InvalidAmount(f"The {field} {_shown(value)} is larger than any amount Settle keeps.")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidAmount(f"The {field} {amount} has more than two decimals.")
    return amount.quantize(Decimal("0.01"))


def format_money(amount: Decimal | None, currency: str) -> str:
    """'1,234.50 EUR'; JPY without decimals. For messages and templates alike."""
    if amount is None:
        return ""
    places = MINOR_UNITS.get(currency, 2)
    quantized = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{quantized:,.{places}f} {currency}"


def split_amount(amount: Decimal, parts: int, currency: str) -> list[Decimal]:
    """Split amount into `parts` amounts that add up exactly (the first ones take the remainder).

    The amount must be exact in the currency: a fraction of a minor unit cannot be
    split exactly, so it is refused rather than silently dropped.
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    amount = parse_amount(amount, currency, field="amount to split")
    unit = minor_unit(currency)
    sign = -1 if amount < 0 else 1
    units = int(abs(amount) / unit)
    base, remainder = divmod(units, parts)
    return [(sign * (base + (1 if i < remainder else 0)) * unit).quantize(Decimal("0.01")) for i in range(parts)]
