"""Forget idempotency keys older than 24 hours and past minutes' rate counts (also an hourly task, api.tasks)."""

from django.core.management.base import BaseCommand

from api.auth import purge_rate_windows
from api.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete API idempotency keys older than 24 hours."

    def handle(self, *args, **options):
        windows = purge_rate_windows()
        self.stdout.write(
            f"Deleted {purge_expired()} idempotency keys older than 24 hours and {windows} past rate counts."
        )
