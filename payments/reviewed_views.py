"""The payment actions reviewed before they are done: refund, chargeback and correction.

The first POST rehearses the service (billing.rehearse) and shows what it will do; the
confirming POST does it through submissions.flow.perform. Finance only, as every money
action. A correction (DESIGN.md section 10) asks for the amount and value date as they
should have been and goes to the replacement afterwards, with a message linking both.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError
from billing.money import format_money
from billing.roles import FINANCE, role_required
from payments.corrections import Correction, value_day
from payments.forms import AmountReasonForm, CorrectForm
from payments.models import Payment
from payments.previews import preview_chargeback, preview_correction, preview_refund
from payments.services import record_chargeback, record_correction, refund_payment
from submissions.flow import perform, replayed
from submissions.forms import SubmitOnceForm
from submissions.tokens import find_submission


def _payment(pk: int) -> Payment:
    return get_object_or_404(Payment.objects.select_related("customer", "created_by"), pk=pk)


def reviewed_action(
    request,
    payment: Payment,
    *,
    template: str,
    preview: Callable[[dict], object],
    action: Callable[[dict], object],
    success: Callable,
    form_class: type[SubmitOnceForm] = AmountReasonForm,
    done: Callable | None = None,
):
    """First POST: rehearse the service and show what it will do. Confirming POST: do it.

    Refund and chargeback (an amount and a reason), and correction (CorrectForm).
    `preview` and `action` get the form's cleaned data; `done` names the page to go to
    afterwards from the action's result (the payment by default).
    """

    def page(form, outcome=None):
        return render(
            request,
            template,
            {
                "payment": payment,
                "form": form,
                "preview": outcome,
                "chargeback_rule": settings.SETTLE_CHARGEBACK_REVERSAL,
            },
        )

    if request.method != "POST":
        return page(form_class(user=request.user, payment=payment))
    form = form_class(request.POST, user=request.user, payment=payment)
    submission = find_submission(form.token)
    if submission is not None:
        return replayed(request, submission, payment)
    if "edit" in request.POST:
        return page(form)
    if request.POST.get("confirmed") == "1":
        response = perform(request, form, action, done=done or payment, success=success)
        if response is not None:
            return response
    elif form.is_valid():
        try:
            outcome = preview(form.cleaned_data)
        except BillingError as error:
            form.add_billing_error(error)
        else:
            return page(form, outcome)
    return page(form)


@role_required(FINANCE)
def payment_refund(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    return reviewed_action(
        request,
        payment,
        template="payments/refund.html",
        preview=lambda data: preview_refund(payment, amount=data["amount"], reason=data["reason"], by=request.user),
        action=lambda data: refund_payment(payment, amount=data["amount"], by=request.user, reason=data["reason"]),
        success=lambda refund: f"Refunded {format_money(refund.amount, payment.currency)} of payment {payment}.",
    )


@role_required(FINANCE)
def payment_chargeback(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    return reviewed_action(
        request,
        payment,
        template="payments/chargeback.html",
        preview=lambda data: preview_chargeback(payment, amount=data["amount"], reason=data["reason"], by=request.user),
        action=lambda data: record_chargeback(payment, amount=data["amount"], by=request.user, reason=data["reason"]),
        success=lambda chargeback: (
            f"Chargeback of {format_money(chargeback.amount, payment.currency)} on payment {payment} recorded."
        ),
    )


# --- Correct ------------------------------------------------------------------------------------


def correction_message(correction: Correction) -> SafeString:
    """The success message: what replaced what, a link to each, and what did not fit."""
    old, new = correction.corrected, correction.replacement
    message = format_html(
        'Payment <a href="{}">{}</a> is corrected: <a href="{}">{}</a> replaces it, {} received on {}.',
        old.get_absolute_url(),
        old,
        new.get_absolute_url(),
        new,
        format_money(new.amount, new.currency),
        value_day(new),
    )
    if correction.moved:
        moved = sum((amount for _, amount in correction.moved), Decimal("0.00"))
        message += format_html(" {} of its allocations moved to {}.", format_money(moved, new.currency), new)
    for invoice, amount in correction.released:
        message += format_html(
            ' {} that was on invoice <a href="{}">{}</a> did not fit on {} (the invoice is now {}).',
            format_money(amount, new.currency),
            invoice.get_absolute_url(),
            invoice,
            new,
            invoice.get_payment_status_display().lower(),
        )
    return message


@role_required(FINANCE)
def payment_correct(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    return reviewed_action(
        request,
        payment,
        template="payments/correct.html",
        form_class=CorrectForm,
        preview=lambda data: preview_correction(
            payment, amount=data["amount"], received_at=data["received_at"], reason=data["reason"], by=request.user
        ),
        action=lambda data: record_correction(
            payment, amount=data["amount"], received_at=data["received_at"], by=request.user, reason=data["reason"]
        ),
        done=lambda correction: correction.replacement,
        success=correction_message,
    )
