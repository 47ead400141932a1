"""The payment detail page and its actions: record, allocate (split form), deallocate, cancel,
settle (refund, chargeback and correct, reviewed before they are done: payments.reviewed_views).

Reading needs the support role, every action the finance role. Each action is a
SubmitOnceForm handled by submissions.flow.perform: the service validates, a
BillingError comes back onto the form, and a repeated POST writes nothing. Cancel's
confirmation page is its form.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from allocations.models import Allocation
from allocations.services import allocate_many, deallocate, plan_auto_allocation
from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError
from billing.form_fields import no_customer_match
from billing.money import format_money
from billing.roles import FINANCE, SUPPORT, is_finance, role_required
from invoices.models import Invoice
from invoices.selectors import allocatable_invoices
from payments.forms import (
    AllocateForm,
    CancelForm,
    DeallocateForm,
    RecordPaymentForm,
    SettleForm,
    posted_invoice_ids,
)
from payments.models import Payment, PaymentState
from payments.previews import preview_cancel
from payments.services import cancel_payment, record_payment, settle_payment
from payments.timeline import payment_timeline
from submissions.flow import perform, replayed
from submissions.tokens import find_submission

# The split form lists this many open invoices (oldest due first) plus the first
# ALLOCATE_PLANNED_LIMIT the rule plans (a payment over thousands of invoices is allocated a
# page at a time: every field is posted, and settings.DATA_UPLOAD_MAX_NUMBER_FIELDS bounds them).
ALLOCATE_ROWS_LIMIT = 200
ALLOCATE_PLANNED_LIMIT = 1000
# After an allocation this recent, the split form says what happened and is not prefilled.
RECENT_ALLOCATION = datetime.timedelta(minutes=30)
MOVABLE_STATES = (PaymentState.SETTLED, PaymentState.CHARGED_BACK)


def _payment(pk: int) -> Payment:
    return get_object_or_404(Payment.objects.select_related("customer", "created_by"), pk=pk)


class PairNet:
    """What one payment has on one invoice: rows allocated, rows reversed, the net."""

    def __init__(self, invoice: Invoice):
        self.invoice = invoice
        self.allocated = Decimal("0.00")
        self.reversed = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return self.allocated + self.reversed


def pair_nets(allocations: list[Allocation]) -> list[PairNet]:
    pairs: dict[int, PairNet] = {}
    for row in allocations:
        pair = pairs.setdefault(row.invoice_id, PairNet(row.invoice))
        if row.amount > 0:
            pair.allocated += row.amount
        else:
            pair.reversed += row.amount
    return list(pairs.values())


@role_required(SUPPORT)
def payment_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    allocations = list(
        Allocation.objects.filter(payment=payment).select_related("invoice", "created_by").order_by("id")
    )
    refunds = list(payment.refunds.select_related("created_by"))
    chargebacks = list(payment.chargebacks.select_related("created_by"))
    pairs = pair_nets(allocations)
    corrects = Payment.objects.filter(corrected_by=payment).first()
    context = {
        "payment": payment,
        "allocations": allocations,
        "pairs": pairs,
        "refunds": refunds,
        "chargebacks": chargebacks,
        "timeline": payment_timeline(
            payment, allocations=allocations, refunds=refunds, chargebacks=chargebacks, corrects=corrects
        ),
        "corrects": corrects,
        "can_allocate": payment.state == PaymentState.SETTLED and payment.unallocated > 0,
        "can_refund": payment.state in MOVABLE_STATES and payment.unallocated > 0,
        "can_chargeback": payment.state in MOVABLE_STATES and payment.available > 0,
        "can_cancel": payment.state in (PaymentState.PENDING, PaymentState.SETTLED),
        "can_settle": payment.state == PaymentState.PENDING,
        # correct_payment's own checks; refunds and chargebacks cannot move to a replacement
        "can_correct": payment.state in (PaymentState.PENDING, PaymentState.SETTLED) and not payment.refunded_total,
        "can_deallocate": any(pair.net > 0 for pair in pairs),
    }
    if context["can_settle"] and is_finance(request.user):
        context["settle_form"] = SettleForm(user=request.user)
    return render(request, "payments/detail.html", context)


# --- Record -----------------------------------------------------------------------------------


@role_required(FINANCE)
def payment_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    if request.method == "POST":
        form = RecordPaymentForm(request.POST, user=request.user)
        recorded = {}

        def record(data) -> Payment:
            reference = (data["reference"] or "").strip()
            recorded["existing"] = bool(reference) and Payment.objects.filter(reference=reference).exists()
            return record_payment(
                customer=data["customer"],
                amount=data["amount"],
                currency=data["currency"],
                method=data["method"],
                reference=reference or None,
                received_at=data["received_at"],
                pending=data["pending"],
                by=request.user,
            )

        def said(payment: Payment) -> str:
            if recorded.get("existing"):
                return f"Reference {payment.reference} was already recorded as payment {payment}; nothing new was recorded."
            return f"Payment {payment} of {format_money(payment.amount, payment.currency)} from {payment.customer} recorded."

        response = perform(request, form, record, done=lambda payment: payment, success=said)
        if response is not None:
            return response
    else:
        form = RecordPaymentForm(
            user=request.user, customer_query=query, initial={"customer": request.GET.get("customer", "")}
        )
    return render(request, "payments/new.html", {"form": form, "query": query, "no_match": no_customer_match(query)})


# --- Allocate (the split form) -----------------------------------------------------------------


def _allocate_form(
    request, payment: Payment, data=None, *, with_plan: bool = True, prefill: bool = True
) -> AllocateForm:
    """The split form's rows: the oldest open invoices, those the rule plans, and any the POST names."""
    plan = plan_auto_allocation(payment) if with_plan else []
    planned_in_all = len(plan)
    plan = plan[:ALLOCATE_PLANNED_LIMIT]  # the rule's order: oldest (or the exact match) first
    invoices = list(allocatable_invoices(payment).select_related("provider", "order")[:ALLOCATE_ROWS_LIMIT])
    shown = {invoice.pk for invoice in invoices}
    extra = [split.invoice.pk for split in plan if split.invoice.pk not in shown]
    if data is not None:
        extra += [pk for pk in posted_invoice_ids(data) if pk not in shown]
    if extra:
        invoices += list(
            Invoice.objects.filter(pk__in=extra).select_related("provider", "order").order_by("due_date", "id")
        )
    return AllocateForm(
        data,
        user=request.user,
        payment=payment,
        invoices=invoices,
        plan=plan,
        prefill=prefill,
        planned_in_all=planned_in_all,
    )


