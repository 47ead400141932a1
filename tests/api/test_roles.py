"""Every endpoint x role: support reads, finance writes, no role and no token are refused; a session
may read but never write; a revoked token stops working; production takes HTTPS only."""

import json

import pytest
from django.test import Client, override_settings

from api.models import ApiToken
from api.openapi import DOCUMENT
from api.tokens import create_token, revoke_token
from payments.models import Payment
from tests.api.conftest import ApiClient

OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in json.loads(DOCUMENT.read_text())["paths"].items()
    for method in operations
)
# Any signed-in role manages its own tokens.
OWN = {("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"), ("POST", "/api/v1/tokens/{id}/revoke")}


def _call(api: ApiClient, method: str, path: str):
    url = path.replace("{id}", "1")
    return api.get(url) if method == "GET" else api.post(url, {})


def test_the_document_lists_every_resource():
    paths = {path for _method, path in OPERATIONS}
    for resource in ("customers", "invoices", "payments", "orders", "plans", "documents", "webhooks", "tokens"):
        assert f"/api/v1/{resource}" in paths
    assert len(OPERATIONS) >= 40


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_without_a_token_nothing_is_answered(anonymous_api, method, path):
    response = _call(anonymous_api, method, path)
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthorized"


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_user_without_a_role_is_refused(nobody_api, method, path):
    response = _call(nobody_api, method, path)
    assert response.status_code == 403
    assert "role" in response.json()["message"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_support_reads_and_may_not_write(support_api, method, path):
    response = _call(support_api, method, path)
    if method == "GET" or (method, path) in OWN:
        assert response.status_code not in (401, 403), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json() == {
            "code": "Forbidden",
            "message": "This needs the Finance role. Ask an administrator if you should have it.",
            "field": None,
        }


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_finance_reads_and_writes(finance_api, method, path):
    response = _call(finance_api, method, path)
    assert response.status_code not in (401, 403, 405, 500), response.content
    # An empty body or a missing row: a 4xx naming what is wrong, never a crash.
    assert response.status_code < 500


@pytest.mark.django_db
def test_a_session_may_read_but_not_write(customer):
    from tests.web_users import user_with_role

    client = Client()
    client.force_login(user_with_role("finance", "session-finance"))
    assert client.get(f"/api/v1/customers/{customer.pk}").status_code == 200
    response = client.post(
        "/api/v1/payments",
        json.dumps({"customer_id": customer.pk, "amount": "10.00", "currency": "EUR"}),
        content_type="application/json",
    )
    assert response.status_code == 401
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_revoked_token_stops_working(finance_api, customer):
    assert finance_api.get(f"/api/v1/customers/{customer.pk}").status_code == 200
    revoke_token(ApiToken.objects.get(user=finance_api.user), by=None)
    assert finance_api.get(f"/api/v1/customers/{customer.pk}").status_code == 401


@pytest.mark.django_db
def test_only_the_hash_is_kept_and_the_token_is_shown_once(finance_api):
    response = finance_api.post("/api/v1/tokens", {"name": "shop"})
    assert response.status_code == 201
    text = response.json()["token"]
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert text not in {row.digest, row.prefix, row.name} and len(row.digest) == 64
    listed = finance_api.get("/api/v1/tokens").json()
    assert all("token" not in item for item in listed)
    assert ApiClient(text).get("/api/v1/tokens").status_code == 200
    # Revoking one's own token through the API; someone else's is not found.
    assert finance_api.post(f"/api/v1/tokens/{row.pk}/revoke").json()["revoked_at"]
    assert ApiClient(text).get("/api/v1/tokens").status_code == 401


@pytest.mark.django_db
def test_a_user_cannot_revoke_another_users_token(finance_api, support_api):
    other = ApiToken.objects.get(user=support_api.user)
    assert finance_api.post(f"/api/v1/tokens/{other.pk}/revoke").status_code == 404
    assert ApiToken.objects.get(pk=other.pk).revoked_at is None


@pytest.mark.django_db
def test_production_takes_https_only(finance_api, customer):
    with override_settings(SETTLE_API_REQUIRE_HTTPS=True):
        plain = finance_api.get(f"/api/v1/customers/{customer.pk}")
        assert plain.status_code == 403
        assert "HTTPS" in plain.json()["message"]
        secure = finance_api.client.get(
            f"/api/v1/customers/{customer.pk}", secure=True, headers={"Authorization": f"Bearer {finance_api.token}"}
        )
        assert secure.status_code == 200


@pytest.mark.django_db
def test_the_admin_and_the_command_make_tokens(customer):
    from io import StringIO

    from django.core.management import call_command

    from tests.web_users import user_with_role

    user_with_role("support", "cli-user")
    out = StringIO()
    call_command("api_token", "create", "cli-user", "bank connector", stdout=out)
    text = out.getvalue().strip().splitlines()[-1]
    assert ApiClient(text).get(f"/api/v1/customers/{customer.pk}").status_code == 200
    token_id = ApiToken.objects.get(name="bank connector").pk
    call_command("api_token", "revoke", str(token_id), stdout=StringIO())
    assert ApiClient(text).get(f"/api/v1/customers/{customer.pk}").status_code == 401


@pytest.mark.django_db
def test_create_token_needs_an_active_user():
    from billing.errors import InvalidState
    from tests.web_users import user_with_role

    user = user_with_role("finance", "gone")
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(InvalidState):
        create_token(user=user, name="x", by=None)
