"""`{% load money %}` then `{{ amount|money:currency }}`: "1,234.50 EUR", JPY without decimals.

One formatting for messages and pages alike (billing.money.format_money). A value
that is not an exact amount (a float, text that is not a number) is shown as it came,
never rounded through float: a page must not invent cents.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from billing.money import format_money

register = template.Library()


@register.filter(name="money")
def money(amount, currency: str = "") -> str:
    if amount is None or amount == "":
        return ""
    if isinstance(amount, int) and not isinstance(amount, bool):
        amount = Decimal(amount)
    elif isinstance(amount, str):
        try:
            amount = Decimal(amount)
        except InvalidOperation:
            return amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return str(amount)
    return format_money(amount, currency or "").strip()
