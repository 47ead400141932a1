"""A job for the two-worker test: it records each run (job id, worker process) in a table of the test's own.

The workers load it through PROCRASTINATE_IMPORT_PATHS (tests/scaling/worker_settings.py).
"""

from __future__ import annotations

import os
import time

from django.db import connection
from procrastinate.contrib.django import app

RUNS_TABLE = "scaling_job_runs"


@app.task(name="scaling.record_run", pass_context=True)
def record_run(context, n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RUNS_TABLE} (job_id, n, worker_pid) VALUES (%s, %s, %s)", [context.job.id, n, os.getpid()]
        )
    time.sleep(0.05)  # long enough that both workers take jobs, short enough for a quick test
