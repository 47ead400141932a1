"""The OpenAPI document: served at /api/v1/openapi.json equal to the committed api/openapi.json (regenerate
with `manage.py api_schema`), and the interactive docs page at /api/v1/docs from our own static files."""

import json

import pytest

from api.openapi import DOCUMENT, current_schema


def test_the_committed_document_is_the_current_one():
    assert DOCUMENT.read_text() == current_schema(), "api/openapi.json is stale: run 'manage.py api_schema'"


@pytest.mark.django_db
def test_the_served_document_is_the_committed_one(support_api):
    served = support_api.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT.read_text())


@pytest.mark.django_db
def test_every_post_documents_the_idempotency_key_and_money_is_a_string():
    document = json.loads(DOCUMENT.read_text())
    for path, operations in document["paths"].items():
        if "post" in operations:
            names = [p["name"] for p in operations["post"].get("parameters", [])]
            assert "Idempotency-Key" in names, path
    invoice = document["components"]["schemas"]["InvoiceOut"]["properties"]
    assert invoice["total"]["type"] == "string"
    assert "number" not in json.dumps(invoice["balance_due"])


@pytest.mark.django_db
def test_the_docs_page_loads_its_scripts_from_this_site(support_api, client):
    from tests.web_users import user_with_role

    client.force_login(user_with_role("support", "docs-reader"))
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    text = page.content.decode()
    assert "cdn." not in text and "swagger-ui-bundle.js" in text


@pytest.mark.django_db
def test_the_document_and_the_docs_are_not_public(client, anonymous_api):
    page = client.get("/api/v1/docs")
    assert page.status_code == 302 and "/login" in page["Location"]
    assert client.get("/api/v1/openapi.json").status_code == 302
    from tests.api.conftest import ApiClient

    refused = ApiClient("stl_not-a-token").get("/api/v1/openapi.json")
    assert refused.status_code == 401 and refused.json()["code"] == "Unauthorized"
