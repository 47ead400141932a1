"""The order's actions: record a delivery, invoice, add a fee or shipping line, cancel lines
(with a confirmation), credit one of its invoices by quantity.

Every action needs the finance role. Each is a SubmitOnceForm handled by
submissions.flow.perform: the service validates, a BillingError comes back onto the form
with the service's message, and a repeated POST writes nothing.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError
from billing.money import format_money
from billing.roles import FINANCE, role_required
from invoices.models import Invoice
from invoices.services import issue_credit_note
from orders.detail_views import get_order
from orders.forms import (
    AddLineForm,
    CancelLinesForm,
    CreditLinesForm,
    DeliveryForm,
    InvoiceOrderForm,
    left_to_cancel,
    left_to_deliver,
)
from orders.models import Order
from orders.previews import preview_cancel
from orders.selectors import creditable_lines, order_lines
from orders.services import add_order_line, cancel_order_lines, invoice_order, record_delivery
from submissions.flow import perform, replayed
from submissions.tokens import find_submission


def _page(request, template: str, order: Order, form, **extra) -> HttpResponse:
    return render(request, template, {"order": order, "form": form, **extra})


@role_required(FINANCE)
def order_deliver(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    order = get_order(pk)
    lines = [line for line in order_lines(order) if left_to_deliver(line) > 0]

    def make(data=None) -> DeliveryForm:
        return DeliveryForm(data, user=request.user, lines=lines, left=left_to_deliver, verb="deliver")

    if request.method == "POST":
        form = make(request.POST)
        response = perform(
            request,
            form,
            lambda data: record_delivery(order, quantities=data["quantities"], by=request.user),
            done=order,
            success=lambda delivered: f"Delivery on order {delivered} recorded.",
        )
        if response is not None:
            return response
    else:
        form = make()
    return _page(request, "orders/deliver.html", order, form)


@role_required(FINANCE)
def order_invoice(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    order = get_order(pk)
    lines = [line for line in order_lines(order) if line.invoiceable_quantity > 0]

    def make(data=None) -> InvoiceOrderForm:
        return InvoiceOrderForm(
            data,
            user=request.user,
            lines=lines,
            left=lambda line: line.invoiceable_quantity,
            verb="invoice",
            prefill=True,
        )

    if request.method == "POST":
        form = make(request.POST)
        response = perform(
            request,
            form,
            lambda data: invoice_order(
                order,
                quantities=data["quantities"],
                due_date=data["due_date"],
                apply_credit=data["apply_credit"],
                by=request.user,
            ),
            done=order,
            success=lambda invoice: (
                f"Invoice {invoice} of {format_money(invoice.total, invoice.currency)} issued for order {order}."
            ),
        )
        if response is not None:
            return response
    else:
        form = make()
    return _page(request, "orders/invoice.html", order, form)


@role_required(FINANCE)
def order_add_line(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    order = get_order(pk)
    if request.method == "POST":
        form = AddLineForm(request.POST, user=request.user, currency=order.currency)
        response = perform(
            request,
            form,
            lambda data: add_order_line(
                order,
                description=data["description"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
                kind=data["kind"],
                by=request.user,
            ),
            done=order,
            success=lambda line: f"Line {line.position} ({line.description}) added to order {order}.",
        )
        if response is not None:
            return response
    else:
        form = AddLineForm(user=request.user, currency=order.currency)
    return _page(request, "orders/add_line.html", order, form)


@role_required(FINANCE)
def order_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the quantities and the reason. POST: the confirmation, saying what will happen (the
    real cancel rehearsed); POST with `confirm`: cancel."""
    order = get_order(pk)
    lines = [line for line in order_lines(order) if left_to_cancel(line) > 0]

    def make(data=None) -> CancelLinesForm:
        return CancelLinesForm(data, user=request.user, lines=lines, left=left_to_cancel, verb="cancel")

    preview = None
    if request.method == "POST":
        form = make(request.POST)
        if "confirm" in request.POST:
            response = perform(
                request,
                form,
                lambda data: cancel_order_lines(
                    order, quantities=data["quantities"], by=request.user, reason=data["reason"]
                ),
                done=order,
                success=lambda canceled: (
                    f"Order {canceled} is canceled."
                    if canceled.state == "canceled"
                    else f"Lines of {canceled} canceled."
                ),
            )
            if response is not None:
                return response
        elif form.is_replay():  # Back to the confirmation after cancelling: say what already happened
            return replayed(request, find_submission(form.token), order)
        elif form.is_valid():
            try:
                preview = preview_cancel(
                    order,
                    quantities=form.cleaned_data["quantities"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                )
            except BillingError as error:
                form.add_billing_error(error)
    else:
        form = make()
    return _page(request, "orders/cancel.html", order, form, preview=preview)


@role_required(FINANCE)
def order_credit(request: AuthenticatedHttpRequest, pk: int, invoice_pk: int) -> HttpResponse:
    order = get_order(pk)
    invoice = get_object_or_404(Invoice, pk=invoice_pk, order=order)
    creditable = creditable_lines(invoice)
    if request.method == "POST":
        form = CreditLinesForm(request.POST, user=request.user, creditable=creditable)
        response = perform(
            request,
            form,
            lambda data: issue_credit_note(
                invoice,
                lines=data["quantities"],
                reopen_quantity=data["reopen_quantity"],
                reason_code=data["reason_code"],
                reason=data["reason"],
                by=request.user,
            ),
            done=order,
            success=lambda note: (
                f"Credit note of {format_money(note.amount, invoice.currency)} on {invoice} recorded"
                + (": the quantity may be invoiced again." if note.reopen_quantity else ".")
            ),
        )
        if response is not None:
            return response
    else:
        form = CreditLinesForm(user=request.user, creditable=creditable)
    return _page(request, "orders/credit.html", order, form, invoice=invoice, creditable=creditable)
