"""manage.py resend_export PROFILE NUMBER: deliver a batch's stored bytes again."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from exports.models import DeliveryResult, ExportBatch
from exports.services import resend_batch


class Command(BaseCommand):
    help = "Deliver exactly the stored bytes of a batch again, with the same idempotency key."

    def add_arguments(self, parser):
        parser.add_argument("profile")
        parser.add_argument("number", type=int)

    def handle(self, *args, profile: str, number: int, **options):
        batch = ExportBatch.objects.filter(profile=profile, number=number).first()
        if batch is None:
            raise CommandError(f"There is no batch {number} of export profile {profile!r}.")
        attempt = resend_batch(batch, by=None)
        if attempt.result != DeliveryResult.OK:
            raise CommandError(f"{batch} not delivered to {attempt.to}: {attempt.error}")
        self.stdout.write(f"{batch} delivered again to {attempt.to}.")
