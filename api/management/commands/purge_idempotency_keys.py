"""Forget idempotency keys older than 24 hours (also an hourly task, api.tasks)."""

from django.core.management.base import BaseCommand

from api.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete API idempotency keys older than 24 hours."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {purge_expired()} idempotency keys older than 24 hours.")