def recent_allocation_notice(payment: Payment) -> str:
    """What was last allocated from this payment, if that was recent: "7.00 EUR was allocated from
    this payment at 10:42 by fiona; 293.00 EUR remains." Empty when nothing happened lately."""
    latest = Allocation.objects.filter(payment=payment).select_related("created_by").order_by("-id").first()
    if latest is None or latest.created_at < timezone.now() - RECENT_ALLOCATION:
        return ""
    # The rows of that one action: same clerk, written within a moment of each other (one transaction).
    rows = Allocation.objects.filter(
        payment=payment, created_by=latest.created_by, created_at__gte=latest.created_at - datetime.timedelta(seconds=5)
    )
    amount = sum((row.amount for row in rows), Decimal("0.00"))
    verb = "allocated from" if amount >= 0 else "taken back to"
    who = latest.created_by.get_username() if latest.created_by else "the system"
    return (
        f"{format_money(abs(amount), payment.currency)} was {verb} this payment at "
        f"{timezone.localtime(latest.created_at):%H:%M} by {who}; "
        f"{format_money(payment.unallocated, payment.currency)} remains."
    )


@role_required(FINANCE)
@never_cache  # Back after allocating re-fetches the page: it must show what happened, not the old form
def payment_allocate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    notice = recent_allocation_notice(payment)
    if request.method == "POST":
        form = _allocate_form(request, payment, request.POST)
        if find_submission(form.token) is not None:  # Back and submit again: say what already happened
            if notice:
                messages.info(request, notice)
            return replayed(request, find_submission(form.token), payment)
        if "recalculate" not in request.POST:
            response = perform(
                request,
                form,
                lambda data: allocate_many(payment, data["splits"], by=request.user, note=data["note"]),
                done=payment,
                success=lambda rows: (
                    f"Allocated {format_money(sum(r.amount for r in rows), payment.currency)} of payment {payment} "
                    f"to {len(rows)} invoice{'s' if len(rows) != 1 else ''}."
                ),
            )
            if response is not None:
                return response
    else:
        # Right after an allocation the rule's suggestion is not filled in by itself: one unthinking
        # click must not book it. The clerk asks for it ("Fill in the suggestion": ?suggest=1).
        form = _allocate_form(request, payment, prefill=not notice or request.GET.get("suggest") == "1")
    current = [
        pair
        for pair in pair_nets(list(Allocation.objects.filter(payment=payment).select_related("invoice").order_by("id")))
        if pair.net
    ]
    return render(
        request, "payments/allocate.html", {"payment": payment, "form": form, "notice": notice, "current": current}
    )


