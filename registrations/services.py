"""Registration use cases (DESIGN.md sections 7 and 12): create a workshop, register a cart, cancel.

Seats are counted under the workshop's row lock: every service here locks the workshops it
touches first (by id), then the accounts and orders of the registrations it will move (by
id, through ledger.core), and only then calls orders.services and invoices.services, which
take their own locks in the one order (they find them held). So two sign-ups for the last
seat queue on the workshop's row: the first takes the seat, the second the wait list, and a
cancellation hands its seat to the first on the list before anyone else can see it free (I10).

The money is the orders' and invoices': a cart is one order (policy `delivered`) with one
line per workshop; confirmed seats are delivered and invoiced together (one invoice), a
wait-listed line is neither until its seat comes (then its own invoice); a cancellation
within the deadline is a credit note by quantity with reason code `cancellation`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.actors import Actor
from billing.errors import InvalidInput, InvalidState
from billing.models import Customer, Provider
from billing.money import MINOR_UNITS, format_money, parse_amount
from billing.validation import require_reason
from invoices.models import CreditNoteLine, CreditReason, InvoiceLine, InvoiceState
from invoices.services import issue_credit_note
from ledger.core import lock_rows_with_orders, sync_caller_copy
from orders.models import InvoicingPolicy, Order, OrderLine
from orders.services import cancel_order_lines, create_order, invoice_order, record_delivery
from registrations.models import Registration, RegistrationChange, RegistrationStatus, Workshop

MAX_CAPACITY = 100_000
MAX_CANCEL_DAYS = 365


def _when(workshop: Workshop) -> str:
    return f"{timezone.localtime(workshop.starts_at):%Y-%m-%d %H:%M}"


@transaction.atomic
def create_workshop(
    *,
    provider: Provider,
    title: str,
    starts_at: datetime.datetime,
    capacity: int,
    price: object,
    currency: str,
    cancel_until_days: int = 7,
    by: Actor,
) -> Workshop:
    """A workshop with `capacity` seats at `price` each; full credit for cancellations up to
    `cancel_until_days` before the start's date."""
    text = str(title or "").strip()
    if not text:
        raise InvalidInput("A workshop needs a title.")
    if not isinstance(starts_at, datetime.datetime) or timezone.is_naive(starts_at):
        raise InvalidInput(f"A workshop's start needs a date, a time and a time zone; got {starts_at!r}.")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(f"A workshop's seats must be a whole number from 1 to {MAX_CAPACITY}; got {capacity!r}.")
    if (
        isinstance(cancel_until_days, bool)
        or not isinstance(cancel_until_days, int)
        or not 0 <= cancel_until_days <= MAX_CANCEL_DAYS
    ):
        raise InvalidInput(
            f"The full-credit deadline must be a whole number of days from 0 to {MAX_CANCEL_DAYS}; "
            f"got {cancel_until_days!r}."
        )
    if currency not in MINOR_UNITS:
        raise InvalidInput(f"{currency!r} is not a currency Settle keeps.")
    amount = parse_amount(price, currency, field="price")
    if amount < 0:
        raise InvalidInput(f"A workshop's price cannot be negative; got {format_money(amount, currency)}.")
    return Workshop.objects.create(
        provider=provider,
        title=text[:200],
        starts_at=starts_at,
        capacity=capacity,
        price=amount,
        currency=currency,
        cancel_until_days=cancel_until_days,
        created_by=by,
    )


@dataclass
class _Seat:
    workshop: Workshop
    attendee: str
    status: str = ""
    position: int | None = None
    line: OrderLine | None = None


def _cart(customer: Customer, workshops: Iterable, attendee: str | None) -> list[tuple[int, str]]:
    """(workshop id, attendee) per item: a Workshop (the attendee is `attendee`, else the
    customer's name) or a (Workshop, attendee name) pair."""
    default = str(attendee).strip() if attendee is not None else ""
    default = default or customer.name
    items = []
    if isinstance(workshops, Workshop | str | bytes) or not isinstance(workshops, Iterable):
        raise InvalidInput("Give the workshops of the cart as a list, at least one.")
    for item in workshops:
        name = default
        if isinstance(item, tuple) and len(item) == 2:
            item, name = item
            name = str(name or "").strip() or default
        if not isinstance(item, Workshop) or item.pk is None:
            raise InvalidInput(f"{item!r} is not a workshop.")
        items.append((item.pk, name[:200]))
    if not items:
        raise InvalidInput("A cart needs at least one workshop.")
    return items


