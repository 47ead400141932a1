"""Export pages: the batches, a batch (balances, entries, deliveries), its exact bytes, and resend."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from billing.actors import AuthenticatedHttpRequest
from billing.roles import FINANCE, SUPPORT, role_required
from exports import selectors
from exports.forms import ResendForm
from exports.models import BatchState, Delivery, DeliveryResult, ExportBatch
from exports.profiles import profiles
from exports.services import resend_batch
from submissions.flow import perform

BATCHES_PER_PAGE = 50
ROWS_PER_PAGE = 200


@role_required(SUPPORT)
def batch_list(request: HttpRequest) -> HttpResponse:
    profile = request.GET.get("profile") or None
    state = request.GET.get("state") or None
    if state not in (None, *BatchState.values):
        state = None
    page = Paginator(selectors.batch_list(profile=profile, state=state), BATCHES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    try:
        configured = sorted(profiles())
    except ValueError:  # the start-up check reports it
        configured = []
    return render(
        request,
        "exports/list.html",
        {
            "page": page,
            "batches": page.object_list,
            "profiles": configured,
            "states": BatchState.choices,
            "profile": profile or "",
            "state": state or "",
        },
    )


def _detail(request: HttpRequest, batch: ExportBatch, *, status: int = 200) -> HttpResponse:
    balances = Paginator(selectors.batch_balances(batch), ROWS_PER_PAGE).get_page(request.GET.get("balances"))
    entries = Paginator(selectors.batch_entries(batch), ROWS_PER_PAGE).get_page(request.GET.get("entries"))
    return render(
        request,
        "exports/detail.html",
        {
            "batch": batch,
            "state": batch.state,
            "balances": balances,
            "entries": entries,
            "deliveries": batch.deliveries.select_related("created_by").order_by("-id"),
        },
        status=status,
    )


@role_required(SUPPORT)
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(ExportBatch, pk=pk))


@role_required(SUPPORT)
def batch_payload(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The exact sealed bytes, streamed from the stored chunks (their sha256 is on the page)."""
    batch = get_object_or_404(ExportBatch, pk=pk)
    content_type = "text/csv; charset=utf-8" if batch.format == "csv" else "application/json"
    response = StreamingHttpResponse(batch.iter_payload(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
    response["Content-Length"] = str(batch.payload_bytes)
    response["X-Settle-Sha256"] = batch.sha256
    return response


def _sent_message(attempt: Delivery) -> str:
    if attempt.result == DeliveryResult.FAILED:
        return f"{attempt.batch} was not delivered to {attempt.to}: {attempt.error}"
    return f"{attempt.batch} delivered again to {attempt.to} (the same bytes, key {attempt.idempotency_key})."


@role_required(FINANCE)
def batch_resend(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (what will be sent, where); POST: send the stored bytes again."""
    batch = get_object_or_404(ExportBatch, pk=pk)
    if request.method != "POST":
        form = ResendForm(user=request.user)
        return render(request, "exports/resend.html", {"batch": batch, "state": batch.state, "form": form})
    form = ResendForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: resend_batch(batch, by=request.user),
        done=f"{reverse('exports:detail', args=[batch.pk])}#deliveries",
        success=_sent_message,
    )
    return response or render(
        request, "exports/resend.html", {"batch": batch, "state": batch.state, "form": form}, status=400
    )