@role_required(FINANCE)
@require_POST
def payment_remaining(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """htmx partial: what is left to allocate with the amounts typed so far. Writes nothing.

    Runs on every keystroke (debounced), so it skips the rule's plan: only the typed amounts count.
    """
    payment = _payment(pk)
    form = _allocate_form(request, payment, request.POST, with_plan=False)
    return render(request, "payments/partials/remaining.html", {"payment": payment, "form": form})


# --- Deallocate -------------------------------------------------------------------------------


@role_required(FINANCE)
def payment_deallocate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    allocations = Allocation.objects.filter(payment=payment).select_related("invoice").order_by("id")
    nets = [(pair.invoice, pair.net) for pair in pair_nets(list(allocations)) if pair.net > 0]
    if request.method == "POST":
        form = DeallocateForm(request.POST, user=request.user, payment=payment, nets=nets)
        response = perform(
            request,
            form,
            lambda data: deallocate(payment, data["invoice"], data["amount"], by=request.user, reason=data["reason"]),
            done=payment,
            success=lambda row: (
                f"Took {format_money(-row.amount, payment.currency)} of payment {payment} back from invoice "
                f"{row.invoice}."
            ),
        )
        if response is not None:
            return response
    else:
        form = DeallocateForm(
            user=request.user, payment=payment, nets=nets, initial={"invoice": request.GET.get("invoice")}
        )
    return render(request, "payments/deallocate.html", {"payment": payment, "form": form, "nets": nets})


# --- Cancel and settle ------------------------------------------------------------------------


@role_required(FINANCE)
def payment_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page, stating what will happen. POST: cancel."""
    payment = _payment(pk)
    if request.method == "POST":
        form = CancelForm(request.POST, user=request.user)
        response = perform(
            request,
            form,
            lambda data: cancel_payment(payment, by=request.user, reason=data["reason"]),
            done=payment,
            success=lambda canceled: f"Payment {canceled} is canceled; its allocations were reversed.",
        )
        if response is not None:
            return response
    else:
        form = CancelForm(user=request.user)
    try:
        outcome, refused = preview_cancel(payment, by=request.user), ""
    except BillingError as error:
        outcome, refused = None, str(error)
    return render(
        request,
        "payments/cancel_confirm.html",
        {"payment": payment, "form": form, "preview": outcome, "refused": refused},
    )


@role_required(FINANCE)
@require_POST
def payment_settle(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    form = SettleForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: settle_payment(payment, by=request.user),
        done=payment,
        success=lambda settled: f"Payment {settled} is settled: the bank confirmed the money.",
    )
    if response is not None:
        return response
    # ErrorList yields each message as text (its __getitem__ unwraps a ValidationError); the stubs
    # type the items as the stored ValidationError | str, so say it: the message is a str.
    for error in form.non_field_errors():
        messages.error(request, str(error))
    return redirect(payment)
