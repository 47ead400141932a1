"""Correct a payment (DESIGN.md section 10): the amount and value date as they should have been,
a review of what will move, then the correction. Finance only, as every money action.

The flow is the refund's and chargeback's (detail_views.reviewed_action): the first POST
rehearses payments.services.record_correction and shows what it would do; the confirming
POST corrects and goes to the replacement, with a message linking both payments.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.actors import AuthenticatedHttpRequest
from billing.money import format_money
from billing.roles import FINANCE, role_required
from payments.corrections import Correction, value_day
from payments.detail_views import reviewed_action
from payments.forms import CorrectForm
from payments.models import Payment
from payments.previews import preview_correction
from payments.services import record_correction


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
    payment = get_object_or_404(Payment.objects.select_related("customer"), pk=pk)
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
