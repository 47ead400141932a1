"""The plan page and the new-plan page.

Reading needs the support role, making a plan the finance role. The plan's actions (waive a
penalty, waive future penalties, issue a notice, change the rule, assess now) are in
plans/action_views.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from billing.actors import AuthenticatedHttpRequest
from billing.form_fields import no_customer_match
from billing.roles import FINANCE, SUPPORT, is_finance, role_required
from plans.details import penalty_rows_html, plan_figures, plan_notices, plan_penalties, plan_rules, schedule_lines
from plans.forms import AssessForm, NewPlanForm, NoticeForm
from plans.models import Plan, PlanState
from plans.selectors import plan_invoices
from plans.services import create_plan
from submissions.flow import perform


def plan_url(plan: Plan) -> str:
    """The plan page (Plan has no get_absolute_url: the plans domain keeps its models free of URLs)."""
    return reverse("plans:detail", args=[plan.pk])


def get_plan(pk: int) -> Plan:
    return get_object_or_404(Plan.objects.select_related("customer", "provider", "created_by"), pk=pk)


@role_required(SUPPORT)
def plan_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    plan = get_plan(pk)
    today = timezone.localdate()
    invoices = plan_invoices(plan)
    schedule = schedule_lines(plan, today=today, invoices=invoices)
    penalties = plan_penalties(plan, invoices)
    rules = plan_rules(plan)
    context = {
        "plan": plan,
        "today": today,
        "schedule": schedule,
        "figures": plan_figures(schedule),
        "penalties": penalties,
        "penalty_rows": penalty_rows_html(plan, penalties, actions=is_finance(request.user)),
        "payment_rows": [(line.installment, allocation) for line in schedule for allocation in line.allocations],
        "rules": rules,
        "rule_now": next((rule for rule in reversed(rules) if rule.effective_from <= today), None),
        "notices": plan_notices(plan),
        "active": plan.state != PlanState.CANCELED,
    }
    if is_finance(request.user):
        # Each is a form with its own one-time token; issuing a token writes nothing (submissions.tokens).
        context["notice_form"] = NoticeForm(user=request.user)
        context["assess_form"] = AssessForm(user=request.user)
    return render(request, "plans/detail.html", context)


@role_required(FINANCE)
def plan_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    if request.method == "POST":
        form = NewPlanForm(request.POST, user=request.user)
        response = perform(
            request,
            form,
            lambda data: create_plan(
                customer=data["customer"],
                provider=data["provider"],
                currency=data["currency"],
                principal=data["principal"],
                installments=data["installments"],
                first_due_date=data["first_due_date"],
                every_months=data["every_months"],
                penalty=data["rule"],
                issue_date=data["issue_date"],
                description=data["description"],
                by=request.user,
            ),
            done=lambda plan: plan_url(plan),
            success=lambda plan: f"Plan {plan.pk} made: {plan.installment_count} installments issued.",
        )
        if response is not None:
            return response
    else:
        form = NewPlanForm(user=request.user, customer_query=query, initial={"customer": request.GET.get("customer")})
    return render(request, "plans/new.html", {"form": form, "query": query, "no_match": no_customer_match(query)})
