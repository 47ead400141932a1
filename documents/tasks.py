"""Procrastinate tasks of the documents app: emailing the nightly run's letters.

The nightly run (documents.reminder_letters) defers one job per chunk of letters in the
chunk's own transaction, so the job exists exactly when the letters do; a worker (any
worker: they listen to every queue) sends them over one mailer connection and records a
Delivery row per attempt (documents.mailing.send_letters).
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from documents.mailing import send_letters

#: A lost database connection is worth a second try; a retried job sends only the letters
#: that have no delivery yet. A refused mail is a failed Delivery row, not a failed job.
MAIL_RETRY = RetryStrategy(max_attempts=3, wait=30, retry_exceptions={OperationalError, InterfaceError})


@app.task(name="documents.send_letters", queue="mail", retry=MAIL_RETRY)
def send_letters_job(document_ids: list[int], by_id: int | None = None) -> int:
    """Email the given letters that were not sent yet; returns how many were attempted."""
    # A sync task runs on a pool thread, where Django does not close the connection by itself.
    close_old_connections()
    try:
        return send_letters(document_ids, by_id=by_id)
    finally:
        connection.close()
