"""The one path of every money form's POST: validate, claim the token, call the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url

from billing.errors import BillingError
from submissions.forms import SubmitOnceForm
from submissions.models import FormSubmission
from submissions.tokens import AlreadySubmitted, InvalidToken, claim, find_submission

ALREADY_SUBMITTED = "This form was already submitted; nothing was changed the second time."


def replayed(request: HttpRequest, submission: FormSubmission | None, fallback) -> HttpResponse:
    """Send a repeated POST to what the first one produced, saying why."""
    messages.warning(request, ALREADY_SUBMITTED)
    if submission is not None and submission.result_url:
        return redirect(submission.result_url)
    return redirect(fallback)


def perform(
    request: HttpRequest,
    form: SubmitOnceForm,
    action: Callable[[dict], Any],
    *,
    done,
    success: str | Callable[[Any], str],
) -> HttpResponse | None:
    """Run `action(cleaned_data)` once for this form's token.

    Returns a redirect (to `done`, or `done(result)` when callable) on success or on a
    replay, and None when the form must be shown again with its errors: nothing was written.
    """
    fallback = done if not callable(done) else request.path
    submission = find_submission(form.token) if form.is_bound else None
    if submission is not None:
        return replayed(request, submission, fallback)
    if not form.is_valid():
        return None
    try:
        with transaction.atomic():
            submission = claim(request, form.cleaned_data["form_token"])
            result = action(form.cleaned_data)
            target = resolve_url(done(result) if callable(done) else done)
            submission.result_url = target
            submission.save(update_fields=["result_url"])
    except AlreadySubmitted as replay:
        return replayed(request, replay.submission, fallback)
    except BillingError as error:
        form.add_billing_error(error)
        return None
    except InvalidToken as error:  # expired between validation and claim
        form.add_error(None, str(error))
        return None
    messages.success(request, success(result) if callable(success) else success)
    return redirect(target)
