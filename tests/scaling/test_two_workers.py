"""Task-queue workers scale out: two worker processes on one queue, every job runs exactly once.

Procrastinate takes each job with SELECT ... FOR UPDATE SKIP LOCKED in one statement, so the
workers may be on one machine or on many; here they are two processes on this one.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import pytest
from django.db import connection

from tests.scaling.jobs import RUNS_TABLE, record_run
from tests.scaling.processes import Process, start

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = 60


def _worker(queue: str, log, settings_name: str = "tests.scaling.worker_settings") -> Process:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_name,
        "SETTLE_DB_NAME": connection.settings_dict["NAME"],  # the test database, on the same server
    }
    return start(
        [sys.executable, "manage.py", "procrastinate", "worker", "--queues", queue, "--concurrency", "2"], env, log
    )


def _scalar(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _wait_for(condition, *, seconds: float, what: str, workers: list[Process]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(worker.tail() for worker in workers)
            pytest.fail(f"timed out waiting for {what}; worker logs:\n{logs}")
        time.sleep(0.2)


@pytest.fixture
def runs_table():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {RUNS_TABLE} (job_id bigint NOT NULL, n int NOT NULL, worker_pid int NOT NULL)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RUNS_TABLE}")


def test_two_workers_on_one_queue_run_every_job_once(tmp_path, runs_table):
    queue = f"scaling-{uuid.uuid4().hex[:8]}"
    # Workers are counted by id: a new worker prunes the rows of dead ones (earlier tests' killed workers).
    last_worker = _scalar("SELECT COALESCE(max(id), 0) FROM procrastinate_workers")
    workers = [_worker(queue, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    job_ids: list[int] = []
    try:
        # Both listening before the first job, so neither has the queue to itself.
        _wait_for(
            lambda: _scalar("SELECT count(*) FROM procrastinate_workers WHERE id > %s", [last_worker]) >= 2,
            seconds=90,
            what="both workers to register",
            workers=workers,
        )
        job_ids = [record_run.configure(queue=queue).defer(n=n) for n in range(JOBS)]
        _wait_for(
            lambda: (
                _scalar(
                    "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s AND status = 'succeeded'", [queue]
                )
                == JOBS
            ),
            seconds=120,
            what=f"{JOBS} jobs to succeed",
            workers=workers,
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT job_id, count(*) FROM {RUNS_TABLE} GROUP BY job_id")
            runs = dict(cursor.fetchall())
            cursor.execute(f"SELECT DISTINCT worker_pid FROM {RUNS_TABLE}")
            pids = {pid for (pid,) in cursor.fetchall()}
        assert runs == dict.fromkeys(job_ids, 1)  # every job ran, none twice
        assert pids == {worker.popen.pid for worker in workers}  # and both workers took their share
    finally:
        for worker in workers:
            worker.stop()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs WHERE queue_name = %s", [queue])
