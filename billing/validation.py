"""Small input checks shared by the services; each raises a BillingError a clerk can act on."""

from __future__ import annotations

import re

from billing.errors import InvalidInput

_ID = re.compile(r"[0-9]{1,19}")
# Ids are PostgreSQL bigints; a larger number names no row and must not reach a query.
MAX_ID = 2**63 - 1


def require_reason(reason: str | None, action: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"Give a reason to {action}; it is kept in the ledger.", code="reason_required")
    return reason


def parse_id(value: object) -> int | None:
    """A row id from a URL, form or query string, or None when it is not one.

    ASCII digits only: str.isdigit() also says yes to '²' and '١٢', which int() then
    refuses or reads as another number; and never beyond a bigint.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    text = str(value).strip() if value is not None else ""
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
