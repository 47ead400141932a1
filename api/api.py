"""The NinjaAPI at /api/v1/: routers of each resource, error bodies, idempotent POSTs, the OpenAPI document.

`urls()` wraps every view in api.idempotency (POST with an Idempotency-Key) and marks it as
not needing the pages' sign-in redirect: the API answers 401 in JSON instead.
"""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI

from api import errors
from api.idempotency import HEADER, MAX_KEY_LENGTH, idempotent, json_error
from api.routers import customers, documents, invoices, orders, payments, plans, registrations, tokens, webhooks
from api.tokens import bearer_text, request_token

DESCRIPTION = """Settle's machine interface: thin endpoints over the services of DESIGN.md section 7.

* **Auth**: `Authorization: Bearer stl_…` (a per-user token). Support reads, finance writes.
* **Money** is a string (`"12.50"`), never a number; dates are ISO 8601.
* **Idempotency**: every POST takes an `Idempotency-Key` header; the same key and body replays the
  first response (header `Idempotent-Replayed: true`), another body with that key is a 409.
* **Errors** are `{"code": <error class>, "message": <text>, "field": <name or null>}`.
* **Lists** take the pages' filters, `per_page` (at most 200) and the cursors of `links.next` / `links.previous`.
"""


class SettleAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """The generated document, with the Idempotency-Key header on every POST."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema["paths"].values():
            post = operations.get("post")
            if post is not None:
                post.setdefault("parameters", []).append(
                    {
                        "in": "header",
                        "name": HEADER,
                        "required": False,
                        "description": "Send it again with a retry: the first response comes back, the work is done once.",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_KEY_LENGTH,
                            "pattern": "^[!-~]+$",
                        },
                    }
                )
        return schema


def staff_only(view):
    """The document and the docs page are for Settle's own users and its integrators, not the
    whole internet: a signed-in clerk (the docs page in the browser) or a live token (a client
    fetching openapi.json). Anyone else is sent to sign in, or gets a 401 for a bad token."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.user.is_authenticated or request_token(request) is not None:
            return view(request, *args, **kwargs)
        if bearer_text(request):
            response = json_error(401, "Unauthorized", "This token is unknown or revoked.")
            response["WWW-Authenticate"] = "Bearer"
            return response
        return redirect_to_login(request.get_full_path())

    return wrapper


api = SettleAPI(
    title="Settle API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=staff_only,
)
errors.install(api)
for module in (customers, invoices, payments, orders, plans, registrations, documents, webhooks, tokens):
    api.add_router("/", module.router)


def _wrapped(patterns: list) -> list:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _wrapped(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback = idempotent(pattern.callback)
    return patterns


def urls():
    patterns, app_name, namespace = api.urls
    return _wrapped(list(patterns)), app_name, namespace
