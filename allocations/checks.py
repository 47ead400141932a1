"""Start-up check of the allocation settings: a bad setting stops the application at start,
not at the first automatic allocation (as payments.checks does for chargebacks)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error

PLAN_ALLOCATIONS = ("penalties_first", "installment_first")


def plan_allocation() -> str:
    """How automatic allocation orders a plan's invoices (DESIGN.md sections 6 and 10): each
    installment's penalties before it (penalties_first, the default) or after it; ValueError
    for anything else (the check reports it at start)."""
    rule = getattr(settings, "SETTLE_PLAN_ALLOCATION", "penalties_first")
    if rule not in PLAN_ALLOCATIONS:
        raise ValueError(f"SETTLE_PLAN_ALLOCATION must be penalties_first or installment_first, not {rule!r}")
    return rule


def check_plan_allocation(app_configs=None, **kwargs) -> list[CheckMessage]:
    try:
        plan_allocation()
    except ValueError as error:
        return [
            Error(str(error), hint="Set it to penalties_first (the default) or installment_first.", id="settle.E003")
        ]
    return []
