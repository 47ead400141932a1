from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Statements, reminders and notices sent to customers, kept as snapshots (DESIGN.md §11)."""

    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"
