"""The plan's actions: waive a charged penalty (with a confirmation), waive an installment's future
penalties, issue an installment notice, change the penalty rule from a date, assess now.

Every action needs the finance role and goes through the plans and documents services. Each
is a SubmitOnceForm handled by submissions.flow.perform: the service validates, a BillingError
comes back onto the form with the service's message, and a repeated POST writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from billing.actors import AuthenticatedHttpRequest
from billing.errors import BillingError
from billing.money import format_money
from billing.rehearse import rehearse
from billing.roles import FINANCE, role_required
from documents.services import issue_installment_notice
from invoices.models import Invoice, InvoiceKind
from plans.detail_views import get_plan, plan_url
from plans.details import plan_rules
from plans.forms import AssessForm, ChangeRuleForm, NoticeForm, WaiveFutureForm, WaivePenaltyForm
from plans.models import Plan
from plans.services import assess_penalties, change_penalty_rule, waive_future_penalties, waive_penalty
from submissions.flow import perform, replayed
from submissions.tokens import find_submission


def _installment(plan: Plan, pk: int) -> Invoice:
    return get_object_or_404(Invoice, pk=pk, plan=plan, kind=InvoiceKind.INSTALLMENT)


@dataclass(frozen=True)
class WaivePreview:
    penalty: str
    amount: Decimal
    left_after: Decimal
    currency: str


@role_required(FINANCE)
def waive(request: AuthenticatedHttpRequest, pk: int, penalty_pk: int) -> HttpResponse:
    """GET: the amount (optional) and the reason. POST: the confirmation, saying what will be credited
    (the real waiver rehearsed); POST with `confirm`: waive."""
    plan = get_plan(pk)
    penalty = get_object_or_404(
        Invoice.objects.select_related("installment"), pk=penalty_pk, plan=plan, kind=InvoiceKind.PENALTY
    )
    preview = None
    if request.method == "POST":
        form = WaivePenaltyForm(request.POST, user=request.user, currency=plan.currency)
        if "confirm" in request.POST:
            response = perform(
                request,
                form,
                lambda data: waive_penalty(penalty, amount=data["amount"], by=request.user, reason=data["reason"]),
                done=plan_url(plan) + "#penalties",
                success=lambda note: (
                    f"{format_money(note.amount, plan.currency)} of penalty {penalty} waived (credit note {note.pk})."
                ),
            )
            if response is not None:
                return response
        elif form.is_replay():  # Back to the confirmation after waiving: say what already happened
            return replayed(request, find_submission(form.token), plan_url(plan))
        elif form.is_valid():
            try:
                preview = _preview_waiver(penalty, form.cleaned_data, by=request.user)
            except BillingError as error:
                form.add_billing_error(error)
    else:
        form = WaivePenaltyForm(user=request.user, currency=plan.currency)
    context = {"plan": plan, "form": form, "penalty": penalty, "preview": preview}
    return render(request, "plans/waive.html", context)


def _preview_waiver(penalty: Invoice, data: dict, *, by) -> WaivePreview:
    def act() -> WaivePreview:
        note = waive_penalty(Invoice.objects.get(pk=penalty.pk), amount=data["amount"], by=by, reason=data["reason"])
        after = Invoice.objects.get(pk=penalty.pk)
        return WaivePreview(str(penalty), note.amount, after.total - after.credited_total, after.currency)

    return rehearse(act)


@role_required(FINANCE)
def waive_future(request: AuthenticatedHttpRequest, pk: int, installment_pk: int) -> HttpResponse:
    plan = get_plan(pk)
    installment = _installment(plan, installment_pk)
    if request.method == "POST":
        form = WaiveFutureForm(request.POST, user=request.user)
        response = perform(
            request,
            form,
            lambda data: waive_future_penalties(installment, by=request.user, reason=data["reason"]),
            done=plan_url(plan) + "#schedule",
            success=(
                f"Future penalties of installment {installment.plan_sequence} ({installment}) waived: "
                "the assessment charges it nothing more."
            ),
        )
        if response is not None:
            return response
    else:
        form = WaiveFutureForm(user=request.user)
    return render(request, "plans/waive_future.html", {"plan": plan, "form": form, "installment": installment})


@role_required(FINANCE)
def notice(request: AuthenticatedHttpRequest, pk: int, installment_pk: int) -> HttpResponse:
    plan = get_plan(pk)
    installment = _installment(plan, installment_pk)
    if request.method != "POST":
        return redirect(plan_url(plan))
    form = NoticeForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: issue_installment_notice(installment, by=request.user),
        done=lambda document: reverse("documents:detail", args=[document.pk]),
        success=lambda document: (
            f"Notice {document.number} of installment {installment.plan_sequence} issued. Check it, then send it."
        ),
    )
    return response or _refused(request, plan, form, "The notice was not issued")


@role_required(FINANCE)
def assess(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    plan = get_plan(pk)
    if request.method != "POST":
        return redirect(plan_url(plan))
    form = AssessForm(request.POST, user=request.user)
    response = perform(
        request,
        form,
        lambda data: assess_penalties(plan=plan, by=request.user),
        done=plan_url(plan) + "#penalties",
        success=_assessed,
    )
    return response or _refused(request, plan, form, "The penalties were not assessed")


def _assessed(documents: list) -> str:
    charged = [d for d in documents if isinstance(d, Invoice)]
    credited = [d for d in documents if not isinstance(d, Invoice)]
    if not documents:
        return "Penalties assessed: nothing to charge or credit, the plan is as its rule says."
    return (
        f"Penalties assessed: {len(charged)} penalt{'y' if len(charged) == 1 else 'ies'} charged, "
        f"{len(credited)} recalculation credit note{'' if len(credited) == 1 else 's'}."
    )


def _refused(request, plan: Plan, form, title: str) -> HttpResponse:
    return render(request, "plans/refused.html", {"plan": plan, "form": form, "title": title}, status=400)


@role_required(FINANCE)
def change_rule(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    plan = get_plan(pk)
    if request.method == "POST":
        form = ChangeRuleForm(request.POST, user=request.user, currency=plan.currency)
        response = perform(
            request,
            form,
            lambda data: change_penalty_rule(
                plan, effective_from=data["effective_from"], by=request.user, **(data["rule"] or {})
            ),
            done=plan_url(plan) + "#rules",
            success=lambda rule: f"Penalty rule changed: {rule}.",
        )
        if response is not None:
            return response
    else:
        form = ChangeRuleForm(user=request.user, currency=plan.currency)
    return render(request, "plans/change_rule.html", {"plan": plan, "form": form, "rules": plan_rules(plan)})
