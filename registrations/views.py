"""Registrations pages (namespace "registrations"): the workshops, a workshop's roster and wait
list, a cart registered for a customer, a registration's timeline and its cancellation.

Reading needs the support role; registering and cancelling move money, so the finance role.
Writes are SubmitOnceForms handled by submissions.flow.perform: the service validates, a
BillingError comes back onto the form with the service's message, a repeated POST writes nothing.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from billing.actors import AuthenticatedHttpRequest
from billing.form_fields import no_customer_match
from billing.money import format_money
from billing.roles import FINANCE, SUPPORT, is_finance, role_required
from orders.models import Order
from registrations.forms import CancelRegistrationForm, NewWorkshopForm, RegisterCartForm
from registrations.models import Registration, RegistrationStatus, Workshop
from registrations.selectors import cancel_preview, registration_timeline, revenue_of, roster, workshop_list
from registrations.services import cancel_registration, create_workshop, register
from submissions.flow import perform, replayed
from submissions.tokens import find_submission


@role_required(SUPPORT)
def workshops(request: AuthenticatedHttpRequest) -> HttpResponse:
    past = request.GET.get("when") == "past"
    rows = list(workshop_list(upcoming=not past)[:500])
    revenue = revenue_of([w.pk for w in rows])
    context = {"rows": [(w, revenue[w.pk]) for w in rows], "past": past}
    return render(request, "registrations/list.html", context)


@role_required(SUPPORT)
def workshop_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    workshop = get_object_or_404(Workshop.objects.select_related("provider"), pk=pk)
    context = {
        "workshop": workshop,
        "revenue": revenue_of([workshop.pk])[workshop.pk],
        "today": timezone.localdate(),
        **roster(workshop),
    }
    return render(request, "registrations/workshop.html", context)


@role_required(FINANCE)
def workshop_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = NewWorkshopForm(request.POST, user=request.user)
        response = perform(
            request,
            form,
            lambda data: create_workshop(
                provider=data["provider"],
                title=data["title"],
                starts_at=data["starts_at"],
                capacity=data["capacity"],
                price=data["price"],
                currency=data["currency"],
                cancel_until_days=data["cancel_until_days"],
                by=request.user,
            ),
            done=lambda workshop: workshop.get_absolute_url(),
            success=lambda workshop: f"Workshop {workshop.title} made: {workshop.capacity} seats.",
        )
        if response is not None:
            return response
    else:
        form = NewWorkshopForm(user=request.user)
    return render(request, "registrations/new.html", {"form": form})


@role_required(FINANCE)
def register_cart(request: AuthenticatedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    if request.method == "POST":
        form = RegisterCartForm(request.POST, user=request.user)
        response = perform(
            request,
            form,
            lambda data: register(
                customer=data["customer"],
                workshops=list(data["workshops"]),
                attendee=data["attendee"] or None,
                by=request.user,
            ),
            done=lambda order: order.get_absolute_url() + "#registrations",
            success=_registered,
        )
        if response is not None:
            return response
    else:
        initial = {"customer": request.GET.get("customer"), "workshops": request.GET.getlist("workshop")}
        form = RegisterCartForm(user=request.user, customer_query=query, initial=initial)
    return render(
        request, "registrations/register.html", {"form": form, "query": query, "no_match": no_customer_match(query)}
    )


def _registered(order: Order) -> str:
    registrations = list(order.registrations.select_related("workshop").order_by("id"))
    confirmed = [r for r in registrations if r.status == RegistrationStatus.CONFIRMED]
    waiting = [r for r in registrations if r.status == RegistrationStatus.WAITLISTED]
    parts = []
    if confirmed:
        parts.append(
            f"{len(confirmed)} seat{'s' if len(confirmed) != 1 else ''} confirmed and invoiced "
            f"({format_money(order.invoiced_total, order.currency)})"
        )
    for registration in waiting:
        parts.append(
            f"{registration.workshop.title} is full: wait-listed at position {registration.waitlist_position}, "
            "nothing charged"
        )
    return f"Order {order} registered: " + "; ".join(parts) + "."


def _get_registration(pk: int) -> Registration:
    return get_object_or_404(
        Registration.objects.select_related("workshop", "workshop__provider", "customer", "order", "invoice"), pk=pk
    )


@role_required(SUPPORT)
def registration_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    registration = _get_registration(pk)
    context = {
        "registration": registration,
        "workshop": registration.workshop,
        "timeline": registration_timeline(registration),
        "can_cancel": is_finance(request.user) and registration.status != RegistrationStatus.CANCELED,
    }
    return render(request, "registrations/registration.html", context)


@role_required(FINANCE)
def registration_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the reason (and, after the deadline, whether to credit anyway). POST: the confirmation,
    saying what will happen; POST with `confirm`: cancel."""
    registration = _get_registration(pk)
    preview = None
    if request.method == "POST":
        form = CancelRegistrationForm(request.POST, user=request.user)
        if "confirm" in request.POST:
            response = perform(
                request,
                form,
                lambda data: cancel_registration(
                    registration, by=request.user, reason=data["reason"], credit_anyway=data["credit_anyway"]
                ),
                done=lambda canceled: canceled.get_absolute_url(),
                success=lambda canceled: f"Registration {canceled} canceled: {canceled.changes.last().note}.",
            )
            if response is not None:
                return response
        elif form.is_replay():
            return replayed(request, find_submission(form.token), registration.get_absolute_url())
        elif form.is_valid():
            if not form.cleaned_data["reason"].strip():
                form.add_error("reason", "Give a reason to cancel; it is kept in the registration's history.")
            elif registration.status == RegistrationStatus.CANCELED:
                form.add_error(None, f"Registration {registration} is already canceled.")
            else:
                preview = cancel_preview(registration, credit_anyway=form.cleaned_data["credit_anyway"])
    else:
        form = CancelRegistrationForm(user=request.user)
    context = {
        "registration": registration,
        "workshop": registration.workshop,
        "form": form,
        "preview": preview,
        "deadline_passed": timezone.localdate() > registration.workshop.full_credit_until,
    }
    return render(request, "registrations/cancel.html", context)
