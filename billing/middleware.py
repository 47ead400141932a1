"""Request checks that belong to no single view."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DataError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

logger = logging.getLogger("billing.request")


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


NUL_MESSAGE = "The request contains a NUL character, which no field accepts."


class RefuseNulMiddleware:
    """400 for a NUL byte in the query string or the posted form fields.

    PostgreSQL refuses NUL in any text, so a NUL that reaches a query (the customer
    picker's `q`, a list filter, a note) fails it with a 500; no person types one.
    Refusing it here covers every view and every parameter, present and future.
    Uploaded files are not inspected: their bytes are the parsers' business.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
            if request.path.startswith("/api/"):  # the JSON API answers in its own error shape
                return JsonResponse({"code": "InvalidInput", "message": NUL_MESSAGE, "field": None}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain")
        return self.get_response(request)


class DataErrorResponse(HttpResponseBadRequest):
    """The 400 for a DataError. caught_data_error marks it for the hostile-input test: Settle's
    own pages never need it."""

    caught_data_error = True


class DataErrorMiddleware:
    """400 instead of 500 when PostgreSQL refuses a value as data (SQLSTATE class 22:
    a number beyond its column, a date out of range, text it cannot hold).

    Settle's own pages parse every id, amount, date and cursor before a query (a test
    throws hostile values at all of them and fails if this net catches anything there);
    this is the net for code that passes request values to the ORM as they come, such
    as the admin's changelist lookups (?amount__gte=1e-999999999). The error is still
    logged with its traceback: it shows a value that a parser should have refused.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DataError):
            return None
        logger.error(
            "Refused a value the database cannot hold: %s",
            request.path,
            exc_info=exception,
            extra={"request": request, "status_code": 400},
        )
        return DataErrorResponse(
            "A value in the request is out of range or not valid for its field.", content_type="text/plain"
        )
