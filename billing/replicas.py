"""Read replicas: which reads may go to the streaming standby (the `replica` database), and when not.

A request reads from the replica only when all of these hold (ReplicaReadsMiddleware):

- a replica is configured (DATABASE_REPLICA_URL sets settings.SETTLE_READ_REPLICA);
- it is a GET or HEAD of one of the read-only pages named in settings.SETTLE_REPLICA_VIEWS
  (lists, CSV exports, dashboard, customer page, documents list);
- the browser did not write in the last SETTLE_READ_YOUR_WRITES_SECONDS (read-your-writes:
  every POST sets a short-lived signed cookie, and while it lasts the pages read the primary,
  so a clerk always sees what they just did);
- the replica answers and is no more than SETTLE_REPLICA_MAX_LAG_SECONDS behind.

Even then the router sends a query to the replica only outside transaction.atomic() (a
service reads what it is about to write under its locks, on the primary), and only for the
project's own tables: sessions, users, the sign-in throttle, form tokens and the task queue
are always read on the primary. Every write goes to the primary. If the replica fails in the
middle of a page, the page is served again from the primary (a GET writes nothing, so running
it twice is safe), and the replica is not tried again for SETTLE_REPLICA_CHECK_SECONDS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

#: The database alias reads go to in this request (or block), None for the primary.
_reads_from: ContextVar[str | None] = ContextVar("settle_reads_from", default=None)

#: Apps whose tables are always read on the primary: who is signed in, with which rights,
#: which form token is spent, which job is queued must never be seconds old.
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "axes", "submissions", "procrastinate", "admin"})

_COOKIE = "settle_wrote"
_SALT = "settle.replicas.read-your-writes"
_SAFE_METHODS = ("GET", "HEAD")

# How far the standby is behind: nothing when it has replayed all it received, else the age of
# the last transaction it replayed (an idle primary sends nothing, so that age alone would grow).
_LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
       END
"""


def replica_alias() -> str | None:
    """The replica's alias when one is configured, else None (every read on the primary)."""
    alias = getattr(settings, "SETTLE_READ_REPLICA", None)
    return alias if alias and alias in settings.DATABASES else None


class ReplicaRouter:
    """Sends reads to the replica while a request (or `replica_reads()`) allows it; writes to the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        alias = _reads_from.get()
        if alias is None or model._meta.app_label in PRIMARY_ONLY_APPS:
            return None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return None  # inside a service's transaction: read what is locked, on the primary
        return alias

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the replica is a copy of the primary: the same rows

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        return False if db == replica_alias() else None  # a standby is read-only; it replays the primary's


# --- Is the replica usable, and how far behind? ---------------------------------------------------


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    lag_seconds: float | None  # None when unreachable
    checked_at: float


_states: dict[str, ReplicaState] = {}
_states_lock = threading.Lock()


def _check(alias: str) -> ReplicaState:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_LAG_SQL)
            _, lag = cursor.fetchone()
    except DatabaseError as error:
        logger.warning("Replica %r unreachable, reading from the primary: %s", alias, error)
        connection.close()
        return ReplicaState(usable=False, lag_seconds=None, checked_at=time.monotonic())
    lag = float(lag)
    usable = lag <= settings.SETTLE_REPLICA_MAX_LAG_SECONDS
    if not usable:
        logger.warning("Replica %r is %.1f s behind, reading from the primary", alias, lag)
    return ReplicaState(usable=usable, lag_seconds=lag, checked_at=time.monotonic())


def replica_state(alias: str) -> ReplicaState:
    """The replica's state, checked at most every SETTLE_REPLICA_CHECK_SECONDS per process."""
    state = _states.get(alias)
    if state is None or time.monotonic() - state.checked_at >= settings.SETTLE_REPLICA_CHECK_SECONDS:
        state = _check(alias)
        with _states_lock:
            _states[alias] = state
    return state


def mark_replica_down(alias: str) -> None:
    connections[alias].close()
    with _states_lock:
        _states[alias] = ReplicaState(usable=False, lag_seconds=None, checked_at=time.monotonic())


def forget_replica_state() -> None:
    """Check the replica again on the next request (tests, after starting or stopping it)."""
    with _states_lock:
        _states.clear()


@contextmanager
def replica_reads() -> Iterator[str | None]:
    """Reads in this block go to the replica when it is usable (the benchmark's list stage, reports).

    Yields the alias read from, or None when that is the primary.
    """
    alias = replica_alias()
    if alias is not None and not replica_state(alias).usable:
        alias = None
    token = _reads_from.set(alias)
    try:
        yield alias
    finally:
        _reads_from.reset(token)


# --- Per request ---------------------------------------------------------------------------------


def wrote_recently(request: HttpRequest) -> bool:
    return (
        request.get_signed_cookie(_COOKIE, default=None, salt=_SALT, max_age=settings.SETTLE_READ_YOUR_WRITES_SECONDS)
        is not None
    )


def _streamed_from(alias: str, content: Iterator[bytes]) -> Iterator[bytes]:
    """A CSV export is read while it is sent, after the view returned: keep reading the replica."""
    iterator = iter(content)
    while True:
        token = _reads_from.set(alias)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _reads_from.reset(token)
        yield chunk


class ReplicaReadsMiddleware:
    """Routes the read-only pages to the replica and keeps read-your-writes; see the module docstring."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.read_from = None  # type: ignore[attr-defined]
        request.replica_lag = None  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            _reads_from.set(None)
        alias = request.read_from  # type: ignore[attr-defined]
        if alias is not None and response.streaming:
            response.streaming_content = _streamed_from(alias, response.streaming_content)
        if alias is not None:
            response["X-Settle-Read-From"] = "replica"
        if request.method not in _SAFE_METHODS and replica_alias() is not None:
            response.set_signed_cookie(
                _COOKIE,
                "1",
                salt=_SALT,
                max_age=settings.SETTLE_READ_YOUR_WRITES_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        alias = replica_alias()
        if alias is None or request.method not in _SAFE_METHODS:
            return None
        match = request.resolver_match
        if match is None or match.view_name not in settings.SETTLE_REPLICA_VIEWS or wrote_recently(request):
            return None
        state = replica_state(alias)
        if not state.usable:
            return None
        request.read_from = alias  # type: ignore[attr-defined]
        request.replica_lag = state.lag_seconds  # type: ignore[attr-defined]
        _reads_from.set(alias)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        alias = getattr(request, "read_from", None)
        if alias is None or not isinstance(exception, DatabaseError):
            return None
        # Down, or a query cancelled by a conflict with recovery: either way the page is served
        # again from the primary. Only a replica that does not answer is left alone for a while.
        logger.warning("Replica %r failed during %s, serving it from the primary: %s", alias, request.path, exception)
        if not _replica_answers(alias):
            mark_replica_down(alias)
        request.read_from = None  # type: ignore[attr-defined]
        request.replica_lag = None  # type: ignore[attr-defined]
        _reads_from.set(None)
        match = request.resolver_match
        assert match is not None  # process_view ran for this request
        return match.func(request, *match.args, **match.kwargs)


def _replica_answers(alias: str) -> bool:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def replica_context(request: HttpRequest) -> dict:
    """Template context: the replica's lag, when this page was read from it and the lag is worth saying."""
    lag = getattr(request, "replica_lag", None)
    if lag is None or lag < settings.SETTLE_REPLICA_LAG_SHOWN_SECONDS:
        return {}
    return {"replica_lag_seconds": int(lag)}
