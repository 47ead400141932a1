"""The invoice detail page and its actions: issue, void (with confirmation), credit note, new draft.

Reading needs the support role, every action the finance role. Each action is a
SubmitOnceForm handled by submissions.flow.perform: the service validates, a
BillingError comes back onto the form, and a repeated POST writes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from allocations.models import Allocation
from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError
from billing.form_fields import no_customer_match
from billing.money import format_money
from billing.roles import FINANCE, SUPPORT, is_finance, role_required
from invoices.forms import CreditNoteForm, IssueForm, NewInvoiceForm, VoidForm
from invoices.models import Invoice, InvoiceState
from invoices.previews import preview_void
from invoices.services import create_invoice, issue_credit_note, issue_invoice, void_invoice
from invoices.timeline import invoice_timeline
from submissions.flow import perform


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("customer", "provider", "created_by", "order"), pk=pk)


@role_required(SUPPORT)
def invoice_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    allocations = list(
        Allocation.objects.filter(invoice=invoice).select_related("payment", "created_by").order_by("id")
    )
    credit_notes = list(invoice.credit_notes.select_related("created_by"))
    context = {
        "invoice": invoice,
        "lines": invoice.lines.select_related("order_line"),
        "allocations": allocations,
        "credit_notes": credit_notes,
        "timeline": invoice_timeline(invoice, allocations=allocations, credit_notes=credit_notes),
        "overdue": invoice.is_overdue(timezone.localdate()),
        "can_issue": invoice.state == InvoiceState.DRAFT,
        "can_void": invoice.state != InvoiceState.VOID,
        "can_credit": invoice.state == InvoiceState.OPEN and invoice.total > invoice.credited_total,
    }
    if is_finance(request.user) and context["can_issue"]:
        context["issue_form"] = IssueForm(user=request.user)
    return render(request, "invoices/detail.html", context)


@role_required(FINANCE)
@require_POST
def invoice_issue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    form = IssueForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: issue_invoice(invoice, by=request.user),
        done=invoice,
        success=lambda issued: f"Invoice {issued} is issued and open for payment.",
    )
    if response is not None:
        return response
    # A failed issue has nowhere better to go than the page it came from.
    # ErrorList yields each message as text (its __getitem__ unwraps a ValidationError); the stubs
    # type the items as the stored ValidationError | str, so say it: the message is a str.
    for error in form.non_field_errors():
        messages.error(request, str(error))
    return redirect(invoice)


@role_required(FINANCE)
def invoice_void(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page, stating what will happen. POST: void."""
    invoice = _invoice(pk)
    if request.method == "POST":
        form = VoidForm(request.POST, user=request.user)
        response = perform(
            request,
            form,
            lambda data: void_invoice(invoice, by=request.user, reason=data["reason"]),
            done=invoice,
            success=lambda voided: f"Invoice {voided} is void; its allocations were reversed.",
        )
        if response is not None:
            return response
    else:
        form = VoidForm(user=request.user)
    try:
        preview = preview_void(invoice, by=request.user)
    except BillingError as error:
        preview, refused = None, str(error)
    else:
        refused = ""
    return render(
        request,
        "invoices/void_confirm.html",
        {"invoice": invoice, "form": form, "preview": preview, "refused": refused},
    )


@role_required(FINANCE)
def invoice_credit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    if request.method == "POST":
        form = CreditNoteForm(request.POST, user=request.user, invoice=invoice)
        response = perform(
            request,
            form,
            lambda data: issue_credit_note(invoice, amount=data["amount"], by=request.user, reason=data["reason"]),
            done=invoice,
            success=lambda note: f"Credit note of {format_money(note.amount, invoice.currency)} on {invoice} recorded.",
        )
        if response is not None:
            return response
    else:
        form = CreditNoteForm(user=request.user, invoice=invoice)
    return render(
        request,
        "invoices/credit.html",
        {"invoice": invoice, "form": form, "creditable": invoice.total - invoice.credited_total},
    )


@role_required(FINANCE)
def invoice_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    if request.method == "POST":
        form = NewInvoiceForm(request.POST, user=request.user)
        if "add_line" in request.POST:
            form = NewInvoiceForm.with_one_more_line(request.POST, user=request.user)
        else:
            response = perform(
                request,
                form,
                lambda data: create_invoice(
                    customer=data["customer"],
                    provider=data["provider"],
                    currency=data["currency"],
                    lines=data["lines"],
                    due_date=data["due_date"],
                    issue_date=data["issue_date"],
                    by=request.user,
                ),
                done=lambda invoice: invoice,
                success=lambda invoice: f"Draft {invoice} created. Check it, then issue it.",
            )
            if response is not None:
                return response
    else:
        initial = {"customer": request.GET.get("customer", "")}
        form = NewInvoiceForm(user=request.user, customer_query=query, initial=initial)
    return render(request, "invoices/new.html", {"form": form, "query": query, "no_match": no_customer_match(query)})
