"""Errors as JSON: {"code", "message", "field"}, with the status an integrator can act on.

A BillingError (the services refused; nothing was written) is a 4xx whose code is the error's
class: 409 for a state or reference conflict, 400 for anything else. A request that does not fit
its schema is a 422 naming the field. Nothing is written in any of these cases: the services
raise before writing or inside their transaction, and a POST's own transaction (api.idempotency)
is rolled back to before the endpoint ran.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaError

from api.auth import Throttled
from billing.errors import BillingError, DuplicateReference, InvalidState

logger = logging.getLogger(__name__)
CONFLICTS = (InvalidState, DuplicateReference)
HTTP_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}
HTTP_CODES |= {409: "Conflict", 413: "TooLarge", 422: "ValidationError", 429: "Throttled"}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"code": code, "message": message, "field": field}


def _field_of(location) -> str | None:
    # ninja's locations: ("body", "payload", "lines", 0, "amount"), ("query", "per_page"), ("path", "id")
    parts = [str(part) for part in location[1:]]
    if parts and parts[0] in ("payload", "filters"):
        parts = parts[1:]
    return ".".join(parts) or None


def install(api: NinjaAPI) -> None:
    @api.exception_handler(BillingError)
    def billing_error(request, exc: BillingError):
        status = 409 if isinstance(exc, CONFLICTS) else 400
        return api.create_response(request, error_body(type(exc).__name__, str(exc)), status=status)

    @api.exception_handler(DjangoValidationError)
    def validation_error(request, exc: DjangoValidationError):
        return api.create_response(request, error_body("InvalidInput", " ".join(exc.messages)), status=400)

    @api.exception_handler(SchemaError)
    def schema_error(request, exc: SchemaError):
        errors = list(exc.errors)
        first = errors[0] if errors else {}
        field = _field_of(first.get("loc", ()))
        messages = [f"{_field_of(e.get('loc', ())) or 'body'}: {e.get('msg', 'invalid')}" for e in errors[:5]]
        return api.create_response(
            request, error_body("ValidationError", "; ".join(messages) or "Invalid request.", field), status=422
        )

    @api.exception_handler(DataError)
    def data_error(request, exc: DataError):
        # A value PostgreSQL cannot hold that no schema refused: the write was rolled back.
        logger.error("DataError in the API: %s", exc, exc_info=exc)
        return api.create_response(
            request,
            error_body("InvalidInput", "A value in this request is out of range or not valid text."),
            status=400,
        )

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        message = str(exc) if str(exc) else "Not found."
        return api.create_response(request, error_body("NotFound", message), status=404)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        code = "Unauthorized" if isinstance(exc, AuthenticationError) else HTTP_CODES.get(exc.status_code, "Error")
        response = api.create_response(request, error_body(code, str(exc.message)), status=exc.status_code)
        if isinstance(exc, Throttled):
            response["Retry-After"] = str(exc.wait)
        if exc.status_code == 401:
            response["WWW-Authenticate"] = "Bearer"
        return response
