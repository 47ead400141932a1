"""Payment use cases: record, settle, refund, charge back, cancel, correct. Each runs in one transaction."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from allocations.models import Allocation
from billing.actors import Actor
from billing.errors import DuplicateReference, InsufficientFunds, InvalidInput, InvalidState
from billing.models import Customer
from billing.money import format_money, minor_unit, parse_positive_amount
from billing.status import AllocationStatus
from billing.validation import require_reason
from ledger import bulk, journal
from ledger.core import (
    lock_payment_scope,
    lock_rows,
    record_payment_change,
    refresh_all,
    refresh_payment,
    retry_on_scope_change,
    reverse_pair,
    sync_caller_copy,
)
from payments.checks import chargeback_reversal
from payments.corrections import Correction, check_value_date, correction_reference, move_allocations, value_day
from payments.models import Chargeback, Payment, PaymentMethod, PaymentState, Refund


def _same_payment(existing: Payment, *, customer, amount, currency, method, received_at) -> bool:
    return (
        existing.customer_id == customer.pk
        and existing.amount == amount
        and existing.currency == currency
        and existing.method == method
        and (received_at is None or existing.received_at == received_at)
    )


def _existing_for_reference(reference: str, **data) -> Payment:
    existing = Payment.objects.get(reference=reference)
    if not _same_payment(existing, **data):
        raise DuplicateReference(
            f"Reference {reference!r} already belongs to payment {existing} "
            f"({format_money(existing.amount, existing.currency)} from {existing.customer}, "
            f"{existing.get_method_display().lower()}); a different payment needs its own reference."
        )
    return existing


def _insert_payment(
    *,
    customer: Customer,
    amount: Decimal,
    currency: str,
    method: str,
    reference: str | None,
    received_at: datetime.datetime | None,
    state: str,
    by: Actor,
    cause: str,
    unless_reference_taken: bool = False,
) -> Payment | None:
    """The new payment's row, its first status history and (settled) its journal entry.

    `unless_reference_taken`: None, and nothing written, when another payment has the reference.
    Otherwise a taken reference is the database's IntegrityError.
    """
    payment = Payment(
        customer=customer,
        currency=currency,
        amount=amount,
        method=method,
        reference=reference,
        received_at=received_at or timezone.now(),
        unallocated=amount,
        state=state,
        allocation_status=AllocationStatus.UNALLOCATED,
        created_by=by,
    )
    # a pending payment has no journal entry: it counts once the bank confirms it
    if not bulk.insert_payment(payment, by=by, cause=cause, unless_reference_taken=unless_reference_taken):
        return None
    return payment


def _require_method(method: str) -> None:
    if method not in PaymentMethod.values:
        raise InvalidInput(f"Unknown payment method {method!r}; use one of {', '.join(PaymentMethod.values)}.")


def record_payment(
    *,
    customer: Customer,
    amount: object,
    currency: str,
    method: str,
    reference: str | None = None,
    received_at: datetime.datetime | None = None,
    by: Actor,
    pending: bool = False,
) -> Payment:
    """Record money received (settled), or awaiting the bank's confirmation (pending=True).

    The reference makes this idempotent: the same reference with the same data returns
    the payment already recorded; with different data it is an error.
    """
    return record_or_find_payment(
        customer=customer,
        amount=amount,
        currency=currency,
        method=method,
        reference=reference,
        received_at=received_at,
        by=by,
        pending=pending,
    )[0]


def record_or_find_payment(
    *,
    customer: Customer,
    amount: object,
    currency: str,
    method: str,
    reference: str | None = None,
    received_at: datetime.datetime | None = None,
    by: Actor,
    pending: bool = False,
) -> tuple[Payment, bool]:
    """record_payment, also saying whether the payment was created now (True) or is the one
    recorded before with the reference (False): a caller in the same transaction may then
    trust its copy of a new one as the row (the API's auto-allocation)."""
    minor_unit(currency)
    amount = parse_positive_amount(amount, currency)
    _require_method(method)
    reference = (reference or "").strip() or None
    # The three rows in one transaction; inside a caller's, no savepoint: a taken reference is
    # no error here (the insert skips it), and any other failure fails the caller's transaction.
    with transaction.atomic(savepoint=False):
        payment = _insert_payment(
            customer=customer,
            amount=amount,
            currency=currency,
            method=method,
            reference=reference,
            received_at=received_at,
            state=PaymentState.PENDING if pending else PaymentState.SETTLED,
            by=by,
            cause="recorded",
            unless_reference_taken=True,
        )
    if payment is None:  # the reference is taken: by this payment recorded before (or concurrently), or an error
        assert reference is not None, "only a reference conflicts"
        existing = _existing_for_reference(
            reference, customer=customer, amount=amount, currency=currency, method=method, received_at=received_at
        )
        return existing, False
    return payment, True


def record_payments(
    payments: Sequence[tuple[Customer, object, str, str, datetime.datetime]], *, method: str, by: Actor
) -> list[Payment]:
    """record_payment for a chunk of new settled payments, each (customer, amount, currency,
    reference, received_at), written set-based by ledger.bulk: the same rows, in the order given.

    Every reference must be new: the caller (the bank import) has looked them up under its
    advisory locks. One already taken fails the whole call with the database's IntegrityError
    (in the caller's transaction, which it must then roll back), never a second payment.
    """
    _require_method(method)
    created = []
    for customer, amount, currency, reference, received_at in payments:
        minor_unit(currency)
        amount = parse_positive_amount(amount, currency)
        if not (reference or "").strip():
            raise InvalidInput("A payment recorded with others needs its own reference.")
        payment = Payment(
            customer=customer,
            currency=currency,
            amount=amount,
            method=method,
            reference=reference.strip(),
            received_at=received_at or timezone.now(),
            unallocated=amount,
            state=PaymentState.SETTLED,
            allocation_status=AllocationStatus.UNALLOCATED,
            created_by=by,
        )
        created.append(payment)
    with transaction.atomic():
        bulk.insert_payments(created, by=by)
    return created


@transaction.atomic
def settle_payment(payment: Payment, *, by: Actor) -> Payment:
    """Pending to settled: the bank confirmed the money."""
    _, _, payments = lock_rows(payments=[payment.pk])
    locked = payments[payment.pk]
    if locked.state != PaymentState.PENDING:
        raise InvalidState(f"Payment {locked} is {locked.get_state_display().lower()}; only a pending one settles.")
    locked.settle()
    locked.save(update_fields=["state"])
    record_payment_change(locked, field="state", old=PaymentState.PENDING, new=locked.state, cause="settled", by=by)
    journal.payment_received(locked)
    sync_caller_copy(payment, locked)
    return locked


@transaction.atomic
def refund_payment(payment: Payment, *, amount: object, by: Actor, reason: str) -> Refund:
    """Give money back from the payment's unallocated part (deallocate first to refund more)."""
    reason = require_reason(reason, f"refund payment {payment}")
    amount = parse_positive_amount(amount, payment.currency)
    _, _, payments = lock_rows(payments=[payment.pk])
    locked = payments[payment.pk]
    if locked.state not in (PaymentState.SETTLED, PaymentState.CHARGED_BACK):
        raise InvalidState(
            f"Payment {locked} is {locked.get_state_display().lower()}; only a settled payment can be refunded."
        )
    if amount > locked.unallocated:
        raise InsufficientFunds(
            f"Payment {locked} has only {format_money(max(locked.unallocated, Decimal(0)), locked.currency)} "
            f"unallocated; you asked to refund {format_money(amount, locked.currency)}. Deallocate it from "
            f"invoices first."
        )
    refund = Refund.objects.create(payment=locked, amount=amount, created_by=by, reason=reason)
    refresh_all(payments=[locked], cause=f"refund #{refund.pk}: {reason}", by=by)
    journal.payment_refunded(refund, locked)
    sync_caller_copy(payment, locked)
    return refund


def _reverse_newest_first(*, payment: Payment, invoices, nets, excess: Decimal, by: Actor, cause: str) -> None:
    """Take `excess` back from the payment's allocations, newest first, pair by pair."""
    newest_row: dict[int, int] = {}
    for invoice_id in nets:
        row_id = (
            Allocation.objects.filter(payment_id=payment.pk, invoice_id=invoice_id, amount__gt=0)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        assert row_id is not None, f"invoice {invoice_id} has a positive net, so a positive allocation"
        newest_row[invoice_id] = row_id
    for invoice_id in sorted(nets, key=lambda i: newest_row[i], reverse=True):
        if excess <= 0:
            break
        take = min(excess, nets[invoice_id])
        reverse_pair(payment=payment, invoice=invoices[invoice_id], amount=take, by=by, reason=cause)
        excess -= take


@retry_on_scope_change
def record_chargeback(payment: Payment, *, amount: object, by: Actor, reason: str) -> Chargeback:
    """The payer's bank took money back, allocated or not.

    With SETTLE_CHARGEBACK_REVERSAL = "newest_first" the newest allocations are
    reversed until they fit; with "manual" the payment is left overallocated.
    """
    reason = require_reason(reason, f"record a chargeback on payment {payment}")
    amount = parse_positive_amount(amount, payment.currency)
    rule = chargeback_reversal()  # before anything is written
    accounts, invoices, locked, nets = lock_payment_scope(payment.pk)
    if locked.state not in (PaymentState.SETTLED, PaymentState.CHARGED_BACK):
        raise InvalidState(
            f"Payment {locked} is {locked.get_state_display().lower()}; only a settled payment can be charged back."
        )
    if amount > locked.available:
        raise InsufficientFunds(
            f"Payment {locked} has only {format_money(locked.available, locked.currency)} that can be charged back "
            f"(amount less refunds and earlier chargebacks); you asked for {format_money(amount, locked.currency)}."
        )
    chargeback = Chargeback.objects.create(payment=locked, amount=amount, created_by=by, reason=reason)
    journal.payment_charged_back(chargeback, locked)
    cause = f"chargeback #{chargeback.pk}: {reason}"
    old_state = locked.state
    locked.charge_back()
    locked.save(update_fields=["state"])
    if old_state != locked.state:
        record_payment_change(locked, field="state", old=old_state, new=locked.state, cause=cause, by=by)
    if rule == "newest_first":
        excess = locked.allocated_total - (locked.available - amount)
        _reverse_newest_first(payment=locked, invoices=invoices, nets=nets, excess=excess, by=by, cause=cause)
    refresh_all(invoices=invoices.values(), payments=[locked], accounts=accounts.values(), cause=cause, by=by)
    sync_caller_copy(payment, locked)
    return chargeback


@retry_on_scope_change
def cancel_payment(payment: Payment, *, by: Actor, reason: str) -> Payment:
    """Cancel a payment recorded in error: reverse all its allocations; nothing stays available."""
    reason = require_reason(reason, f"cancel payment {payment}")
    accounts, invoices, locked, nets = lock_payment_scope(payment.pk)
    if locked.state not in (PaymentState.PENDING, PaymentState.SETTLED):
        raise InvalidState(f"Payment {locked} is {locked.get_state_display().lower()}; it cannot be canceled.")
    cause = f"cancel of payment {locked}: {reason}"
    for invoice_id, net in sorted(nets.items()):
        reverse_pair(payment=locked, invoice=invoices[invoice_id], amount=net, by=by, reason=cause)
    old_state = locked.state
    locked.cancel()
    locked.canceled_at = timezone.now()
    locked.cancel_reason = reason
    record_payment_change(locked, field="state", old=old_state, new=locked.state, cause=cause, by=by)
    refresh_all(invoices=invoices.values(), accounts=(), cause=cause, by=by)
    refresh_payment(locked, cause=cause, by=by, also_save=["state", "canceled_at", "cancel_reason"])
    refresh_all(accounts=accounts.values(), cause=cause, by=by)
    journal.payment_canceled(locked, was=old_state)
    sync_caller_copy(payment, locked)
    return locked


def correct_payment(
    payment: Payment,
    *,
    amount: object = None,
    received_at: datetime.datetime | None = None,
    by: Actor,
    reason: str,
) -> Payment:
    """Replace a payment recorded with the wrong amount or value date (DESIGN.md section 10);
    returns the replacement. record_correction says what moved and what did not fit."""
    return record_correction(payment, amount=amount, received_at=received_at, by=by, reason=reason).replacement


@retry_on_scope_change
def record_correction(
    payment: Payment,
    *,
    amount: object = None,
    received_at: datetime.datetime | None = None,
    by: Actor,
    reason: str,
) -> Correction:
    """correct_payment, returning the whole Correction.

    In one transaction, under the usual locks (the payment's invoices' accounts, orders and
    invoices, then the payment): a new payment with the corrected amount and/or value date and
    the old one's customer, currency, method and state (settled or pending); the old payment's
    allocations reversed (append-only rows) and put on the replacement pair by pair, oldest
    allocation first, as far as the replacement's money and each invoice's balance allow (what
    does not fit stays due on the invoice); the old payment canceled, naming its replacement.

    A payment with refunds or chargebacks is refused: those rows are the bank's record of money
    sent back from that payment and cannot move to another, and leaving them on a canceled
    payment would drop them from the customer's balance.
    """
    reason = require_reason(reason, f"correct payment {payment}")
    new_amount = None if amount is None else parse_positive_amount(amount, payment.currency)
    new_received_at = None if received_at is None else check_value_date(received_at)
    accounts, invoices, old, nets = lock_payment_scope(payment.pk)
    if old.corrected_by_id:
        raise InvalidState(f"Payment {old} was already corrected by P-{old.corrected_by_id}; correct that one instead.")
    if old.state == PaymentState.CHARGED_BACK:
        raise InvalidState(
            f"Payment {old} is charged back; its chargebacks belong to it and cannot move to a new payment, "
            f"so it cannot be corrected."
        )
    if old.state not in (PaymentState.PENDING, PaymentState.SETTLED):
        raise InvalidState(
            f"Payment {old} is {old.get_state_display().lower()}; only a settled or pending payment can be corrected."
        )
    if old.refunded_total:
        raise InvalidState(
            f"Payment {old} has {format_money(old.refunded_total, old.currency)} refunded; a correction cannot move "
            f"refunds to a new payment. Record the difference as a payment of its own, or cancel this one and "
            f"record the payment and its refund again."
        )
    corrected_amount = old.amount if new_amount is None else new_amount
    corrected_at = old.received_at
    if new_received_at is not None and timezone.localdate(new_received_at) != value_day(old):
        corrected_at = new_received_at  # the value date is a day: the same day keeps the old time
    if corrected_amount == old.amount and corrected_at == old.received_at:
        raise InvalidInput(
            f"Payment {old} is already {format_money(old.amount, old.currency)} received on {value_day(old)}; "
            f"give another amount or value date to correct it.",
            code="nothing_to_correct",
        )
    new = _insert_payment(  # a taken correction reference is an IntegrityError: never two corrections
        customer=old.customer,
        amount=corrected_amount,
        currency=old.currency,
        method=old.method,
        reference=correction_reference(old),
        received_at=corrected_at,
        state=old.state,
        by=by,
        cause=f"correction of payment {old}: {reason}",
    )
    assert new is not None, "a taken reference raises when unless_reference_taken is not asked"
    cause = f"correction of payment {old} by {new}: {reason}"
    pairs = move_allocations(old, new, invoices, nets, by=by, cause=cause)
    old_state = old.state
    old.cancel()
    old.canceled_at = timezone.now()
    old.cancel_reason = f"Corrected by {new}: {reason}"
    old.corrected_by = new
    record_payment_change(old, field="state", old=old_state, new=old.state, cause=cause, by=by)
    refresh_all(invoices=invoices.values(), payments=[new], cause=cause, by=by)
    refresh_payment(old, cause=cause, by=by, also_save=["state", "canceled_at", "cancel_reason", "corrected_by"])
    refresh_all(accounts=accounts.values(), cause=cause, by=by)
    journal.payment_canceled(old, was=old_state)
    sync_caller_copy(payment, old)
    return Correction(corrected=old, replacement=new, pairs=pairs)
