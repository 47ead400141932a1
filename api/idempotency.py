"""Idempotency-Key on every POST: a retry gets the first response; the work is done once.

The key's row is claimed first, in the same transaction as the work (INSERT ... ON CONFLICT DO
NOTHING on the unique (user, key)). A concurrent request with the same key waits on that index
entry until the first transaction ends: if it committed, the second finds the stored response
and replays it (same status, same body) without running the endpoint; if it rolled back, the
second claims the key and does the work itself. Ten identical POSTs at once do it once.

The same key with another body (or path) is a 409. A 4xx answer is stored and replayed too
(the endpoint's writes are rolled back to a savepoint first), as the services refuse the same
request the same way; answers that say nothing about the request itself (401, 403, 413, 429, 5xx)
are not stored, and the key stays free for the retry. Keys are kept KEPT_FOR (a cleanup command,
`manage.py purge_idempotency_keys`, and a periodic task delete older ones).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json

from django.contrib.auth.decorators import login_not_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from api.auth import Throttled, count_request
from api.models import IdempotencyKey
from api.tokens import request_token

HEADER = "Idempotency-Key"
KEPT_FOR = datetime.timedelta(hours=24)
MAX_KEY_LENGTH = 255
NOT_STORED = {401, 403, 413, 429}


def fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def json_error(status: int, code: str, message: str) -> HttpResponse:
    body = json.dumps({"code": code, "message": message, "field": None})
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def _throttled(error: Throttled) -> HttpResponse:
    response = json_error(429, "Throttled", str(error.message))
    response["Retry-After"] = str(error.wait)
    return response


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status_code or 200, content_type=row.content_type or None)
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(user_id: int, key: str, print_: str) -> bool:
    """Insert the key's row (or take over an expired one); False when another request holds it,
    after waiting for that request's transaction to end."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO api_idempotencykey (user_id, key, fingerprint, status_code, content_type, body, created_at)"
            " VALUES (%s, %s, %s, NULL, '', '', %s) ON CONFLICT (user_id, key) DO UPDATE"
            " SET fingerprint = EXCLUDED.fingerprint, status_code = NULL, content_type = '', body = '',"
            " created_at = EXCLUDED.created_at WHERE api_idempotencykey.created_at < %s RETURNING id",
            [user_id, key, print_, now, now - KEPT_FOR],
        )
        return cursor.fetchone() is not None


def _store(user_id: int, key: str, status: int, content_type: str, body: bytes) -> None:
    """The key's answer, kept for a retry (plain SQL, as _claim: this ends every keyed POST)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE api_idempotencykey SET status_code = %s, content_type = %s, body = %s WHERE user_id = %s AND key = %s",
            [status, content_type, body, user_id, key],
        )


def idempotent(view):
    """Wrap one of ninja's URL views: POSTs with an Idempotency-Key go through the key's row."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        # PostgreSQL refuses NUL in text; billing.middleware refuses it in forms and query strings,
        # here in a JSON body ("\u0000"), before it can reach a query.
        if request.method == "POST" and b"\\u0000" in request.body:
            return json_error(400, "InvalidInput", "The request contains a NUL character, which no field accepts.")
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return view(request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
            return json_error(422, "ValidationError", f"An {HEADER} has 1 to {MAX_KEY_LENGTH} characters.")
        token = request_token(request)
        if token is None:  # the view answers 401 (or 403 over plain HTTP) and stores nothing
            return view(request, *args, **kwargs)
        try:  # counted before the transaction, so the token's counter row is not held during the work
            count_request(request, token.pk)
        except Throttled as error:
            return _throttled(error)
        print_ = fingerprint(request)
        with transaction.atomic():
            if not _claim(token.user_id, key, print_):
                row = IdempotencyKey.objects.get(user_id=token.user_id, key=key)
                if row.fingerprint != print_:
                    return json_error(
                        409,
                        "IdempotencyKeyReused",
                        f"The {HEADER} {key!r} was used for another request; use a new key for new work.",
                    )
                return _replay(row)
            savepoint = transaction.savepoint_create()
            response = view(request, *args, **kwargs)
            status = response.status_code
            if status >= 400:
                transaction.savepoint_rollback(savepoint)  # nothing the endpoint did stays
            else:
                transaction.savepoint_commit(savepoint)
            if status >= 500 or status in NOT_STORED or getattr(response, "streaming", False):
                transaction.set_rollback(True)  # the key stays free for the retry
                return response
            _store(token.user_id, key, status, response.get("Content-Type", ""), response.content)
        return response

    return login_not_required(wrapper)


def purge_expired(*, now: datetime.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - KEPT_FOR
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
