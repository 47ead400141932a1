from django.apps import AppConfig
from django.core import checks


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.checks import check_chargeback_reversal

        checks.register(check_chargeback_reversal)
