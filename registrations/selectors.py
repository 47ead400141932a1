"""Reads of the registrations pages: the workshop list with its revenue, a roster, a timeline."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from billing.timeline import Event, newest_first
from invoices.models import CreditNoteLine, InvoiceLine, InvoiceState
from registrations.models import Registration, RegistrationStatus, Workshop


def workshop_list(*, upcoming: bool | None = None) -> QuerySet[Workshop]:
    """Workshops by start; upcoming (not started) or past only when asked."""
    queryset = Workshop.objects.select_related("provider").order_by("starts_at", "id")
    if upcoming is True:
        queryset = queryset.filter(starts_at__gt=timezone.now())
    elif upcoming is False:
        queryset = queryset.filter(starts_at__lte=timezone.now()).order_by("-starts_at", "-id")
    return queryset


def revenue_of(workshop_ids: list[int]) -> dict[int, Decimal]:
    """Per workshop: what its seats were charged on invoices that are not void, less what credit
    notes gave back (cancellations), in the workshop's currency."""
    charged = (
        InvoiceLine.objects.filter(order_line__registration__workshop_id__in=workshop_ids)
        .exclude(invoice__state=InvoiceState.VOID)
        .values_list("order_line__registration__workshop_id")
        .annotate(total=Sum("amount"))
    )
    credited = (
        CreditNoteLine.objects.filter(invoice_line__order_line__registration__workshop_id__in=workshop_ids)
        .exclude(invoice_line__invoice__state=InvoiceState.VOID)
        .values_list("invoice_line__order_line__registration__workshop_id")
        .annotate(total=Sum("amount"))
    )
    revenue = {pk: Decimal("0.00") for pk in workshop_ids}
    for pk, total in charged:
        revenue[pk] += total
    for pk, total in credited:
        revenue[pk] -= total
    return revenue


def roster(workshop: Workshop) -> dict[str, list[Registration]]:
    """The workshop's registrations: confirmed by arrival, the wait list by position, canceled newest first."""
    rows = list(
        Registration.objects.filter(workshop=workshop).select_related("customer", "invoice", "credit_note", "order")
    )
    return {
        "confirmed": sorted(
            (r for r in rows if r.status == RegistrationStatus.CONFIRMED), key=lambda r: (r.confirmed_at, r.pk)
        ),
        "waitlisted": sorted(
            (r for r in rows if r.status == RegistrationStatus.WAITLISTED), key=lambda r: r.waitlist_position or 0
        ),
        "canceled": sorted(
            (r for r in rows if r.status == RegistrationStatus.CANCELED),
            key=lambda r: r.canceled_at or r.registered_at,
            reverse=True,
        ),
    }


def registration_timeline(registration: Registration) -> list[Event]:
    """Every change of the registration (who, when, why, what it charged or credited), newest first."""
    labels = dict(RegistrationStatus.choices)
    events = []
    for change in registration.changes.select_related("created_by", "invoice", "credit_note"):
        title = (
            f"Registered: {labels.get(change.new, change.new)}"
            if not change.old
            else f"{labels.get(change.old, change.old)} → {labels.get(change.new, change.new)}"
        )
        amount, url = None, ""
        if change.credit_note is not None:
            amount, url = -change.credit_note.amount, change.credit_note.invoice.get_absolute_url()
        elif change.invoice is not None:
            amount, url = change.invoice.total, change.invoice.get_absolute_url()
        detail = change.note + (f" · Reason: {change.reason}" if change.reason else "")
        events.append(
            Event(
                at=change.created_at,
                by=change.created_by,
                kind="credit" if change.credit_note_id else ("status" if change.old else "created"),
                title=title,
                detail=detail,
                amount=amount,
                currency=registration.workshop.currency,
                url=url,
                order=change.pk,
            )
        )
    return newest_first(events)


@dataclass(frozen=True)
class CancelPreview:
    """What cancelling will do, said before it is done (read under no lock: the service decides)."""

    credit: Decimal | None  # the full credit, None when nothing will be credited
    deadline_passed: bool
    next_in_line: Registration | None  # who takes the freed seat and is charged


def cancel_preview(registration: Registration, *, credit_anyway: bool = False) -> CancelPreview:
    workshop = registration.workshop
    passed = timezone.localdate() > workshop.full_credit_until
    credit = None
    next_in_line = None
    if registration.status == RegistrationStatus.CONFIRMED:
        if (not passed or credit_anyway) and registration.invoice_id is not None:
            line = InvoiceLine.objects.filter(
                invoice_id=registration.invoice_id, order_line_id=registration.order_line_id
            ).first()
            credit = line.amount if line is not None else None
        if not workshop.started:
            next_in_line = (
                Registration.objects.filter(workshop=workshop, status=RegistrationStatus.WAITLISTED)
                .select_related("customer")
                .order_by("waitlist_position")
                .first()
            )
    return CancelPreview(credit=credit, deadline_passed=passed, next_in_line=next_in_line)
