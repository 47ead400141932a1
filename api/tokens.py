"""API tokens: made, looked up and revoked. Only a token's SHA-256 is stored; the token itself is
returned once, by create_token, and cannot be read back."""

from __future__ import annotations

import functools
import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
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
    # Every API request asks this first: one plain statement (compiling the queryset cost more CPU
    # than the database spent), with the user's role names (billing.roles.has_role reads
    # _settle_roles) as an ARRAY subquery.
    sql, token_columns, user_columns = _token_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest_of(text)])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(token_columns)
    token = ApiToken.from_db(connection.alias, token_columns, row[:width])
    user = get_user_model().from_db(connection.alias, user_columns, row[width:-1])
    if not user.is_active:
        return None
    user._settle_roles = set(row[-1])  # type: ignore[attr-defined]
    token.user = user
    return token


@functools.cache
def _token_sql() -> tuple[str, list[str], list[str]]:
    """The lookup's statement and the token's and the user's attribute names, built once."""
    user_model = get_user_model()
    token_fields, user_fields = ApiToken._meta.concrete_fields, user_model._meta.concrete_fields
    columns = [f't."{f.column}"' for f in token_fields] + [f'u."{f.column}"' for f in user_fields]
    group_users = user_model.groups.through._meta.db_table
    sql = (
        f"SELECT {', '.join(columns)},"
        f' ARRAY(SELECT g.name FROM "{Group._meta.db_table}" g JOIN "{group_users}" ug ON ug.group_id = g.id'
        " WHERE ug.user_id = t.user_id)"
        f' FROM "{ApiToken._meta.db_table}" t JOIN "{user_model._meta.db_table}" u ON u.id = t.user_id'
        " WHERE t.digest = %s AND t.revoked_at IS NULL"
    )
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


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
