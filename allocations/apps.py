from django.apps import AppConfig
from django.core import checks


class AllocationsConfig(AppConfig):
    name = "allocations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from allocations.checks import check_plan_allocation

        checks.register(check_plan_allocation)
