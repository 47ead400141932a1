"""Request checks that belong to no single view."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


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
            return HttpResponseBadRequest(
                "The request contains a NUL character, which no field accepts.", content_type="text/plain"
            )
        return self.get_response(request)
