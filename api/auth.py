"""Who may call the API: a bearer token (or, for reads only, a signed-in session) with the pages' roles.

Support reads, finance writes (billing.roles). Writes take a token only: a session cookie would
let another site's page post on a clerk's behalf. In production (SETTLE_API_REQUIRE_HTTPS) a request
that did not come over HTTPS is refused before its token is even looked at. Each token may make
SETTLE_API_RATE_LIMIT requests a minute, counted in the database for all web processes together.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.security import HttpBearer, SessionAuth

from api.models import RateWindow
from api.tokens import request_token
from billing.roles import FINANCE, ROLE_LABELS, SUPPORT, has_role


class Throttled(HttpError):
    def __init__(self, wait: int) -> None:
        super().__init__(429, f"Too many requests for this token; try again in {wait} s.")
        self.wait = wait


def require_https(request: HttpRequest) -> None:
    if getattr(settings, "SETTLE_API_REQUIRE_HTTPS", False) and not request.is_secure():
        raise AuthorizationError(message="The API takes requests over HTTPS only.")


_BUMP = (
    "INSERT INTO api_ratewindow AS w (token_id, minute, count) VALUES (%s, %s, 1)"
    " ON CONFLICT (token_id, minute) DO UPDATE SET count = w.count + 1 RETURNING w.count"
)


def count_request(request: HttpRequest, token_id: int) -> None:
    """Count the request against its token's minute, once per request; Throttled over the limit.

    One statement on the primary, in a table every web process shares (api.models.RateWindow), so
    the limit holds however many processes serve the API. Called before the request's
    transaction opens (api.idempotency), so the counter row is never held while the work runs."""
    if getattr(request, "_settle_rate_counted", False):
        return
    request._settle_rate_counted = True  # type: ignore[attr-defined]
    now = time.time()
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(_BUMP, [token_id, int(now // 60)])
        (count,) = cursor.fetchone()
    if count > settings.SETTLE_API_RATE_LIMIT:
        raise Throttled(wait=60 - int(now) % 60)


def purge_rate_windows(*, now: float | None = None) -> int:
    """Forget the counts of minutes that are over (the hourly cleanup)."""
    current = int((now if now is not None else time.time()) // 60)
    deleted, _ = RateWindow.objects.filter(minute__lt=current - 1).delete()
    return deleted


def _require_role(user, role: str) -> None:
    if not has_role(user, role):
        raise AuthorizationError(
            message=f"This needs the {ROLE_LABELS[role]} role. Ask an administrator if you should have it."
        )


class TokenAuth(HttpBearer):
    """Authorization: Bearer stl_…, for a user with `role`."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def authenticate(self, request: HttpRequest, token: str):
        require_https(request)
        api_token = request_token(request)
        if api_token is None:
            raise AuthenticationError(message="This token is unknown or revoked.")
        count_request(request, api_token.pk)
        user = api_token.user
        _require_role(user, self.role)
        request.user = user
        return user


class SessionRead(SessionAuth):
    """A signed-in clerk's browser may read (the interactive docs use it); never write."""

    def __init__(self) -> None:
        super().__init__(csrf=False)  # GET only: nothing to forge

    def authenticate(self, request: HttpRequest, key: str | None):
        require_https(request)
        user = super().authenticate(request, key)
        if user is None:
            return None
        _require_role(user, SUPPORT)
        return user


READ = [TokenAuth(SUPPORT), SessionRead()]
WRITE = [TokenAuth(FINANCE)]
# Any signed-in user with a token (their own tokens).
SELF = [TokenAuth(SUPPORT)]
