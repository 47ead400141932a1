"""Staff roles. Groups are created by a data migration; superusers can do everything.

support: reads everything and adds collection notes.
finance: also moves money (allocate, deallocate, refund, void, credit, chargeback, cancel, import).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.log import log_response
from django.views.defaults import permission_denied

from billing.actors import AuthenticatedHttpRequest

SUPPORT = "support"
FINANCE = "finance"
ROLES = (SUPPORT, FINANCE)
ROLE_LABELS = {SUPPORT: "Support", FINANCE: "Finance"}


def has_role(user, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    names = getattr(user, "_settle_roles", None)
    if names is None:
        names = set(user.groups.values_list("name", flat=True))
        user._settle_roles = names
    if role == SUPPORT:
        return bool(names & {SUPPORT, FINANCE})
    return role in names


def is_finance(user) -> bool:
    return has_role(user, FINANCE)


def is_staff_member(user) -> bool:
    return has_role(user, SUPPORT)


class RoleRequired(PermissionDenied):
    """403 that names the role the action needs; the 403 template shows it."""

    def __init__(self, role: str):
        self.role = role
        super().__init__(f"This needs the {ROLE_LABELS[role]} role. Ask an administrator if you should have it.")


def forbidden(request: HttpRequest, role: str) -> HttpResponse:
    """The 403 page naming the role, logged as one warning line: a missing role is an everyday
    event, not a crash, so no traceback (raising PermissionDenied would log one per request)."""
    response = permission_denied(request, RoleRequired(role))
    log_response(
        "Forbidden (needs the %s role): %s",
        ROLE_LABELS[role],
        request.path,
        response=response,
        request=request,
        level="warning",
    )
    return response


def role_required[**P, R: HttpResponseBase](
    role: str,
) -> Callable[
    [Callable[Concatenate[AuthenticatedHttpRequest, P], R]],
    Callable[Concatenate[HttpRequest, P], R | HttpResponse],
]:
    """View decorator: 403 (naming the role, logged without a traceback) unless the user has it.

    The view may annotate its request as AuthenticatedHttpRequest: it only runs for an active
    signed-in user, so request.user is a User there."""

    def decorator(
        view: Callable[Concatenate[AuthenticatedHttpRequest, P], R],
    ) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
            if not has_role(request.user, role):
                return forbidden(request, role)
            # has_role is False for AnonymousUser, so the user is signed in from here on.
            return view(cast(AuthenticatedHttpRequest, request), *args, **kwargs)

        return wrapper

    return decorator


def roles_context(request) -> dict:
    """Template context: what the signed-in user may do, so forbidden buttons are not shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can_move_money": False, "can_read": False}
    return {"can_move_money": is_finance(user), "can_read": is_staff_member(user)}
