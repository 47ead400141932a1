"""Sessions end after SESSION_COOKIE_AGE without a request, renewing the session row only now and then.

Django's database sessions already expire SESSION_COOKIE_AGE after their last save. Saving on
every request (SESSION_SAVE_EVERY_REQUEST) would make each page view an UPDATE of the session
row; instead this middleware renews a signed-in session when its last renewal is older than
SESSION_RENEW_SECONDS, so a session idle for SESSION_COOKIE_AGE ends (give or take that
interval) while ordinary requests write nothing. It also ends a session whose last renewal is
older than SESSION_COOKIE_AGE itself, whatever the session backend does about expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

SEEN_KEY = "settle_seen"


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            seen = request.session.get(SEEN_KEY)
            if isinstance(seen, int) and now - seen > settings.SESSION_COOKIE_AGE:
                logout(request)  # flushes the session; LoginRequiredMiddleware sends them to sign in
            elif not isinstance(seen, int) or now - seen >= settings.SESSION_RENEW_SECONDS:
                request.session[SEEN_KEY] = now  # modified: SessionMiddleware saves it, moving expire_date
        return self.get_response(request)
