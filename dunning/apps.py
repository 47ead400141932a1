from django.apps import AppConfig


class DunningConfig(AppConfig):
    """The collections queue and call notes (named dunning: an app named collections would
    shadow Python's own module)."""

    name = "dunning"
    default_auto_field = "django.db.models.BigAutoField"
