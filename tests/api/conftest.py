"""API fixtures: a token per role and a JSON client that sends it."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from api.tokens import create_token
from tests.web_users import user_with_role


class ApiClient:
    """Django's test client speaking JSON with a bearer token (the whole middleware stack runs)."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**sent, **(headers or {})}

    def get(self, path: str, params: dict | None = None, **headers):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, body: dict | None = None, *, key: str | None = None, **headers):
        if key is not None:
            headers["Idempotency-Key"] = key
        data = json.dumps(body if body is not None else {})
        return self.client.post(path, data, content_type="application/json", headers=self._headers(headers))


def client_for(role: str | None, name: str) -> ApiClient:
    user = user_with_role(role, username=name)
    _token, text = create_token(user=user, name="tests", by=None)
    client = ApiClient(text)
    client.user = user
    return client


@pytest.fixture
def finance_api(db):
    return client_for("finance", "api-finance")


@pytest.fixture
def support_api(db):
    return client_for("support", "api-support")


@pytest.fixture
def nobody_api(db):
    return client_for(None, "api-nobody")


@pytest.fixture
def anonymous_api(db):
    return ApiClient(None)
