"""What a locked-out sign-in sees: the sign-in page with a message saying why and what to do (django-axes)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backoffice.sign_in import demo_sign_ins


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        "Too many failed sign-ins for this account from this address; "
        f"try again in {minutes} minutes or ask an administrator to unlock it."
    )


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials=None):
    """axes' AXES_LOCKOUT_CALLABLE, for /login/ and the admin's login alike: 429 and the sign-in form."""
    username = request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {
        "form": form,
        "lockout_message": lockout_message(),
        "demo_accounts": demo_sign_ins(),
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)


def client_address(request: HttpRequest) -> str | None:
    """axes' AXES_CLIENT_IP_CALLABLE: REMOTE_ADDR, or the address our nearest trusted proxy saw.

    Each of the SETTLE_TRUSTED_PROXY_COUNT proxies appends the address it received from to
    X-Forwarded-For, so that entry, counted from the right, is the client; anything to its
    left was written by the client and proves nothing.
    """
    count = settings.SETTLE_TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count and _is_address(forwarded[-count]):
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class RecordableHeadersMiddleware:
    """axes stores each sign-in's User-Agent and Accept headers; PostgreSQL text cannot hold NUL.

    A client sending a NUL byte in either header would otherwise turn its sign-in into a 500.
    """

    HEADERS = ("HTTP_USER_AGENT", "HTTP_ACCEPT")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for header in self.HEADERS:
            value = request.META.get(header)
            if value and "\x00" in value:
                request.META[header] = value.replace("\x00", "\ufffd")
        return self.get_response(request)
