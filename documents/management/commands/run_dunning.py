"""manage.py run_dunning: the nightly dunning run (documents.services.run_dunning)."""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.errors import BillingError
from billing.models import Account
from documents.levels import dunning_levels
from documents.reminders import due_reminders
from documents.services import run_dunning


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of takes a date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Send the dunning letters due today (SETTLE_DUNNING_LEVELS): each account whose oldest overdue "
        "invoice has passed a level's days gets the highest level it has not had in this dunning cycle, "
        "by email when the customer has an address, else left for print; a promise to pay holds an "
        "account's letters until its date. Idempotent: running it again the same day sends nothing. "
        "--dry-run lists the letters that would go and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, metavar="YYYY-MM-DD", help="Run as of this day (default: today).")
        parser.add_argument("--dry-run", action="store_true", help="List the letters due; issue nothing.")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="Share the chunks of accounts out among N processes (default SETTLE_DUNNING_WORKERS, used from "
            "SETTLE_DUNNING_WORKERS_FROM accounts due).",
        )

    def handle(self, *args, as_of: datetime.date | None, dry_run: bool, workers: int | None = None, **options):
        workers = settings.SETTLE_DUNNING_WORKERS if workers is None else workers
        if workers < 1:
            raise CommandError("--workers must be 1 or more.")
        as_of = as_of or timezone.localdate()
        if as_of > timezone.localdate():
            raise CommandError(f"--as-of {as_of:%Y-%m-%d} is after today.")
        titles = {level.level: level.title for level in dunning_levels()}
        if dry_run:
            started = time.monotonic()
            due = due_reminders(as_of)
            took = time.monotonic() - started
            accounts = Account.objects.select_related("customer", "provider").in_bulk([row.account_id for row in due])
            for row in due:
                self.stdout.write(
                    f"{accounts[row.account_id]}: {row.days_past_due} days past due, "
                    f"level {row.level} ({titles[row.level]}), had {row.last_level or 'none'}"
                )
            self.stdout.write(f"{len(due)} letters due as of {as_of:%Y-%m-%d} (selected in {took:.2f} s); none sent.")
            return
        started = time.monotonic()
        try:
            issued = run_dunning(as_of=as_of, workers=workers, by=None)
        except BillingError as error:
            raise CommandError(" ".join(error.messages)) from None
        took = time.monotonic() - started
        by_level: dict[int, int] = {}
        for document in issued:
            assert document.level is not None  # a reminder always has one (document_reminder_has_level)
            by_level[document.level] = by_level.get(document.level, 0) + 1
        counts = ", ".join(f"{titles.get(level, level)}: {n}" for level, n in sorted(by_level.items())) or "none"
        emailed = sum(1 for document in issued if document.customer.email.strip())
        self.stdout.write(
            f"{len(issued)} letters as of {as_of:%Y-%m-%d} ({counts}); {emailed} by email, "
            f"{len(issued) - emailed} for print; {took:.1f} s."
        )