def _lock_workshops(ids: Iterable[int]) -> dict[int, Workshop]:
    """The workshops' rows FOR UPDATE, by id: the first lock of every registration service."""
    return {w.pk: w for w in Workshop.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")}


@transaction.atomic
def register(
    *,
    customer: Customer,
    workshops: Iterable,
    attendee: str | None = None,
    due_date: datetime.date | None = None,
    by: Actor,
) -> Order:
    """Register a cart: one order, one line and one Registration per workshop.

    A seat is confirmed while one is free (and nobody waits for it), else the registration
    is wait-listed, last in line. The confirmed seats' lines are delivered and invoiced
    together: one invoice for the cart's charges; wait-listed ones charge nothing. Items are
    Workshops (the attendee is `attendee`, else the customer's name) or (Workshop, attendee)
    pairs. Refused, with a message and nothing written: a workshop that has started, the
    same attendee twice on one workshop, workshops of other currencies or providers in one cart.
    """
    items = _cart(customer, workshops, attendee)
    locked = _lock_workshops(pk for pk, _ in items)
    now = timezone.now()
    seats = []
    for pk, name in items:
        if pk not in locked:
            raise InvalidInput(f"Workshop {pk} does not exist.")
        workshop = locked[pk]
        if workshop.starts_at <= now:
            raise InvalidState(
                f"{workshop.title} started on {_when(workshop)}; a workshop in the past takes no registrations."
            )
        seats.append(_Seat(workshop, name))
    first = seats[0].workshop
    for seat in seats[1:]:
        if seat.workshop.currency != first.currency:
            raise InvalidInput(
                f"One cart is one order in one currency: {first.title} is in {first.currency}, "
                f"{seat.workshop.title} in {seat.workshop.currency}. Register them in separate carts."
            )
        if seat.workshop.provider_id != first.provider_id:
            raise InvalidInput(
                f"One cart is one order of one provider: {first.title} and {seat.workshop.title} are given by "
                "different providers. Register them in separate carts."
            )
    _refuse_twice(customer, seats)

    for seat in seats:
        workshop = seat.workshop
        if workshop.seats_taken < workshop.capacity and workshop.waitlist_length == 0:
            seat.status = RegistrationStatus.CONFIRMED
            workshop.seats_taken += 1
        else:
            seat.status = RegistrationStatus.WAITLISTED
            workshop.waitlist_length += 1
            seat.position = workshop.waitlist_length
    for workshop in locked.values():
        workshop.save(update_fields=["seats_taken", "waitlist_length"])

    order = create_order(
        customer=customer,
        provider=first.provider,
        currency=first.currency,
        lines=[
            (f"{seat.workshop.title}, {_when(seat.workshop)} ({seat.attendee})", 1, seat.workshop.price)
            for seat in seats
        ],
        invoicing=InvoicingPolicy.DELIVERED,
        placed_at=now,
        by=by,
    )
    for seat, line in zip(seats, OrderLine.objects.filter(order=order).order_by("position"), strict=True):
        seat.line = line
    confirmed = {seat.line: 1 for seat in seats if seat.status == RegistrationStatus.CONFIRMED}
    invoice = None
    if confirmed:
        record_delivery(order, quantities=confirmed, by=by)
        invoice = invoice_order(order, quantities=confirmed, due_date=due_date, by=by)
    registrations = Registration.objects.bulk_create(
        Registration(
            workshop=seat.workshop,
            order=order,
            order_line=seat.line,
            customer=customer,
            attendee=seat.attendee,
            status=seat.status,
            waitlist_position=seat.position,
            registered_at=now,
            confirmed_at=now if seat.status == RegistrationStatus.CONFIRMED else None,
            invoice=invoice if seat.status == RegistrationStatus.CONFIRMED else None,
            created_by=by,
        )
        for seat in seats
    )
    RegistrationChange.objects.bulk_create(
        RegistrationChange(
            registration=registration,
            new=registration.status,
            waitlist_position=registration.waitlist_position,
            invoice=registration.invoice,
            note=(
                f"registered and charged on {invoice}"
                if registration.status == RegistrationStatus.CONFIRMED
                else f"full: wait-listed at position {registration.waitlist_position}, nothing charged"
            ),
            reason=f"cart {order}",
            created_by=by,
        )
        for registration in registrations
    )
    order.refresh_from_db()
    return order


def _refuse_twice(customer: Customer, seats: list[_Seat]) -> None:
    """The same attendee (case aside) at most once per workshop, in the cart and among the live registrations."""
    seen: set[tuple[int, str]] = set()
    for seat in seats:
        key = (seat.workshop.pk, seat.attendee.casefold())
        if key in seen:
            raise InvalidInput(f"{seat.attendee} is twice in this cart for {seat.workshop.title}; once is enough.")
        seen.add(key)
    live = Registration.objects.filter(workshop_id__in={seat.workshop.pk for seat in seats}, customer=customer).exclude(
        status=RegistrationStatus.CANCELED
    )
    for registration in live:
        if (registration.workshop_id, registration.attendee.casefold()) in seen:
            where = (
                f"on the wait list at position {registration.waitlist_position}"
                if registration.status == RegistrationStatus.WAITLISTED
                else "confirmed"
            )
            title = next(seat.workshop.title for seat in seats if seat.workshop.pk == registration.workshop_id)
            raise InvalidInput(
                f"{registration.attendee} is already registered for {title} ({where}, registration "
                f"{registration}); the same attendee cannot take two places on one workshop."
            )


def credit_deadline_passed(registration: Registration, *, today: datetime.date | None = None) -> bool:
    """True after the last day of a full credit (the workshop's start date less its days)."""
    today = today or timezone.localdate()
    return today > registration.workshop.full_credit_until


@transaction.atomic
def cancel_registration(
    registration: Registration,
    *,
    by: Actor,
    reason: str,
    credit_anyway: bool = False,
) -> Registration:
    """Cancel a registration; the freed seat goes to the first on the wait list, who is charged.

    A confirmed seat canceled up to its workshop's full-credit deadline (inclusive) gets a
    credit note for its whole line (reason code `cancellation`); after it nothing is credited
    and the history says so, unless `credit_anyway` (a finance decision: the reason says why).
    A wait-listed registration just leaves the list (its order line is canceled) and those
    behind it move up. The registration's `changes` keep who did what when.
    """
    reason = require_reason(reason, f"cancel registration {registration}")
    workshop = _lock_workshops([registration.workshop_id])[registration.workshop_id]
    # Under the workshop's lock: only its holder changes its registrations.
    current = Registration.objects.select_related("workshop").get(pk=registration.pk)
    current.workshop = workshop
    if current.status == RegistrationStatus.CANCELED:
        raise InvalidState(
            f"Registration {current} ({current.attendee}, {workshop.title}) was already canceled on "
            f"{timezone.localtime(current.canceled_at):%Y-%m-%d %H:%M}."
        )
    next_in_line = None
    if current.status == RegistrationStatus.CONFIRMED and not workshop.started:
        next_in_line = (
            Registration.objects.filter(workshop=workshop, status=RegistrationStatus.WAITLISTED)
            .order_by("waitlist_position")
            .first()
        )
    order_ids = {current.order_id} | ({next_in_line.order_id} if next_in_line else set())
    # The accounts and orders of both registrations, in the one order, before any service touches one.
    lock_rows_with_orders(
        accounts=Order.objects.filter(pk__in=order_ids).values_list("account_id", flat=True), orders=order_ids
    )
    now = timezone.now()
    old = current.status
    change = RegistrationChange(registration=current, old=old, new=RegistrationStatus.CANCELED, reason=reason)
    if old == RegistrationStatus.WAITLISTED:
        cancel_order_lines(current.order, quantities={current.order_line: 1}, by=by, reason=reason)
        position = current.waitlist_position
        _leave_waitlist(current)
        change.note = f"left the wait list (was at position {position}); nothing was charged"
    else:
        workshop.seats_taken -= 1
        if _passed(current, now) and not credit_anyway:
            change.note = (
                f"canceled after the full-credit deadline ({workshop.full_credit_until:%Y-%m-%d}, "
                f"{workshop.cancel_until_days} days before the start): nothing credited"
            )
        else:
            change.note = _full_credit(current, change, reason=reason, late=_passed(current, now), by=by)
    current.cancel()
    current.waitlist_position = None
    current.canceled_at = now
    current.save(update_fields=["status", "waitlist_position", "canceled_at", "credit_note"])
    change.created_by = by
    change.save()
    workshop.save(update_fields=["seats_taken", "waitlist_length"])
    if next_in_line is not None:
        _promote(next_in_line, workshop, freed_by=current, by=by)
    sync_caller_copy(registration, current)
    return current


def _passed(registration: Registration, now: datetime.datetime) -> bool:
    return credit_deadline_passed(registration, today=timezone.localdate(now))


def _full_credit(registration: Registration, change: RegistrationChange, *, reason: str, late: bool, by: Actor) -> str:
    """Credit the seat's invoice line in full (reason code `cancellation`); what happened, for the history.

    Nothing to credit, said so rather than refused: a free seat, a voided invoice not billed
    again (it owes nothing already) or a line a clerk already credited by quantity.
    """
    # The open invoice that bills the seat's line: the one that charged it, or the one that billed
    # it again after a clerk voided that one (registration.invoice keeps the first charge).
    line = (
        InvoiceLine.objects.filter(order_line_id=registration.order_line_id, invoice__state=InvoiceState.OPEN)
        .select_related("invoice")
        .order_by("-id")
        .first()
    )
    if line is None:
        return "canceled; no open invoice bills this seat (its invoice was voided): nothing to credit"
    invoice = line.invoice
    credited = CreditNoteLine.objects.filter(invoice_line=line).aggregate(q=Sum("quantity"))["q"] or 0
    left = line.quantity - credited
    if line.amount == 0 or left <= 0:
        return f"canceled; nothing left to credit on {invoice} line {line.position}"
    note = issue_credit_note(invoice, lines={line: left}, by=by, reason=reason, reason_code=CreditReason.CANCELLATION)
    registration.credit_note = note
    change.credit_note = note
    amount = format_money(note.amount, invoice.currency)
    if late:
        return f"canceled after the full-credit deadline; credited in full anyway ({amount})"
    return f"canceled within the full-credit deadline: credited in full ({amount})"


def _leave_waitlist(registration: Registration) -> None:
    """Take a registration off its workshop's list; everyone behind it moves up by one."""
    workshop = registration.workshop
    Registration.objects.filter(
        workshop_id=workshop.pk,
        status=RegistrationStatus.WAITLISTED,
        waitlist_position__gt=registration.waitlist_position,
    ).update(waitlist_position=F("waitlist_position") - 1)
    workshop.waitlist_length -= 1


def _promote(registration: Registration, workshop: Workshop, *, freed_by: Registration, by: Actor) -> None:
    """The first on the wait list takes the freed seat: delivered and charged on its own invoice."""
    order = Order.objects.get(pk=registration.order_id)
    line = OrderLine.objects.get(pk=registration.order_line_id)
    position = registration.waitlist_position
    registration.workshop = workshop
    _leave_waitlist(registration)
    workshop.seats_taken += 1
    record_delivery(order, quantities={line: 1}, by=by)
    invoice = invoice_order(order, quantities={line: 1}, by=by)
    registration.confirm()
    registration.waitlist_position = None
    registration.confirmed_at = timezone.now()
    registration.invoice = invoice
    registration.save(update_fields=["status", "waitlist_position", "confirmed_at", "invoice"])
    RegistrationChange.objects.create(
        registration=registration,
        old=RegistrationStatus.WAITLISTED,
        new=RegistrationStatus.CONFIRMED,
        invoice=invoice,
        note=f"took the seat freed by {freed_by} (was at position {position} on the wait list); charged on {invoice}",
        reason=f"seat freed by the cancellation of {freed_by}",
        created_by=by,
    )
    workshop.save(update_fields=["seats_taken", "waitlist_length"])
