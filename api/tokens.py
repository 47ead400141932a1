"""API tokens: made, looked up and revoked. Only a token's SHA-256 is stored; the token itself is
returned once, by create_token, and cannot be read back."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import OuterRef
from django.utils import timezone

from api.models import ApiToken
from billing.actors import Actor
from billing.errors import InvalidInput, InvalidState

PREFIX = "stl_"


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_token(*, user, name: str, by: Actor) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token text (shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the token a name that says where it is used (e.g. 'shop').")
    if len(name) > 100:
        raise InvalidInput("A token's name has at most 100 characters.")
    if not user.is_active:
        raise InvalidState(f"User {user.get_username()} is not active; a token for them would not work.")
    text = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=text[:12], digest=digest_of(text), created_by=by)
    return token, text


@transaction.atomic
def revoke_token(token: ApiToken, *, by: Actor) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_for(text: str) -> ApiToken | None:
    """The live token with this text (its user loaded), or None: unknown, revoked or a user gone inactive."""
    if not text.startswith(PREFIX) or len(text) > 100:
        return None
    # The user's role names come along (one query; billing.roles.has_role reads _settle_roles),
    # as an ARRAY(subquery): no GROUP BY over every column of the token and the user to plan.
    token = (
        ApiToken.objects.select_related("user")
        .annotate(role_names=ArraySubquery(Group.objects.filter(user=OuterRef("user_id")).values("name")))
        .filter(digest=digest_of(text), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    token.user._settle_roles = set(token.role_names)  # type: ignore[attr-defined]
    return token


def bearer_text(request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, text = value.partition(" ")
    return text.strip() if scheme.lower() == "bearer" and text.strip() else None


def request_token(request) -> ApiToken | None:
    """The request's bearer token, looked up once per request."""
    if not hasattr(request, "_settle_api_token"):
        text = bearer_text(request)
        request._settle_api_token = token_for(text) if text else None
    return request._settle_api_token


def user_by_name(username: str):
    return get_user_model().objects.filter(username=username).first()
