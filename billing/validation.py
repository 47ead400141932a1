"""Small input checks shared by the services; each raises a BillingError a clerk can act on."""

from __future__ import annotations

from billing.errors import InvalidInput


def require_reason(reason: str | None, action: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"Give a reason to {action}; it is kept in the ledger.", code="reason_required")
    return reason
