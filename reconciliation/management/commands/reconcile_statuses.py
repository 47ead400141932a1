"""manage.py reconcile_statuses: the nightly check that every cached figure equals the ledger."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from reconciliation.models import RunOutcome
from reconciliation.reconcile import DEFAULT_BATCH_SIZE, AlreadyRunning, run_reconciliation

EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class Command(BaseCommand):
    help = (
        "Recompute every invoice's, payment's and account's cached totals and statuses from the "
        "ledger rows (set-based SQL), list every difference, and with --fix repair them through "
        "the services' refresh routine in short batches (status history cause: 'reconciliation "
        "run N'). Each run is recorded (see /reconciliation/). Exit code: 0 no drift, 1 drift "
        "found (fixed or not: drift is a bug to report), 2 error, interrupted, or another run in "
        "progress. Safe while clerks work; Ctrl-C or SIGTERM leaves the data consistent and a later "
        "run finishes the job."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Repair what drifted (default: only report).")
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            metavar="N",
            help="Re-check and repair at most N drifted objects; the rest is left for the next run.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Objects per transaction (default {DEFAULT_BATCH_SIZE}); smaller holds row locks shorter.",
        )

    def handle(self, *args, fix: bool, limit: int | None, batch_size: int, verbosity: int, **options):
        if limit is not None and limit < 0:
            raise CommandError("--limit must be 0 or more.", returncode=EXIT_ERROR)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.", returncode=EXIT_ERROR)
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
        progress = self.stdout.write if verbosity >= 1 else (lambda message: None)
        try:
            run = run_reconciliation(fix=fix, limit=limit, batch_size=batch_size, progress=progress)
        except AlreadyRunning as exc:
            raise CommandError(str(exc), returncode=EXIT_ERROR) from None
        except KeyboardInterrupt:
            self.stdout.write("Reconciliation interrupted; the data is consistent and the next run finishes the job.")
            raise SystemExit(EXIT_ERROR) from None
        except Exception as exc:
            raise CommandError(f"Reconciliation failed: {type(exc).__name__}: {exc}", returncode=EXIT_ERROR) from exc
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)
        self.stdout.write(summary_line(run))
        if run.outcome != RunOutcome.CLEAN:
            raise SystemExit(EXIT_DRIFT)


def summary_line(run) -> str:
    seconds = run.duration.total_seconds() if run.duration else 0.0
    text = (
        f"reconcile run {run.pk}: {run.get_outcome_display().lower()}; checked {run.objects_checked} objects, "
        f"drift found {run.drift_found}"
    )
    if run.fix:
        text += f", fixed {run.drift_fixed}"
    if run.left_for_next_run:
        text += f", left for next run {run.left_for_next_run}"
    return text + f" ({seconds:.2f} s)"
