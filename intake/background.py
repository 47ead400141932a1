"""Statement imports in the background: store the upload, defer the job, run it, resume it.

The upload view calls `start_import`: the file's bytes, its StatementImport row and the
Procrastinate job commit in one transaction (the Django connector defers on the request's
own connection), so a job never points at a missing file and a file never waits without a
job. A worker runs `run_import` (intake.tasks): intake.importing.import_statement with a
progress callback that writes each committed chunk's lines and moves the counts in one
UPDATE, so /imports/<id>/ is live.

Crash safety: each entry commits with its bank entry (intake.importing), and its line is
written after its chunk. Running the same import again (a stalled job retried, or "Run
again") re-reads the file: entries already handled come back as already imported (their
bank reference), lines already written are skipped (unique per import, position and bank
reference), so nothing is booked or listed twice. Only the entries of the chunk that was
running when the worker died are listed as "already imported" instead of their first
outcome; their bank entries are the ones the first run wrote.
"""

from __future__ import annotations

import io
import re
from collections import Counter

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from billing.actors import Actor
from billing.errors import BillingError, InvalidInput
from intake.importing import EntryResult, Outcome, import_statement
from intake.models import ImportStatus, StatementFile, StatementImport, StatementImportLine

_NUMBER = re.compile(r"\d+")


def job_lock(statement_import_id: int) -> str:
    """One name for both Procrastinate locks of an import's job.

    As `lock`, no two workers run the same import at once; as `queueing_lock`, it is never
    queued twice (a second "Run again" while one waits is refused).
    """
    return f"statement-import-{statement_import_id}"


def _defer(statement_import: StatementImport) -> None:
    from intake.tasks import import_statement_file

    lock = job_lock(statement_import.pk)
    import_statement_file.configure(lock=lock, queueing_lock=lock).defer(statement_import_id=statement_import.pk)


def start_import(
    upload: UploadedFile,
    *,
    format: str,
    profile: str,
    dry_run: bool,
    by: Actor,
) -> StatementImport:
    """Store an uploaded statement and queue its import; returns at once."""
    if by is None:
        raise InvalidInput("A statement import is asked for by a signed-in user.")
    content = b"".join(upload.chunks())
    with transaction.atomic():
        statement_import = StatementImport.objects.create(
            source_name=(upload.name or "statement")[:255],
            format=format,
            profile=profile,
            dry_run=dry_run,
            requested_by=by,
            file_size=len(content),
        )
        StatementFile.objects.create(statement_import=statement_import, content=content)
        _defer(statement_import)
    return statement_import


def has_live_job(statement_import: StatementImport) -> bool:
    """Whether a job of this import waits or runs. A job of a dead worker counts until the
    periodic retry_stalled_jobs (backoffice.tasks) puts it back in the queue."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.filter(lock=job_lock(statement_import.pk), status__in=["todo", "doing"]).exists()


def can_run_again(statement_import: StatementImport) -> bool:
    """Failed, or left queued or running with no job (cancelled, or its job deleted by hand)."""
    if statement_import.status == ImportStatus.FAILED:
        return True
    return statement_import.status != ImportStatus.DONE and not has_live_job(statement_import)


def run_again(statement_import: StatementImport, *, by: Actor) -> None:
    """Queue a failed (or jobless) import once more; it resumes (see the module doc).

    Raises InvalidInput when the import cannot run again or its file is gone, and
    procrastinate's AlreadyEnqueued when its job already waits.
    """
    with transaction.atomic():
        locked = StatementImport.objects.select_for_update().get(pk=statement_import.pk)
        if not can_run_again(locked):
            raise InvalidInput(
                f"Import #{locked.pk} is {locked.get_status_display().lower()}"
                + (" and a worker has it" if locked.status != ImportStatus.DONE else "")
                + ": nothing to run again."
            )
        if not StatementFile.objects.filter(statement_import=locked).exists():
            raise InvalidInput(f"The file of import #{locked.pk} is no longer kept; upload it again.")
        locked.status = ImportStatus.QUEUED
        locked.stopped = ""
        locked.finished_at = None
        locked.save(update_fields=["status", "stopped", "finished_at"])
        _defer(locked)


def import_for_real(dry_run: StatementImport, *, by: Actor) -> StatementImport:
    """After a dry run, import the same file for real: its stored file moves to a new import."""
    if by is None:
        raise InvalidInput("A statement import is asked for by a signed-in user.")
    with transaction.atomic():
        locked = StatementImport.objects.select_for_update().get(pk=dry_run.pk)
        if not (locked.dry_run and locked.status == ImportStatus.DONE):
            raise InvalidInput(f"Import #{locked.pk} is not a finished dry run.")
        statement_import = StatementImport.objects.create(
            source_name=locked.source_name,
            format=locked.format,
            profile=locked.profile,
            dry_run=False,
            requested_by=by,
            file_size=locked.file_size,
        )
        # A move, not a copy: 100 MB never pass through Python, and a dry run is imported once.
        moved = StatementFile.objects.filter(statement_import=locked).update(statement_import=statement_import)
        if not moved:
            raise InvalidInput(f"The file of dry run #{locked.pk} was imported already (or is gone); upload it again.")
        _defer(statement_import)
    return statement_import


def sequence_of(position: str) -> int:
    """The number in "line 12" or "entry 12" (file order); 0 for the file itself."""
    match = _NUMBER.search(position)
    return int(match.group()) if match else 0


class _LineWriter:
    """The progress callback: writes a chunk's new lines and the counts, once per chunk."""

    def __init__(self, statement_import: StatementImport):
        self.statement_import = statement_import
        lines = statement_import.lines.all()
        self.seen = set(lines.values_list("position", "bank_reference"))
        self.tally: Counter[str] = Counter(
            {row["outcome"]: row["n"] for row in lines.values("outcome").annotate(n=Count("id")).order_by()}
        )

    def write(self, results: list[EntryResult], *, dry_run: bool = False) -> None:
        new = []
        for result in results:
            key = (result.position[:32], result.bank_reference[:100])
            if key in self.seen:
                continue
            self.seen.add(key)
            self.tally[result.outcome] += 1
            new.append(
                StatementImportLine(
                    statement_import=self.statement_import,
                    sequence=sequence_of(result.position),
                    position=key[0],
                    outcome=result.outcome,
                    message=result.message,
                    bank_reference=key[1],
                    amount=result.amount,
                    currency=result.currency[:3],
                    credit=result.credit,
                    needs_a_person=result.outcome in Outcome.NEEDS_A_PERSON,
                    allocations=[
                        f"{line.invoice_number}: {line.amount_display} ({line.reason})" for line in result.allocations
                    ],
                    # A dry run's payments and bank entries were rolled back: nothing to link to.
                    payment=None if dry_run else result.payment,
                    bank_entry=None if dry_run else result.bank_entry,
                )
            )
        # ignore_conflicts: the unique constraint is the last word if a line was written meanwhile.
        StatementImportLine.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)

    def progress(self, done: int, total: int, results: list[EntryResult]) -> None:
        with transaction.atomic():
            self.write(results)
            # A streaming importer may not know the total yet (0, or less than done): shown as
            # "so far" until it does.
            known = total if total >= done and total > 0 else None
            StatementImport.objects.filter(pk=self.statement_import.pk).update(
                done=done, total=known, tally=dict(self.tally)
            )


