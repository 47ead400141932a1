from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """The one write path (locks, refresh, status history); no models of its own."""

    name = "ledger"
