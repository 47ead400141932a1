"""Procrastinate tasks of the intake app: the background statement import.

Run by `manage.py procrastinate worker` (any number of workers, on any machine that reaches
the database); `make run` starts one beside the web server. The work itself is
intake.background.run_import; this module only binds it to the queue.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from intake.background import run_import

#: A lost connection is worth a second try (the import resumes); a file the importer refuses
#: is not: it fails at once and shows its error with a "Run again" button.
IMPORT_RETRY = RetryStrategy(max_attempts=2, wait=10, retry_exceptions={OperationalError, InterfaceError})


@app.task(name="intake.import_statement_file", queue="imports", retry=IMPORT_RETRY)
def import_statement_file(statement_import_id: int) -> None:
    """Import a stored statement; deferred by intake.background with its locks."""
    # Procrastinate runs sync tasks on a pool thread, where Django does not close the
    # connection by itself (no request cycle): drop a stale one first, close it after.
    close_old_connections()
    try:
        run_import(statement_import_id)
    finally:
        connection.close()
