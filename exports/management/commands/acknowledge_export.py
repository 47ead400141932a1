"""manage.py acknowledge_export PROFILE NUMBER: record that the agency took a batch."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.errors import BillingError
from exports.models import ExportBatch
from exports.services import acknowledge_batch


class Command(BaseCommand):
    help = "Record the billing agency's acknowledgement of a batch (once; again changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("profile")
        parser.add_argument("number", type=int)
        parser.add_argument("--reference", default="", help="The agency's own reference for the acknowledgement.")

    def handle(self, *args, profile: str, number: int, reference: str, **options):
        batch = ExportBatch.objects.filter(profile=profile, number=number).first()
        if batch is None:
            raise CommandError(f"There is no batch {number} of export profile {profile!r}.")
        try:
            ack = acknowledge_batch(batch, reference=reference, by=None)
        except BillingError as error:
            raise CommandError(error.messages[0]) from None
        self.stdout.write(
            f"{batch} acknowledged at {ack.created_at:%Y-%m-%d %H:%M:%S}"
            + (f" ({ack.reference})" if ack.reference else "")
            + "."
        )
