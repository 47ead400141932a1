"""Invoice use cases: create, issue, void, credit. Each runs in one transaction."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, TypedDict, Unpack

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.actors import Actor
from billing.errors import ExceedsBalance, InvalidAmount, InvalidInput, InvalidState
from billing.models import Account, Customer, Provider
from billing.money import MAX_AMOUNT, format_money, minor_unit, parse_amount, parse_positive_amount
from billing.status import derive_payment_status
from billing.validation import require_reason
from invoices.models import (
    CreditNote,
    CreditNoteLine,
    CreditReason,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
)
from ledger import bulk, journal
from ledger.core import (
    lock_rows,
    pair_nets_for_invoice,
    record_invoice_change,
    refresh_all,
    reverse_pair,
    sync_caller_copy,
)

if TYPE_CHECKING:
    from orders.models import Order, OrderLine
    from plans.models import Plan

# (description, quantity, unit price); orders.services adds the order line it bills as a 4th item.
Line = tuple[str, object, object] | tuple[str, object, object, object]
# InvoiceLine.quantity is DecimalField(max_digits=12, decimal_places=3).
MAX_QUANTITY = Decimal("999999999.999")


def _parse_quantity(value: object, position: int | str) -> Decimal:
    if isinstance(value, float | bool):
        raise InvalidInput(f"Line {position}: the quantity must be an exact decimal, not {type(value).__name__}.")
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"Line {position}: the quantity {value!r} is not a number.") from None
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidInput(f"Line {position}: the quantity must be greater than zero.")
    if quantity > MAX_QUANTITY:
        raise InvalidInput(f"Line {position}: the quantity {quantity} is larger than {MAX_QUANTITY}.")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise InvalidInput(f"Line {position}: the quantity allows at most 3 decimals.")
    return quantity


def _build_lines(lines: Iterable[Line], currency: str) -> list[InvoiceLine]:
    built = []
    for position, line in enumerate(lines, start=1):
        try:
            description, quantity, unit_price, *rest = line
        except (TypeError, ValueError):
            raise InvalidInput(f"Line {position} must be (description, quantity, unit price).") from None
        if len(rest) > 1:
            raise InvalidInput(f"Line {position} must be (description, quantity, unit price).")
        order_line: OrderLine | None = rest[0] if rest else None  # type: ignore[assignment] # an OrderLine
        description = (description or "").strip()
        if not description:
            raise InvalidInput(f"Line {position} needs a description.")
        quantity = _parse_quantity(quantity, position)
        unit_price = parse_amount(unit_price, currency, field=f"unit price of line {position}")
        amount = (quantity * unit_price).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
        if abs(amount) > MAX_AMOUNT:
            raise InvalidAmount(
                f"Line {position} comes to {amount} {currency}, more than the largest amount Settle can book "
                f"({format_money(MAX_AMOUNT, currency)})."
            )
        built.append(
            InvoiceLine(
                position=position,
                description=description[:300],
                quantity=quantity,
                unit_price=unit_price,
                amount=amount.quantize(Decimal("0.01")),
                order_line=order_line,
            )
        )
    if not built:
        raise InvalidInput("An invoice needs at least one line.")
    return built


class _NewInvoiceRequired(TypedDict):
    customer: Customer
    provider: Provider
    currency: str
    lines: Iterable[Line]
    due_date: datetime.date


class NewInvoice(_NewInvoiceRequired, total=False):
    """What create_invoice takes besides `by` (and issue_new_invoices, for each invoice)."""

    issue_date: datetime.date | None
    kind: str  # InvoiceKind, standard by default
    order: Order | None
    plan: Plan | None
    plan_sequence: int | None
    installment: Invoice | None
    penalty_period: int | None
    penalty_revision: int | None


@transaction.atomic
def create_invoice(*, by: Actor, **invoice: Unpack[NewInvoice]) -> Invoice:
    """Create a draft invoice; its lines may change until it is issued.

    `order` and lines' 4th item (the order line billed) are for orders.services.invoice_order,
    which checks under the order's lock that the quantities may be invoiced. `plan` with
    `plan_sequence` (an installment) or with `installment`, `penalty_period` and `penalty_revision` (a penalty)
    are for plans.services, which checks them.
    """
    draft, built = _draft(invoice, by=by)
    draft.account, _ = Account.objects.get_or_create(
        customer=invoice["customer"], provider=invoice["provider"], currency=invoice["currency"]
    )
    draft.save(force_insert=True)
    for line in built:
        line.invoice = draft
    InvoiceLine.objects.bulk_create(built)
    return draft


def _draft(given: NewInvoice, *, by: Actor) -> tuple[Invoice, list[InvoiceLine]]:
    """create_invoice's checks and its unsaved draft (without its account) and lines."""
    unknown = set(given) - NewInvoice.__required_keys__ - NewInvoice.__optional_keys__
    if unknown:
        raise TypeError(f"create_invoice() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    missing = NewInvoice.__required_keys__ - set(given)
    if missing:
        raise TypeError(f"create_invoice() missing required keyword arguments: {', '.join(sorted(missing))}")
    currency, due_date, issue_date = given["currency"], given["due_date"], given.get("issue_date")
    kind = given.get("kind", InvoiceKind.STANDARD)
    order, plan, installment = given.get("order"), given.get("plan"), given.get("installment")
    plan_sequence, penalty_period = given.get("plan_sequence"), given.get("penalty_period")
    penalty_revision = given.get("penalty_revision")
    if kind not in InvoiceKind.values:
        raise InvalidInput(f"{kind!r} is not an invoice kind ({', '.join(InvoiceKind.values)}).")
    # A plan's invoices come from plans.services, which gives them their place in the plan.
    if (kind == InvoiceKind.INSTALLMENT) != (plan is not None and plan_sequence is not None and installment is None):
        raise InvalidInput("An installment invoice is issued by its plan (plans.services.create_plan), with its place.")
    if (kind == InvoiceKind.PENALTY) != (
        plan is not None and installment is not None and penalty_period is not None and penalty_revision is not None
    ):
        raise InvalidInput(
            "A penalty invoice is issued by the assessment (plans.services.assess_penalties) for a period."
        )
    built = _build_lines(given["lines"], currency)
    for line in built:
        if line.order_line is not None and (order is None or line.order_line.order_id != order.pk):
            raise InvalidInput(f"Line {line.position} bills an order line of another order.")
    total = sum((line.amount for line in built), Decimal("0.00"))
    if total < 0:
        raise InvalidInput(f"The invoice total would be {format_money(total, currency)}; it cannot be negative.")
    if total > MAX_AMOUNT:
        raise InvalidAmount(
            f"The invoice total would be {format_money(total, currency)}, more than the largest amount Settle "
            f"can book ({format_money(MAX_AMOUNT, currency)})."
        )
    if due_date is None:
        raise InvalidInput("An invoice needs a due date.")
    if issue_date is not None and due_date < issue_date:
        raise InvalidInput(f"The due date {due_date} is before the issue date {issue_date}.")
    invoice = Invoice(
        provider=given["provider"],
        customer=given["customer"],
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        kind=kind,
        order=order,
        plan=plan,
        plan_sequence=plan_sequence,
        installment=installment,
        penalty_period=penalty_period,
        penalty_revision=penalty_revision,
        total=total,
        balance_due=total,
        payment_status=derive_payment_status(net=total, paid=Decimal("0.00")),
        created_by=by,
    )
    return invoice, built


@transaction.atomic
def issue_invoice(invoice: Invoice, *, by: Actor) -> Invoice:
    """Draft to open: take the provider's next number (no gaps) and start collecting."""
    accounts, invoices, _ = lock_rows(accounts=[invoice.account_id], invoices=[invoice.pk])
    locked = invoices[invoice.pk]
    if locked.state != InvoiceState.DRAFT:
        raise InvalidState(f"Invoice {locked} is {locked.get_state_display()}; only a draft can be issued.")
    issue_date = locked.issue_date or timezone.localdate()
    if locked.due_date < issue_date:
        raise InvalidInput(f"The due date {locked.due_date} is before the issue date {issue_date}.")
    # The provider's lock comes last in the order: only issuing takes it.
    provider = Provider.objects.select_for_update().get(pk=locked.provider_id)
    provider.last_invoice_number += 1
    provider.save(update_fields=["last_invoice_number"])
    locked.sequence = provider.last_invoice_number
    locked.number = f"{provider.code}-{provider.last_invoice_number:06d}"
    locked.issue_date = issue_date
    locked.issue()
    locked.save(update_fields=["sequence", "number", "issue_date", "state"])
    record_invoice_change(locked, field="state", old=InvoiceState.DRAFT, new=InvoiceState.OPEN, cause="issued", by=by)
    refresh_all(invoices=[locked], accounts=accounts.values(), cause=f"issue of {locked}", by=by)
    journal.invoice_issued(locked)
    sync_caller_copy(invoice, locked)
    return locked


@transaction.atomic
def issue_new_invoices(new: Sequence[NewInvoice], *, by: Actor) -> list[Invoice]:
    """create_invoice then issue_invoice for each of several invoices, each given as
    create_invoice's arguments without `by` (and not an order's: orders.services bills those
    under the order's lock), set-based (ledger.bulk.issue_drafts): the same rows, numbers
    without gaps in the list's order, status history, journal entries and figures as the two
    calls for each in turn. All or nothing. The penalty assessment's new penalties: thousands
    on some nights, where the two calls cost about twenty statements an invoice.
    """
    drafts = [_draft(invoice, by=by) for invoice in new]
    today = timezone.localdate()
    for invoice, _ in drafts:
        if invoice.order_id is not None:
            raise InvalidInput("An order's invoices are billed by orders.services.invoice_order, under its lock.")
        invoice.issue_date = invoice.issue_date or today
        if invoice.due_date < invoice.issue_date:  # issue_invoice's check, once the issue date is today's
            raise InvalidInput(f"The due date {invoice.due_date} is before the issue date {invoice.issue_date}.")
    if not drafts:
        return []
    parties = [(invoice.customer_id, invoice.provider_id, invoice.currency) for invoice, _ in drafts]
    account_ids = bulk.accounts_for(parties)
    for (invoice, _), account_id in zip(drafts, account_ids, strict=True):
        invoice.account_id = account_id
    lock_rows(accounts=account_ids)
    return bulk.issue_drafts(drafts, by=by)


@transaction.atomic
def void_invoice(invoice: Invoice, *, by: Actor, reason: str) -> Invoice:
    """Void an invoice: reverse every allocation on it (freeing the payments) and close it."""
    reason = require_reason(reason, f"void invoice {invoice}")
    # Allocating to this invoice needs its lock, which we take before reading its payments.
    accounts, invoices, _ = lock_rows(accounts=[invoice.account_id], invoices=[invoice.pk])
    locked = invoices[invoice.pk]
    if locked.state == InvoiceState.VOID:
        raise InvalidState(f"Invoice {locked} is already void.")
    nets = pair_nets_for_invoice(locked.pk)
    _, _, payments = lock_rows(payments=nets)
    cause = f"void of invoice {locked}: {reason}"
    for payment_id, net in sorted(nets.items()):
        reverse_pair(payment=payments[payment_id], invoice=locked, amount=net, by=by, reason=cause)
    old_state = locked.state
    locked.void()
    locked.voided_at = timezone.now()
    locked.void_reason = reason
    locked.balance_due = Decimal("0.00")  # a void invoice owes nothing; the check constraint holds them together
    locked.save(update_fields=["state", "voided_at", "void_reason", "balance_due"])
    record_invoice_change(locked, field="state", old=old_state, new=InvoiceState.VOID, cause=cause, by=by)
    refresh_all(invoices=[locked], payments=payments.values(), accounts=accounts.values(), cause=cause, by=by)
    if old_state == InvoiceState.OPEN:  # a discarded draft never counted
        journal.invoice_voided(locked)
    sync_caller_copy(invoice, locked)
    return locked


@transaction.atomic
def issue_credit_note(
    invoice: Invoice,
    *,
    amount: object = None,
    lines: Mapping[InvoiceLine, object] | None = None,
    by: Actor,
    reason: str,
    reason_code: str = CreditReason.CORRECTION,
    reopen_quantity: bool = False,
) -> CreditNote:
    """Reduce what an open invoice asks for. After full payment this makes it overpaid (a work item).

    Exactly one of `amount` (a price concession: it never gives quantity back to an order)
    or `lines`, {invoice line: quantity}: a credit by quantity, each line's amount its
    quantity at the line's unit price (the rest of the line's amount when the whole rest of
    its quantity is credited, so rounding leaves nothing behind). A line's quantity can be
    credited only once: at most what was invoiced less what earlier credit notes credited.
    `reopen_quantity` (lines only, all of them billing an order line) gives the quantity
    back to the order, which may then invoice it again (goods re-shipped); without it the
    order line stays invoiced (a return: the customer owes less, nothing is billed again).
    `reason_code` is one of invoices.models.CreditReason (correction by default).
    """
    reason = require_reason(reason, f"credit invoice {invoice}")
    _require_credit_reason(reason_code)
    if (amount is None) == (lines is None):
        raise InvalidInput("A credit note is by amount or by lines (invoice line: quantity); give exactly one.")
    if amount is not None:
        if reopen_quantity:
            raise InvalidInput(
                "A credit note by amount is a price concession and never gives quantity back to the order; "
                "credit by lines to reopen quantity."
            )
        amount = parse_positive_amount(amount, invoice.currency)
    else:
        if not isinstance(lines, Mapping) or not lines:
            raise InvalidInput("Give the lines to credit as {invoice line: quantity}, at least one.")
        wanted = {}
        for invoice_line, quantity in lines.items():
            position = getattr(invoice_line, "position", "?")
            if not isinstance(invoice_line, InvoiceLine) or invoice_line.invoice_id != invoice.pk:
                raise InvalidInput(f"Line {position} is not a line of invoice {invoice}.")
            wanted[invoice_line.pk] = _parse_quantity(quantity, position)
    accounts, invoices, _ = lock_rows(accounts=[invoice.account_id], invoices=[invoice.pk])
    locked = invoices[invoice.pk]
    _require_open(locked)
    credit_lines: list[CreditNoteLine] = []
    if lines is not None:
        credit_lines = _credit_lines(locked, wanted, reopen_quantity=reopen_quantity)
        amount = sum((credit_line.amount for credit_line in credit_lines), Decimal("0.00"))
        if amount <= 0:
            raise InvalidAmount(f"Those lines of invoice {locked} come to nothing to credit.")
    assert isinstance(amount, Decimal)
    _require_creditable(locked, amount, locked.total - locked.credited_total)
    note = CreditNote.objects.create(
        invoice=locked,
        amount=amount,
        reason_code=reason_code,
        reopen_quantity=bool(reopen_quantity and credit_lines),
        created_by=by,
        reason=reason,
    )
    for credit_line in credit_lines:
        credit_line.credit_note = note
    CreditNoteLine.objects.bulk_create(credit_lines)
    # refresh_all refreshes the invoice's order too (its lock was taken with the invoice's).
    refresh_all(invoices=[locked], accounts=accounts.values(), cause=f"credit note #{note.pk}: {reason}", by=by)
    journal.credit_note_issued(note, locked)
    sync_caller_copy(invoice, locked)
    return note


@transaction.atomic
def issue_credit_notes(
    credits: Sequence[tuple[Invoice, object, str]], *, reason_code: str, by: Actor
) -> list[CreditNote]:
    """issue_credit_note by amount for several invoices at once, as (invoice, amount, reason),
    in one set-based write (ledger.bulk.apply_credit_notes): the same rows, status histories,
    journal entries and caches as calling it for each in turn. All or nothing. The penalty
    assessment's recalculations, a few thousand on a night after a big allocation run."""
    _require_credit_reason(reason_code)
    wanted = [
        (invoice, parse_positive_amount(amount, invoice.currency), require_reason(reason, f"credit invoice {invoice}"))
        for invoice, amount, reason in credits
    ]
    if not wanted:
        return []
    _, invoices, _ = lock_rows(
        accounts=[invoice.account_id for invoice, _, _ in wanted], invoices=[invoice.pk for invoice, _, _ in wanted]
    )
    left = {pk: invoice.total - invoice.credited_total for pk, invoice in invoices.items()}
    notes = []
    for invoice, amount, reason in wanted:
        locked = invoices[invoice.pk]
        _require_open(locked)
        _require_creditable(locked, amount, left[locked.pk])
        left[locked.pk] -= amount
        notes.append(CreditNote(invoice=locked, amount=amount, reason_code=reason_code, created_by=by, reason=reason))
    bulk.apply_credit_notes(notes, by=by)
    for invoice, _, _ in wanted:
        sync_caller_copy(invoice, invoices[invoice.pk])
    return notes


def _require_credit_reason(reason_code: str) -> None:
    if reason_code not in CreditReason.values:
        raise InvalidInput(f"{reason_code!r} is not a credit reason ({', '.join(CreditReason.values)}).")


def _require_open(locked: Invoice) -> None:
    if locked.state != InvoiceState.OPEN:
        raise InvalidState(f"Invoice {locked} is {locked.get_state_display()}; only an open invoice can be credited.")


def _require_creditable(locked: Invoice, amount: Decimal, creditable: Decimal) -> None:
    """`amount` fits in what may still be credited on the locked invoice (less notes before it in a batch)."""
    if amount > creditable:
        raise ExceedsBalance(
            f"Invoice {locked} can be credited at most {format_money(creditable, locked.currency)}; "
            f"you asked for {format_money(amount, locked.currency)}."
        )


def _credit_lines(invoice: Invoice, wanted: dict[int, Decimal], *, reopen_quantity: bool) -> list[CreditNoteLine]:
    """The credit note's lines, checked under the invoice's lock against what was already credited."""
    invoice_lines = {line.pk: line for line in InvoiceLine.objects.filter(invoice=invoice, pk__in=wanted)}
    credited = {
        row["invoice_line_id"]: (row["q"], row["a"])
        for row in CreditNoteLine.objects.filter(invoice_line_id__in=wanted)
        .values("invoice_line_id")
        .annotate(q=Sum("quantity"), a=Sum("amount"))
    }
    built = []
    for pk, quantity in sorted(wanted.items()):
        line = invoice_lines[pk]
        done_quantity, done_amount = credited.get(pk, (Decimal("0"), Decimal("0.00")))
        left = line.quantity - done_quantity
        if quantity > left:
            raise ExceedsBalance(
                f"Line {line.position} of invoice {invoice} ({line.description}) has {left.normalize():f} left to "
                f"credit of {line.quantity.normalize():f} invoiced; you asked to credit {quantity.normalize():f}."
            )
        if line.unit_price < 0:
            raise InvalidInput(
                f"Line {line.position} of invoice {invoice} is a discount; credit an amount instead of its quantity."
            )
        if reopen_quantity and line.order_line_id is None:
            raise InvalidInput(
                f"Line {line.position} of invoice {invoice} bills no order line, so there is no quantity to reopen."
            )
        if quantity == left:
            amount = line.amount - done_amount
        else:
            amount = (quantity * line.unit_price).quantize(minor_unit(invoice.currency), rounding=ROUND_HALF_UP)
        built.append(CreditNoteLine(invoice_line=line, quantity=quantity, amount=amount.quantize(Decimal("0.01"))))
    return built
