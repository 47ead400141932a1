"""manage.py assess_penalties: the nightly penalty assessment (plans.assessment), with a summary."""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.errors import BillingError
from billing.money import format_money
from plans.assessment import run_assessment
from plans.models import Plan


class Command(BaseCommand):
    help = (
        "Charge the late-payment penalties the plans' rules say are due up to --as-of (today by default), "
        "and credit (reason code recalculation) what was charged beyond it after a back-dated payment. "
        "Only the difference is issued; running it again, or twice at once, charges nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="Assess as of this date.")
        parser.add_argument("--plan", type=int, default=None, metavar="ID", help="Only this plan.")
        parser.add_argument(
            "--full",
            action="store_true",
            help="Look at every installment that may owe a penalty, not only what changed since the last run.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            metavar="N",
            help="Share the batches out among N processes (default SETTLE_ASSESSMENT_WORKERS, used from "
            "SETTLE_ASSESSMENT_WORKERS_FROM candidates).",
        )

    def handle(self, *args, as_of: str | None, plan: int | None, full: bool, workers: int | None = None, **options):
        workers = settings.SETTLE_ASSESSMENT_WORKERS if workers is None else workers
        if workers < 1:
            raise CommandError("--workers must be 1 or more.")
        day = None
        if as_of is not None:
            try:
                day = datetime.date.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {as_of!r}.") from None
        chosen = None
        if plan is not None:
            chosen = Plan.objects.filter(pk=plan).first()
            if chosen is None:
                raise CommandError(f"There is no plan {plan}.")
        started = time.monotonic()
        try:
            result = run_assessment(as_of=day, plan=chosen, full=full, workers=workers, by=None)
        except BillingError as error:
            raise CommandError(str(error)) from None
        elapsed = time.monotonic() - started
        self.stdout.write(f"Penalties assessed as of {result.as_of}: {result.candidates} installments looked at.")
        self.stdout.write(
            f"{result.penalty_count} penalty invoices issued"
            + "".join(f", {format_money(total, cur)}" for cur, total in sorted(result.charged.items()))
        )
        self.stdout.write(
            f"{result.credit_note_count} recalculation credit notes"
            + "".join(f", {format_money(total, cur)}" for cur, total in sorted(result.credited.items()))
        )
        self.stdout.write(f"Done in {elapsed:.1f} s.")
