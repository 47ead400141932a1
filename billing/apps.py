from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        if getattr(settings, "SETTLE_FLUSH_AS_OWNER", False):
            from billing.guards import allow_owner_flush

            allow_owner_flush()
