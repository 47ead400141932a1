"""Who did it: the acting user every service takes as its required keyword `by`.

None means the system (a nightly command, the demo seeder); a view always passes
request.user. Required, so a forgotten `by=request.user` is a TypeError, not "system".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.http import HttpRequest

if TYPE_CHECKING:
    # Only for the type checker: importing auth's models here would need the app registry.
    from django.contrib.auth.models import User

# The concrete user model (AUTH_USER_MODEL is the default), which every created_by points to.
Actor: TypeAlias = "User | None"


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind billing.roles.role_required: someone is signed in, so
    request.user is a User, never AnonymousUser. An annotation only (django-stubs' idiom);
    Django still passes a plain HttpRequest."""

    user: User
