from django.apps import AppConfig
from django.core import checks


class ExportsConfig(AppConfig):
    """Nightly batches of journal entries to the outside billing agency (DESIGN.md §13)."""

    name = "exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exports.profiles import check_export_profiles

        checks.register(check_export_profiles)
