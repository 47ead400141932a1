from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """The one write path: locks, refresh, status history and the entry journal (ledger.models.Entry)."""

    name = "ledger"
