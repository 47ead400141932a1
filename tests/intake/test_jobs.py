"""Background imports: resuming after a crash, in-process and with a real worker killed mid-file.

The CSVs are built here in the Settle layout; credits name their customer by a C- token
in the remittance, so each one becomes a payment (the entries whose payment could be
doubled by a careless resume).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count

from backoffice.tasks import retry_stalled_jobs
from intake import background
from intake.background import job_lock, run_import, start_import
from intake.importing import CHUNK
from intake.models import BankEntry, ImportStatus, StatementImport
from payments.models import Payment
from tests.factories import CustomerFactory, UserFactory

REPO = Path(__file__).resolve().parents[2]


def settle_csv(entries: int, customers: list) -> bytes:
    rows = ["booking_date,amount,currency,bank_reference,counterparty,remittance"]
    for n in range(1, entries + 1):
        customer = customers[n % len(customers)]
        rows.append(
            f"2024-05-{1 + n % 28:02d},{10 + n % 90}.{n % 100:02d},EUR,JOB-{n:06d},{customer.name},{customer.reference} thanks"
        )
    return ("\n".join(rows) + "\n").encode()


def queue_import(entries: int) -> StatementImport:
    customers = [CustomerFactory(name=f"Payer {n}", reference=f"C-{90000 + n}") for n in range(10)]
    finance = UserFactory(username="fin")
    upload = SimpleUploadedFile("big.csv", settle_csv(entries, customers), content_type="text/csv")
    return start_import(upload, format="csv", profile="settle", dry_run=False, by=finance)


def assert_complete(statement_import: StatementImport, entries: int) -> None:
    statement_import.refresh_from_db()
    assert statement_import.status == ImportStatus.DONE, statement_import.stopped
    assert statement_import.done == statement_import.total == entries
    lines = statement_import.lines.all()
    assert lines.count() == entries
    assert not lines.values("bank_reference").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert BankEntry.objects.count() == entries  # every bank reference recorded once (unique)
    assert Payment.objects.count() == entries  # no payment doubled
    assert not Payment.objects.values("reference").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert sum(statement_import.tally.values()) == entries


class _Crash(BaseException):
    """Not an Exception: like a killed process, it leaves the import `running`."""


@pytest.mark.django_db
def test_a_crashed_import_run_again_resumes_without_doubling_anything(monkeypatch):
    entries = 2 * CHUNK + 50
    statement_import = queue_import(entries)
    real_progress = background._LineWriter.progress
    calls = []

    def crash_on_second_chunk(self, done, total, results):
        calls.append(done)
        if len(calls) == 2:
            raise _Crash  # the chunk's entries are committed, its lines are not written
        real_progress(self, done, total, results)

    monkeypatch.setattr(background._LineWriter, "progress", crash_on_second_chunk)
    with pytest.raises(_Crash):
        run_import(statement_import.pk)
    statement_import.refresh_from_db()
    assert statement_import.status == ImportStatus.RUNNING and statement_import.lines.count() == calls[0]
    assert BankEntry.objects.count() == calls[1] > calls[0]

    monkeypatch.undo()
    run_import(statement_import.pk)
    assert_complete(statement_import, entries)
    statement_import.refresh_from_db()
    assert statement_import.attempts == 2
    # The first chunk kept its first outcome; the crashed chunk's entries are found already imported.
    assert statement_import.tally == {
        "recorded": entries - (calls[1] - calls[0]),
        "already_imported": calls[1] - calls[0],
    }


def _worker(log: Path, **settings: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DJANGO_ENV": "test",
        "SETTLE_DB_NAME": connection.settings_dict["NAME"],  # the test database, on the same server
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "imports", "--concurrency", "1"],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_for(condition, *, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _progress(statement_import: StatementImport) -> StatementImport:
    return StatementImport.objects.get(pk=statement_import.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("streams", ["1", "2"])
def test_sigkill_the_worker_mid_file_then_a_new_worker_finishes_it(tmp_path, streams):
    """With two streams (intake.streams) the import's own processes die with the worker too."""
    entries = 1000
    statement_import = queue_import(entries)
    log = tmp_path / "worker.log"
    workers: list[subprocess.Popen] = []
    settings = {"SETTLE_INTAKE_STREAMS": streams, "SETTLE_INTAKE_STREAMS_FROM": "0"}
    try:
        workers.append(_worker(log, **settings))
        _wait_for(lambda: _progress(statement_import).done >= 400, seconds=40, what="400 entries done", log=log)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        _wait_for(lambda: not _in_session(workers[0].pid), seconds=10, what="the import's streams to end", log=log)
        killed_at = _progress(statement_import)
        assert killed_at.status == ImportStatus.RUNNING and killed_at.done < entries

        # The dead worker's job is stalled; the periodic task (every minute, 60 s without a
        # heartbeat) would retry it; here at once, before the next worker starts. (A job another
        # test left queued may be stalled too, if a worker of an earlier test picked it up.)
        assert _job_of(statement_import) in _retry_stalled_jobs_now()

        workers.append(_worker(log, **settings))
        _wait_for(lambda: _progress(statement_import).is_finished, seconds=60, what="the import to finish", log=log)
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
    assert_complete(statement_import, entries)


def _job_of(statement_import: StatementImport) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_jobs WHERE lock = %s", [job_lock(statement_import.pk)])
        return cursor.fetchone()[0]


def _in_session(session: int) -> list[int]:
    """The processes still in the killed worker's session (it was started in a session of its own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _retry_stalled_jobs_now() -> list[int]:
    """retry_stalled_jobs through a psycopg connection of its own, as a worker runs it (the Django
    connector would leave a connection open in asgiref's thread, blocking the test database's drop)."""
    from procrastinate.contrib.django import app

    with app.replace_connector(app.connector.get_worker_connector()) as worker_app:

        async def retry() -> list[int]:
            async with worker_app.open_async():
                return await retry_stalled_jobs(worker_app.job_manager, seconds_since_heartbeat=0)

        # On a thread of its own: after a browser test, Playwright's loop counts as running in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, retry()).result()
