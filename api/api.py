"""The NinjaAPI at /api/v1/: routers of each resource, error bodies, idempotent POSTs, the OpenAPI document.

`urls()` wraps every view in api.idempotency (POST with an Idempotency-Key) and marks it as
not needing the pages' sign-in redirect: the API answers 401 in JSON instead.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI

from api import errors
from api.idempotency import HEADER, MAX_KEY_LENGTH, idempotent
from api.routers import customers, documents, invoices, orders, payments, plans, registrations, tokens, webhooks

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


api = SettleAPI(
    title="Settle API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
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
