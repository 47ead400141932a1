"""Periodic jobs on the Procrastinate worker: the nightly checks and the queue-total folding.

They replace the cron lines of earlier installs (README, "Nightly jobs"): any worker
defers each run once (Procrastinate records every periodic defer), and a `lock` per job
means two workers never run the same one at once. Each runs the management command, so a
cron line and a periodic task do exactly the same thing. Backoffice may import across every
domain (DESIGN.md section 14), so the jobs of several apps live here together.
"""

from __future__ import annotations

import logging
from io import StringIO

from django.core.management import call_command
from django.db import close_old_connections, connection
from procrastinate.contrib.django import app
from procrastinate.manager import JobManager

logger = logging.getLogger(__name__)

#: A worker that has not sent a heartbeat for this long (it sends one every 10 s) is dead:
#: its running jobs go back to the queue. Imports resume safely (intake.background).
STALLED_AFTER_SECONDS = 60


async def retry_stalled_jobs(
    job_manager: JobManager, *, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS
) -> list[int]:
    """Put the jobs of dead workers (killed, machine lost) back in the queue; returns their ids."""
    stalled = list(await job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        await job_manager.retry_job(job)
    return [job.id for job in stalled if job.id is not None]


@app.periodic(cron="* * * * *")
@app.task(name="jobs.retry_stalled_jobs", queueing_lock="jobs.retry_stalled_jobs", pass_context=True)
async def retry_stalled(context, timestamp: int) -> None:
    retried = await retry_stalled_jobs(context.app.job_manager)
    if retried:
        logger.warning("Retried the jobs of dead workers: %s", retried)


def _command(name: str, *args: str) -> str:
    """Run a management command as the job; a non-zero exit is the job's failure, with its output."""
    close_old_connections()
    out = StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=out)
    except SystemExit as exc:  # reconcile_statuses exits 1 when it found drift
        if exc.code:
            raise RuntimeError(f"{name} exited {exc.code}: {out.getvalue()}") from None
    finally:
        connection.close()
    return out.getvalue()


@app.periodic(cron="15 2 * * *")
@app.task(name="jobs.reconcile_statuses", lock="jobs.reconcile_statuses", queueing_lock="jobs.reconcile_statuses")
def reconcile_statuses(timestamp: int) -> str:
    """Nightly: every cached total and status equals the ledger; drift is fixed and fails the job (a bug to report)."""
    return _command("reconcile_statuses", "--fix")


@app.periodic(cron="30 2 * * *")
@app.task(name="jobs.auto_allocate", lock="jobs.auto_allocate", queueing_lock="jobs.auto_allocate")
def auto_allocate(timestamp: int) -> str:
    """Nightly: allocate waiting money by the rule of DESIGN.md section 6."""
    return _command("auto_allocate")


@app.periodic(cron="45 2 * * *")
@app.task(name="jobs.assess_penalties", lock="jobs.assess_penalties", queueing_lock="jobs.assess_penalties")
def assess_penalties(timestamp: int) -> str:
    """Nightly, after the allocation run (money allocated overnight counts from its value date)
    and before the dunning letters (which then show the new penalties): plans' late charges."""
    return _command("assess_penalties")


@app.periodic(cron="*/5 * * * *")
@app.task(name="jobs.compact_queue_totals", lock="jobs.compact_queue_totals", queueing_lock="jobs.compact_queue_totals")
def compact_queue_totals(timestamp: int) -> str:
    """Every five minutes: fold the queue-total deltas so the lists read few rows."""
    return _command("compact_queue_totals")


@app.periodic(cron="0 3 * * *")
@app.task(name="jobs.run_dunning", lock="jobs.run_dunning", queueing_lock="jobs.run_dunning")
def run_dunning(timestamp: int) -> str:
    """Nightly, after the allocation run (so money allocated overnight stops its letters): the
    dunning letters due today. The run takes its own advisory lock too, so a cron line or a
    clerk's command at the same time waits and then sends nothing twice."""
    return _command("run_dunning")


@app.periodic(cron="30 3 * * *")
@app.task(name="jobs.export_batch", lock="jobs.export_batch", queueing_lock="jobs.export_batch")
def export_batch(timestamp: int) -> str:
    """Nightly, after the penalties and dunning fees of the night are issued (they go out with it):
    each export profile's new entries to the billing agency. A failed delivery fails the job (exit 1);
    the batch is kept and the next run, or a resend, delivers the same bytes."""
    return _command("export_batch")


#: Finished jobs are kept this long (for the admin's Procrastinate pages), then deleted: the
#: periodic jobs alone add some 1,700 rows a day.
KEEP_FINISHED_JOBS_HOURS = 7 * 24


@app.periodic(cron="0 4 * * *")
@app.task(name="jobs.remove_old_jobs", queueing_lock="jobs.remove_old_jobs", pass_context=True)
async def remove_old_jobs(context, timestamp: int) -> None:
    await context.app.job_manager.delete_old_jobs(
        nb_hours=KEEP_FINISHED_JOBS_HOURS, include_failed=True, include_cancelled=True, include_aborted=True
    )
