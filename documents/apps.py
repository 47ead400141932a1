from django.apps import AppConfig
from django.core import checks


class DocumentsConfig(AppConfig):
    """Statements, reminders and notices sent to customers, kept as snapshots (DESIGN.md §11)."""

    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from documents.levels import check_dunning_levels

        checks.register(check_dunning_levels)
