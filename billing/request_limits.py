"""Refuse a request body larger than SETTLE_MAX_REQUEST_BYTES before anything reads it.

Django limits form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but not uploaded files, which it
streams to disk whatever their size. The largest legitimate body is a bank statement upload,
the one path given a larger limit (SETTLE_MAX_REQUEST_BYTES_BY_PATH).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads such a body as empty
        # One path (the statement upload) may take more; matched exactly, so its sub-pages do not.
        limit = getattr(settings, "SETTLE_MAX_REQUEST_BYTES_BY_PATH", {}).get(
            request.path, settings.SETTLE_MAX_REQUEST_BYTES
        )
        # Smaller limits for whole areas (the JSON API): a prefix match.
        for prefix, prefix_limit in getattr(settings, "SETTLE_MAX_REQUEST_BYTES_BY_PREFIX", {}).items():
            if request.path.startswith(prefix):
                limit = min(limit, prefix_limit)
        if length > limit and request.path.startswith(
            tuple(getattr(settings, "SETTLE_MAX_REQUEST_BYTES_BY_PREFIX", {}))
        ):
            return JsonResponse(
                {
                    "code": "TooLarge",
                    "message": f"This request body is {length} bytes; the API accepts at most {limit}.",
                    "field": None,
                },
                status=413,
            )
        if length > limit:
            message = (
                f"This request is {length / 1048576:.1f} MB; Settle accepts at most {limit // 1048576} MB. "
                "Split a bank statement into smaller files and upload them one by one."
            )
            return HttpResponse(
                f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large · Settle</title></head>'
                f"<body><main><h1>Too large</h1><p>{escape(message)}</p>"
                f'<p><a href="/">Back to Settle</a></p></main></body></html>',
                status=413,
            )
        return self.get_response(request)
