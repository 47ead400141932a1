"""Document pages: the list, one document as sent (with its deliveries and what changed since),
its body for the sandboxed frame, its PDF, and the POSTs that issue, make a PDF and send."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override

from billing.actors import AuthenticatedHttpRequest
from billing.errors import InvalidState
from billing.listing import keyset_page, page_size, render_list
from billing.roles import SUPPORT, role_required
from documents import selectors
from documents.filters import DOCUMENT_ORDERING, DocumentFilter
from documents.forms import MakePdfForm, ReminderForm, SendForm, StatementForm
from documents.models import Delivery, DeliveryResult, Document
from documents.reminders import next_level
from documents.services import issue_reminder, issue_statement, render_pdf, send_document
from submissions.flow import perform

# The stored body carries its own <style> (it is also the email and the PDF), so its frame
# allows inline style and nothing else: no script, no fetch, no form, framed only by our pages.
BODY_CSP: dict[str, list[str]] = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.UNSAFE_INLINE],
    "img-src": ["data:"],
    "frame-ancestors": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.NONE],
}


@role_required(SUPPORT)
def document_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filterset = DocumentFilter(request.GET, queryset=selectors.all_documents())
    totals = page = None
    if filterset.is_valid():
        totals = selectors.document_totals(filters=filterset)
        page = keyset_page(
            request,
            selectors.document_list(filters=filterset),
            DOCUMENT_ORDERING,
            per_page=page_size(request),
            total_count=totals.count,
        )
        delivered = set(
            Delivery.objects.filter(document__in=[d.pk for d in page.rows], result=DeliveryResult.OK).values_list(
                "document_id", flat=True
            )
        )
        for document in page.rows:
            document.delivered = document.pk in delivered
    context = {
        "filter": filterset,
        "page": page,
        "totals": totals,
        "sort_param": "",
        "clear_url": reverse("documents:list"),
        "noun": "documents",
    }
    return render_list(request, "documents/list.html", "documents/_list_results.html", context)


def _detail(
    request: AuthenticatedHttpRequest, document: Document, send_form: SendForm | None = None, *, status: int = 200
) -> HttpResponse:
    context = {
        "document": document,
        "deliveries": list(document.deliveries.select_related("created_by")),
        "has_pdf": document.pdf is not None,
        "send_form": send_form or SendForm(user=request.user, initial={"to": document.customer.email}),
        "pdf_form": MakePdfForm(user=request.user),
        "changes": selectors.changes_since(document),
        "notice_changes": selectors.notice_changes_since(document),
        "today": timezone.localdate(),
    }
    return render(request, "documents/detail.html", context, status=status)


def _get(pk: int) -> Document:
    return get_object_or_404(Document.objects.select_related("customer", "provider", "created_by"), pk=pk)


@role_required(SUPPORT)
def document_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _get(pk))


@role_required(SUPPORT)
@xframe_options_sameorigin
@csp_override(BODY_CSP)
def document_body(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The stored HTML as it was sent, for the document page's sandboxed frame."""
    return HttpResponse(_get(pk).html, content_type="text/html; charset=utf-8")


@role_required(SUPPORT)
def document_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    document = _get(pk)
    pdf = document.pdf
    if pdf is None:  # a GET never writes: the page offers the POST that makes it
        return redirect("documents:detail", pk=document.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
    return response


@role_required(SUPPORT)
def make_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    document = _get(pk)
    if request.method != "POST":
        return redirect("documents:detail", pk=document.pk)
    form = MakePdfForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: render_pdf(document),
        done=reverse("documents:pdf", args=[document.pk]),
        success=f"The PDF of {document.number} is made and stored; it is the one every email attaches.",
    )
    return response or _detail(request, document, status=400)


def _sent_message(delivery: Delivery) -> str:
    if delivery.result == DeliveryResult.FAILED:
        return f"Sending {delivery.document.number} to {delivery.to} failed ({delivery.error}); see the deliveries."
    return f"{delivery.document.number} sent to {delivery.to}."


@role_required(SUPPORT)
def send(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    document = _get(pk)
    if request.method != "POST":
        return redirect("documents:detail", pk=document.pk)
    form = SendForm(request.POST, user=request.user)
    # The email goes when perform's transaction commits, before the message below is written.
    response = perform(
        request,
        form,
        lambda data: send_document(document, to=data["to"], by=request.user),
        done=f"{reverse('documents:detail', args=[document.pk])}#deliveries",
        success=_sent_message,
    )
    return response or _detail(request, document, form, status=400)


@role_required(SUPPORT)
def new_statement(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("documents:list")
    form = StatementForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: issue_statement(
            data["customer"],
            provider=data["provider"],
            currency=data["currency"] or None,
            period_start=data["period_start"],
            as_of=data["as_of"],
            by=request.user,
        ),
        done=lambda document: reverse("documents:detail", args=[document.pk]),
        success=lambda document: f"Statement {document.number} issued. Check it, then send it.",
    )
    if response is not None:
        return response
    return render(request, "documents/statement_refused.html", {"form": form}, status=400)


def _due_reminder(account, *, by) -> Document:
    today = timezone.localdate()
    level = next_level(account, today)
    if not level:
        raise InvalidState(
            f"{account} is due no reminder today: nothing overdue long enough, or its level was sent in this "
            "dunning cycle already."
        )
    return issue_reminder(account, level=level, as_of=today, by=by)


@role_required(SUPPORT)
def new_reminder(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The dunning letter an account is due now (the level run_dunning would send), issued to be checked and sent."""
    if request.method != "POST":
        return redirect("documents:list")
    form = ReminderForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: _due_reminder(data["account"], by=request.user),
        done=lambda document: reverse("documents:detail", args=[document.pk]),
        success=lambda document: f"Reminder {document.number} (level {document.level}) issued. Check it, then send it.",
    )
    if response is not None:
        return response
    return render(request, "documents/reminder_refused.html", {"form": form}, status=400)
