"""Bank statement pages: the upload and the imports (finance starts, support reads), and the
clerks' list of entries nobody could place.

An upload returns at once: the file is stored and a background worker imports it
(intake.background). /imports/<id>/ shows its progress, live, then its result.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh
from procrastinate.exceptions import AlreadyEnqueued

from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError, InvalidInput
from billing.roles import FINANCE, SUPPORT, forbidden, is_finance, role_required
from intake.background import can_run_again, import_for_real, start_import
from intake.background import run_again as queue_again
from intake.forms import StatementUploadForm
from intake.matching import customer_by_reference_or_id
from intake.models import BankEntry, ImportStatus, StatementFile, StatementImport
from intake.selectors import import_lines, recent_imports
from intake.services import assign_bank_entry, dismiss_bank_entry, open_bank_entries

LINES_PER_PAGE = 200
RECENT_IMPORTS = 50


@role_required(SUPPORT)
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The upload form (finance) above the recent imports (everyone on staff)."""
    finance = is_finance(request.user)
    if request.method == "POST" and not finance:
        return forbidden(request, FINANCE)
    form = StatementUploadForm(request.POST, request.FILES) if request.method == "POST" else StatementUploadForm()
    if form.is_bound and form.is_valid():
        statement_import = start_import(
            form.cleaned_data["statement"],
            format=form.cleaned_data["format"],
            profile=form.cleaned_data["profile"],
            dry_run=form.cleaned_data["dry_run"],
            by=request.user,
        )
        return redirect("imports:detail", pk=statement_import.pk)
    context = {"form": form if finance else None, "imports": recent_imports()[:RECENT_IMPORTS]}
    return render(request, "intake/upload.html", context, status=400 if form.errors else 200)


@role_required(SUPPORT)
def detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """An import: its live progress while it runs, then its result (people's work first, then every line)."""
    statement_import = get_object_or_404(StatementImport.objects.select_related("requested_by"), pk=pk)
    context: dict = {
        "imp": statement_import,
        "can_run_again": can_run_again(statement_import),
        "can_import_for_real": statement_import.dry_run
        and statement_import.status == ImportStatus.DONE
        and StatementFile.objects.filter(statement_import=statement_import).exists(),
    }
    if statement_import.is_finished:
        page = Paginator(import_lines(statement_import), LINES_PER_PAGE).get_page(request.GET.get("page"))
        context.update(
            page=page,
            for_a_person=import_lines(statement_import, needs_a_person=True)[:LINES_PER_PAGE]
            if page.number == 1
            else [],
        )
    return render(request, "intake/import.html", context)


@role_required(SUPPORT)
def progress(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls every second; once finished, the whole page reloads as the result."""
    statement_import = get_object_or_404(StatementImport, pk=pk)
    if statement_import.is_finished and request.headers.get("HX-Request") == "true":
        return HttpResponseClientRefresh()
    return render(request, "intake/_progress.html", {"imp": statement_import})


@require_POST
@role_required(FINANCE)
def run_again(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    statement_import = get_object_or_404(StatementImport, pk=pk)
    if not request.POST.get("confirm"):
        messages.error(request, "Tick the box to confirm that the rest of this file should be imported.")
        return redirect("imports:detail", pk=pk)
    try:
        queue_again(statement_import, by=request.user)
    except BillingError as exc:
        messages.error(request, str(exc))
    except AlreadyEnqueued:
        messages.info(request, f"Import #{pk} is already waiting for a worker.")
    else:
        messages.success(request, f"Import #{pk} queued again; entries already imported are not imported twice.")
    return redirect("imports:detail", pk=pk)


@require_POST
@role_required(FINANCE)
def for_real(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Import a dry run's file for real, without uploading it again."""
    dry_run = get_object_or_404(StatementImport, pk=pk)
    try:
        statement_import = import_for_real(dry_run, by=request.user)
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("imports:detail", pk=pk)
    return redirect("imports:detail", pk=statement_import.pk)


CHOOSE_A_CUSTOMER = "Choose a customer to assign."


def _entries_page(request: HttpRequest, *, assign_error: dict | None = None) -> HttpResponse:
    context = {"entries": open_bank_entries().select_related("payment")[:500], "assign_error": assign_error}
    return render(request, "intake/entries.html", context, status=400 if assign_error else 200)


@role_required(SUPPORT)
def entries(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _entries_page(request)


@require_POST
@role_required(FINANCE)
def assign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Assign an unidentified credit to a customer; a wrong or empty customer is a form error on its row."""
    entry = get_object_or_404(BankEntry, pk=pk)
    typed = request.POST.get("customer", "").strip()
    try:
        if not typed:
            raise InvalidInput(CHOOSE_A_CUSTOMER)
        customer = customer_by_reference_or_id(typed)
        payment = assign_bank_entry(entry, customer=customer, by=request.user)
    except BillingError as exc:
        if not entry.can_be_assigned:  # no longer on the list (assigned meanwhile): say it at the top
            messages.error(request, str(exc))
            return redirect("imports:entries")
        return _entries_page(request, assign_error={"entry": entry.pk, "message": str(exc), "value": typed})
    messages.success(request, f"{entry.bank_reference} recorded as {payment} for {customer}.")
    return redirect("imports:entries")


@require_POST
@role_required(FINANCE)
def dismiss(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(BankEntry, pk=pk)
    try:
        dismiss_bank_entry(entry, by=request.user, reason=request.POST.get("reason", ""))
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{entry.bank_reference} dismissed.")
    return redirect("imports:entries")
