"""Bank statement pages: the upload (finance), and the clerks' list of entries nobody could place."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError, InvalidInput
from billing.roles import FINANCE, SUPPORT, role_required
from intake.importing import import_statement
from intake.matching import customer_by_reference_or_id
from intake.models import BankEntry
from intake.services import assign_bank_entry, dismiss_bank_entry, open_bank_entries

MAX_STATEMENT_BYTES = 10 * 1024 * 1024


class StatementUploadForm(forms.Form):
    statement = forms.FileField(help_text="Settle CSV layout or camt.053 XML, at most 10 MB.")
    format = forms.ChoiceField(
        choices=[("", "Detect from the file"), ("csv", "CSV"), ("camt053", "camt.053 XML")], required=False
    )
    dry_run = forms.BooleanField(required=False, label="Dry run: show what would happen, save nothing")

    def clean_statement(self):
        upload = self.cleaned_data["statement"]
        if upload.size > MAX_STATEMENT_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB; split the statement.")
        return upload


@role_required(FINANCE)
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = StatementUploadForm(request.POST, request.FILES) if request.method == "POST" else StatementUploadForm()
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["statement"]
        report = import_statement(
            upload.read(),
            source_name=upload.name,
            format=form.cleaned_data["format"] or None,
            by=request.user,
            dry_run=form.cleaned_data["dry_run"],
        )
        return render(request, "intake/result.html", {"report": report})
    return render(request, "intake/upload.html", {"form": form}, status=400 if form.errors else 200)


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
