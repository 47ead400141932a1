"""A user's own API tokens: list, make another (shown once), revoke. Administrators manage anyone's
in the admin (api.admin) or with `manage.py api_token`."""

import datetime

from ninja import Field, Router, Schema, Status
from ninja.responses import codes_4xx

from api import tokens
from api.auth import SELF
from api.lookups import get_row
from api.models import ApiToken
from api.schemas import Error, Id
from billing.actors import AuthenticatedHttpRequest

router = Router(tags=["tokens"])


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime.datetime
    revoked_at: datetime.datetime | None


class NewToken(TokenOut):
    token: str = Field(description="the token itself; shown only now, Settle keeps only its hash")


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)


@router.get("/tokens", response={200: list[TokenOut], codes_4xx: Error}, auth=SELF)
def my_tokens(request: AuthenticatedHttpRequest):
    return list(ApiToken.objects.filter(user=request.user).order_by("-id")[:200])


@router.post("/tokens", response={201: NewToken, codes_4xx: Error}, auth=SELF)
def create_token(request: AuthenticatedHttpRequest, payload: TokenIn):
    token, text = tokens.create_token(user=request.user, name=payload.name, by=request.user)
    return Status(201, {**TokenOut.model_validate(token).model_dump(), "token": text})


@router.post("/tokens/{id}/revoke", response={200: TokenOut, codes_4xx: Error}, auth=SELF)
def revoke_token(request: AuthenticatedHttpRequest, id: Id):
    token = get_row(ApiToken.objects.filter(user=request.user), id, "token of yours")
    return tokens.revoke_token(token, by=request.user)
