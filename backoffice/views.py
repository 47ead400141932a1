"""The dashboard: every work queue with its count and money, the last reconciliation, shortcuts;
and the page a form lands on when its CSRF check fails (a tab left open across a sign-out)."""

from urllib.parse import urlencode

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from backoffice.dashboard import collections_queue, invoice_queues, latest_reconciliation_run, payment_queues
from billing.roles import SUPPORT, role_required


@role_required(SUPPORT)
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    context = {
        "today": today,
        "invoice_queues": invoice_queues(today),
        "payment_queues": payment_queues(),
        "collections": collections_queue(),
        "reconciliation_installed": apps.is_installed("reconciliation"),
        "run": latest_reconciliation_run(),
    }
    return render(request, "dashboard.html", context)


# What a failed form posted, kept in the session until the clerk has signed in again.
RESUBMIT_SESSION_KEY = "settle_resubmit"
_NEVER_KEPT = ("csrfmiddlewaretoken",)


def preserved_fields(request: HttpRequest) -> list[tuple[str, str]]:
    """The posted fields worth typing again: not the stale CSRF token, never a password."""
    return [
        (name, value)
        for name, values in request.POST.lists()
        if name not in _NEVER_KEPT and "password" not in name.lower()
        for value in values
    ]


def from_this_site(request: HttpRequest) -> bool:
    """The browser says the POST came from one of our pages (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(source) and url_has_allowed_host_and_scheme(
        source, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: explain, keep what was typed, offer to send it again.

    Signed in (the token went stale in an old tab): the page re-renders the posted fields
    as hidden inputs in a form with a fresh token that posts back to the original URL.
    Signed out: the fields wait in the session and the sign-in link returns to resubmit_form,
    which shows the same form once the clerk is back.
    """
    if not from_this_site(request):
        # A POST from another site: explain, but never turn its fields into a form with a
        # valid token (that would hand the forged request a one-click way through).
        return render(request, "403_csrf.html", {"foreign": True}, status=403)
    kept = {"path": request.path, "fields": preserved_fields(request)}
    context = {"kept": kept, "signed_in": request.user.is_authenticated}
    if not request.user.is_authenticated:
        request.session[RESUBMIT_SESSION_KEY] = kept
        context["sign_in_url"] = f"{reverse('login')}?{urlencode({'next': reverse('resubmit')})}"
    return render(request, "403_csrf.html", context, status=403)


def resubmit_form(request: HttpRequest) -> HttpResponse:
    """After signing in again: the form that failed, with what was typed and a fresh token."""
    kept = request.session.get(RESUBMIT_SESSION_KEY)
    if not kept:
        return redirect("dashboard")
    return render(request, "403_csrf.html", {"kept": kept, "signed_in": True, "after_sign_in": True})
