"""manage.py export_batch: the nightly export of every profile (or one), delivered after sealing."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from billing.errors import BillingError
from exports.models import ExportBatch
from exports.profiles import get_profile, profiles
from exports.services import export_batch, undelivered


class Command(BaseCommand):
    help = (
        "Seal every journal entry of each export profile's kinds that is in none of its batches into a new "
        "batch (none when nothing is new), then deliver every batch not yet delivered, oldest first. "
        "Exit code 1 when a delivery failed (the batch is kept and the next run retries it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--profile", default=None, help="Only this profile (default: every configured one).")

    def handle(self, *args, profile: str | None, **options):
        try:
            chosen = [get_profile(profile)] if profile else list(profiles().values())
        except (BillingError, ValueError) as error:
            raise CommandError(str(error)) from None
        failed = False
        for each in chosen:
            started = time.monotonic()
            batch = export_batch(profile=each, by=None)
            elapsed = time.monotonic() - started
            if batch is None:
                self.stdout.write(f"{each.name}: nothing new ({elapsed:.1f} s).")
            else:
                batch = ExportBatch.objects.get(pk=batch.pk)
                self.stdout.write(
                    f"{each.name}: batch {batch.number}, {batch.entry_count} entries, {batch.payload_bytes} bytes, "
                    f"sha256 {batch.sha256}, {batch.get_state_display().lower()} ({elapsed:.1f} s)."
                )
            waiting = undelivered(each.name)
            for late in waiting:
                self.stdout.write(
                    f"{each.name}: batch {late.number} not delivered: {late.last_error or 'waits for the one before'}"
                )
            failed = failed or bool(waiting)
        if failed:
            raise SystemExit(1)