def _claim(statement_import_id: int) -> tuple[StatementImport, bytes] | None:
    with transaction.atomic():
        statement_import = StatementImport.objects.select_for_update().get(pk=statement_import_id)
        if statement_import.status == ImportStatus.DONE:
            return None  # a job run twice: the first one finished it
        content = StatementFile.objects.filter(statement_import=statement_import).values_list("content", flat=True)
        if not content:
            statement_import.status = ImportStatus.FAILED
            statement_import.stopped = "The uploaded file is no longer kept; upload it again."
            statement_import.finished_at = timezone.now()
            statement_import.save(update_fields=["status", "stopped", "finished_at"])
            return None
        statement_import.status = ImportStatus.RUNNING
        statement_import.started_at = timezone.now()
        statement_import.finished_at = None
        statement_import.stopped = ""
        statement_import.attempts += 1
        statement_import.save(update_fields=["status", "started_at", "finished_at", "stopped", "attempts"])
        return statement_import, bytes(content[0])


def _fail(statement_import: StatementImport, message: str) -> None:
    StatementImport.objects.filter(pk=statement_import.pk).update(
        status=ImportStatus.FAILED, stopped=message, finished_at=timezone.now()
    )


def run_import(statement_import_id: int) -> StatementImport | None:
    """Import a stored statement (the worker's job); safe to run again after a crash or failure.

    An exception marks the import failed with its text and is raised again, so the job is
    recorded as failed too (and retried when the task says so).
    """
    claimed = _claim(statement_import_id)
    if claimed is None:
        return None
    statement_import, content = claimed
    writer = _LineWriter(statement_import)
    try:
        report = import_statement(
            io.BytesIO(content),
            source_name=statement_import.source_name,
            format=statement_import.format or None,
            profile=statement_import.profile or None,
            by=statement_import.requested_by,
            dry_run=statement_import.dry_run,
            # A dry run handles everything in one transaction that is rolled back: lines written
            # during it would vanish with it, so its lines are written once it is over.
            progress=None if statement_import.dry_run else writer.progress,
            keep_results=statement_import.dry_run,
        )
    except (ValueError, BillingError) as exc:  # the importer's words for a file it refuses
        _fail(statement_import, str(exc))
        raise
    except Exception as exc:
        _fail(statement_import, f"{type(exc).__name__}: {exc}")
        raise
    with transaction.atomic():
        if statement_import.dry_run:
            writer.write(report.results, dry_run=True)
        lines = statement_import.lines.all()
        tally = {row["outcome"]: row["n"] for row in lines.values("outcome").annotate(n=Count("id")).order_by()}
        statement_import.total = report.total
        statement_import.done = min(sum(tally.values()), report.total)
        statement_import.tally = tally
        statement_import.format = report.format
        statement_import.file_errors = list(report.file_errors)
        statement_import.stopped = report.stopped
        statement_import.status = ImportStatus.FAILED if report.stopped else ImportStatus.DONE
        statement_import.finished_at = timezone.now()
        statement_import.save(
            update_fields=["total", "done", "tally", "format", "file_errors", "stopped", "status", "finished_at"]
        )
        if statement_import.status == ImportStatus.DONE and not statement_import.dry_run:
            # The bank entries keep every fact; 100 MB of bytes need not stay. A dry run's
            # file stays for "Import for real".
            StatementFile.objects.filter(statement_import=statement_import).delete()
    return statement_import
