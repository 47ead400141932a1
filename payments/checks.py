"""Start-up checks of the payments settings: a bad setting stops the application at start,
not at the first chargeback (DESIGN.md section 7)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error

CHARGEBACK_REVERSALS = ("newest_first", "manual")


def chargeback_reversal() -> str:
    """The configured rule; ValueError for anything else (the check reports it at start)."""
    rule = getattr(settings, "SETTLE_CHARGEBACK_REVERSAL", "newest_first")
    if rule not in CHARGEBACK_REVERSALS:
        raise ValueError(f"SETTLE_CHARGEBACK_REVERSAL must be newest_first or manual, not {rule!r}")
    return rule


def check_chargeback_reversal(app_configs=None, **kwargs) -> list[CheckMessage]:
    try:
        chargeback_reversal()
    except ValueError as error:
        return [Error(str(error), hint="Set it to newest_first (the default) or manual.", id="settle.E001")]
    return []
