from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "JSON API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from api import webhooks
        from ledger.signals import status_changed
        from payments.models import Chargeback

        status_changed.connect(webhooks.on_status_changed, dispatch_uid="api.webhooks.status_changed")
        post_save.connect(webhooks.on_chargeback_saved, sender=Chargeback, dispatch_uid="api.webhooks.chargeback")
