"""The billing agency's acknowledgement callback: a machine, not a clerk.

POST /exports/callback/<profile>/<number>/acknowledge/ with `Authorization: Bearer <secret>`
(SETTLE_EXPORT_CALLBACK_SECRET, compared in constant time) and an optional JSON body
{"reference": "..."} (or a form field `reference`). No session, no CSRF token: the shared secret is the authentication.
Answers JSON: 200 acknowledged (again: the first record), 401 wrong or missing secret,
404 callback off or no such batch, 409 the batch was never sent, 400 a bad body.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.errors import BillingError, InvalidState
from exports.models import ExportBatch
from exports.services import acknowledge_batch

MAX_BODY = 4096


def _authorized(request: HttpRequest, secret: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), secret.encode())


@csrf_exempt
@login_not_required
@require_POST
def acknowledge(request: HttpRequest, profile: str, number: int) -> JsonResponse:
    secret = getattr(settings, "SETTLE_EXPORT_CALLBACK_SECRET", "")
    if not secret:
        return JsonResponse({"error": "The acknowledgement callback is not enabled."}, status=404)
    if not _authorized(request, secret):
        return JsonResponse({"error": "Missing or wrong Authorization: Bearer secret."}, status=401)
    reference = ""
    if request.content_type == "application/json":
        if len(request.body) > MAX_BODY:
            return JsonResponse({"error": f"The body is at most {MAX_BODY} bytes."}, status=400)
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return JsonResponse({"error": 'The body must be JSON, e.g. {"reference": "AG-1"}.'}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("reference", ""), str):
            return JsonResponse({"error": 'The body must be a JSON object, e.g. {"reference": "AG-1"}.'}, status=400)
        reference = data.get("reference", "")
    else:  # a form post (the middleware may have read it already)
        reference = request.POST.get("reference", "")
    batch = ExportBatch.objects.filter(profile=profile, number=number).first()
    if batch is None:
        return JsonResponse({"error": f"There is no batch {number} of export profile {profile}."}, status=404)
    try:
        ack = acknowledge_batch(batch, reference=reference, by=None)
    except InvalidState as error:
        return JsonResponse({"error": error.messages[0]}, status=409)
    except BillingError as error:
        return JsonResponse({"error": error.messages[0]}, status=400)
    return JsonResponse(
        {
            "profile": batch.profile,
            "batch": batch.number,
            "state": "acknowledged",
            "sha256": batch.sha256,
            "acknowledged_at": ack.created_at.isoformat(),
            "reference": ack.reference,
        }
    )
