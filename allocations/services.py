"""Allocation use cases: allocate, allocate_many, deallocate, auto_allocate (and auto_allocate_planned)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.db import connection, transaction

from allocations.models import Allocation
from allocations.rules import PlannedSplit, plan_allocation
from billing.actors import Actor
from billing.errors import (
    BillingError,
    ExceedsBalance,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    PartyMismatch,
)
from billing.money import format_money, parse_positive_amount
from billing.validation import require_reason
from invoices.models import Invoice, InvoiceState
from invoices.selectors import allocatable_invoices
from ledger import bulk
from ledger.core import (
    append_allocations,
    lock_customer_accounts,
    lock_rows,
    pair_net,
    refresh_all,
    reverse_pair,
    sync_caller_copy,
)
from payments.models import Payment, PaymentState


def allocate(payment: Payment, invoice: Invoice, amount: object, *, by: Actor, note: str = "") -> Allocation:
    """Put `amount` of the payment on the invoice."""
    return allocate_many(payment, [(invoice, amount)], by=by, note=note)[0]


@transaction.atomic
def allocate_many(
    payment: Payment, splits: Iterable[tuple[Invoice, object]], *, by: Actor, note: str = ""
) -> list[Allocation]:
    """Split one payment over several invoices, all or nothing."""
    splits = list(splits)
    if not splits:
        raise InvalidInput("Choose at least one invoice and an amount to allocate.")
    amounts: list[tuple[int, Decimal]] = []
    seen: set[int] = set()
    for invoice, amount in splits:
        if invoice.pk in seen:
            raise InvalidInput(f"Invoice {invoice} appears twice in the split; give it one amount.")
        seen.add(invoice.pk)
        amounts.append((invoice.pk, parse_positive_amount(amount, payment.currency, field=f"amount for {invoice}")))

    # An invoice's account never changes, so the caller's copies name it; ask only when they do not.
    if all(invoice.__dict__.get("account_id") for invoice, _ in splits):
        account_ids = {invoice.account_id for invoice, _ in splits}
    else:
        account_ids = set(Invoice.objects.filter(pk__in=seen).values_list("account_id", flat=True))
    # Likewise its order: when the copies carry it, the orders are not looked up (none to lock, mostly).
    orders_given = all("order_id" in invoice.__dict__ for invoice, _ in splits)
    order_ids = {invoice.order_id for invoice, _ in splits if invoice.order_id} if orders_given else set()
    accounts, invoices, payments = lock_rows(
        accounts=account_ids, orders=order_ids, invoices=seen, payments=[payment.pk], invoice_orders_given=orders_given
    )
    if any(invoices[invoice_id].account_id not in accounts for invoice_id in seen):
        raise InvalidInput("An invoice given to allocate is not the one in the ledger; reload it and try again.")
    locked = payments[payment.pk]
    if locked.state != PaymentState.SETTLED:
        raise InvalidState(
            f"Payment {locked} is {locked.get_state_display().lower()}; only a settled payment can be allocated."
        )
    requested = sum((amount for _, amount in amounts), Decimal("0.00"))
    if requested > locked.unallocated:
        raise InsufficientFunds(
            f"Payment {locked} has only {format_money(max(locked.unallocated, Decimal(0)), locked.currency)} left "
            f"to allocate; you asked for {format_money(requested, locked.currency)}."
        )
    for invoice_id, amount in amounts:
        invoice = invoices[invoice_id]
        if invoice.state != InvoiceState.OPEN:
            raise InvalidState(
                f"Invoice {invoice} is {invoice.get_state_display().lower()}; only open invoices can be paid."
            )
        if invoice.customer_id != locked.customer_id:
            raise PartyMismatch(
                f"Invoice {invoice} belongs to {invoice.customer}, but payment {locked} came from {locked.customer}."
            )
        if invoice.currency != locked.currency:
            raise PartyMismatch(
                f"Invoice {invoice} is in {invoice.currency}, but payment {locked} is in {locked.currency}."
            )
        if amount > invoice.balance_due:
            raise ExceedsBalance(
                f"Invoice {invoice} has only {format_money(max(invoice.balance_due, Decimal(0)), invoice.currency)} "
                f"left to pay; you asked to allocate {format_money(amount, invoice.currency)}."
            )
    note = (note or "").strip()
    created = append_allocations(
        locked, [(invoices[invoice_id], amount) for invoice_id, amount in amounts], by=by, reason=note
    )
    cause = allocation_cause(locked, note)
    refresh_all(invoices=invoices.values(), payments=[locked], accounts=accounts.values(), cause=cause, by=by)
    sync_caller_copy(payment, locked)
    return created


def allocation_cause(payment: Payment, note: str) -> str:
    """The cause an allocation writes into the status history (allocate_many and auto_allocate_many)."""
    return f"allocation of payment {payment}" + (f": {note}" if note else "")


def auto_note(plan: Sequence[PlannedSplit]) -> str:
    """The note of an automatic allocation: why, for every split."""
    return "auto: " + ", ".join(sorted({split.reason for split in plan}))


@transaction.atomic
def deallocate(payment: Payment, invoice: Invoice, amount: object = None, *, by: Actor, reason: str) -> Allocation:
    """Take money off an invoice back onto the payment; None takes the pair's whole net allocation."""
    reason = require_reason(reason, f"deallocate payment {payment} from invoice {invoice}")
    if amount is not None:
        amount = parse_positive_amount(amount, payment.currency)
    accounts, invoices, payments = lock_rows(
        accounts=[invoice.account_id], invoices=[invoice.pk], payments=[payment.pk]
    )
    locked_invoice, locked_payment = invoices[invoice.pk], payments[payment.pk]
    net = pair_net(locked_payment.pk, locked_invoice.pk)
    if net <= 0:
        raise ExceedsBalance(f"Payment {locked_payment} has nothing allocated to invoice {locked_invoice}.")
    if amount is None:
        amount = net
    if amount > net:
        raise ExceedsBalance(
            f"Payment {locked_payment} has only {format_money(net, locked_payment.currency)} on invoice "
            f"{locked_invoice}; you asked to deallocate {format_money(amount, locked_payment.currency)}."
        )
    cause = f"deallocation: {reason}"
    row = reverse_pair(payment=locked_payment, invoice=locked_invoice, amount=amount, by=by, reason=reason)
    refresh_all(invoices=[locked_invoice], payments=[locked_payment], accounts=accounts.values(), cause=cause, by=by)
    sync_caller_copy(payment, locked_payment)
    sync_caller_copy(invoice, locked_invoice)
    return row


def plan_auto_allocation(
    payment: Payment,
    *,
    preferred_numbers: Sequence[str] = (),
    already_planned: Mapping[int, Decimal] | None = None,
) -> list[PlannedSplit[Invoice]]:
    """What auto_allocate would do now, with the reason for each split.

    `already_planned` (invoice id -> amount) lets a dry run over several payments plan
    each one as if the earlier ones had been allocated: those amounts are taken off the
    invoices' balances first (nothing is written).
    """
    if payment.state != PaymentState.SETTLED or payment.unallocated <= 0:
        return []
    invoices = list(allocatable_invoices(payment))
    if already_planned:
        for invoice in invoices:
            invoice.balance_due -= already_planned.get(invoice.pk, Decimal("0.00"))
        invoices = [invoice for invoice in invoices if invoice.balance_due > 0]
    return plan_allocation(payment.unallocated, invoices, preferred_numbers=preferred_numbers)


def auto_allocate(payment: Payment, *, by: Actor, preferred_numbers: Sequence[str] = ()) -> list[Allocation]:
    """Apply the automatic rule (DESIGN.md §6) to the payment's unallocated money.

    The plan is made from unlocked reads; allocate_many re-checks everything under
    locks, so if a clerk changed a balance in between we plan again.
    """
    return auto_allocate_planned(payment, by=by, preferred_numbers=preferred_numbers)[0]


def auto_allocate_planned(
    payment: Payment, *, by: Actor, preferred_numbers: Sequence[str] = (), fresh: bool = False
) -> tuple[list[Allocation], list[PlannedSplit[Invoice]]]:
    """auto_allocate, also returning the plan it applied (each split's reason), so a caller
    that shows the reasons (the bank import) does not plan a second time.

    `fresh` says the caller's copy is the row as it is in this transaction (record_payment
    just created it), so the first attempt plans without reading it again.
    """
    for attempt in range(3):
        if attempt or not fresh:
            payment.refresh_from_db()
        plan = plan_auto_allocation(payment, preferred_numbers=preferred_numbers)
        if not plan:
            return [], []
        try:
            note = auto_note(plan)
            rows = allocate_many(payment, [(split.invoice, split.amount) for split in plan], by=by, note=note)
            return rows, plan
        except (InsufficientFunds, ExceedsBalance, InvalidState):
            continue
    raise BillingError(f"Payment {payment} changed while being auto-allocated three times; try again.")


def auto_allocate_recorded(
    payment: Payment, *, by: Actor, preferred_numbers: Sequence[str] = ()
) -> tuple[list[Allocation], list[PlannedSplit[Invoice]]]:
    """auto_allocate_planned for a payment record_payment has just created in the caller's
    transaction (the API's record with auto_allocate): auto_allocate_many for a chunk of one.

    Its customer's accounts are locked before the invoices are read, so nothing it plans on
    can move before it writes: no plan again, no retry. No savepoint of its own: a refusal
    fails the caller's transaction, which is all or nothing.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("auto_allocate_recorded runs in the transaction that recorded the payment.")
    return _auto_allocate_chunk([payment], preferred=[preferred_numbers], by=by, recorded_earlier=False)[0]


@transaction.atomic
def auto_allocate_many(
    payments: Sequence[Payment], *, preferred: Sequence[Sequence[str]], by: Actor, recorded_earlier: bool = False
) -> list[tuple[list[Allocation], list[PlannedSplit[Invoice]]]]:
    """auto_allocate_planned for several payments, one after another, in one set-based write.

    For payments just recorded in this transaction (payments.services.record_payments): their
    customers' accounts are locked, then each payment is planned by the one rule
    (plan_allocation) on what the payments before it left open (plan_auto_allocation's
    already_planned), preferring the invoice numbers `preferred` gives it; the invoices
    planned are then locked by id, and ledger.bulk writes the rows and refreshes with the
    ledger's own refresh definitions. Returns each payment's rows and plan, as
    auto_allocate_planned does.

    What the rule reads is read at most twice: first only the invoices the payments name
    (a few index lookups); a customer's whole list of open invoices only when one of its
    payments in the chunk has money left after the invoices it names (then the rule goes on
    to an exact match or the oldest first). Without such a payment the rule never looks
    past the named invoices, so planning on them alone plans the same.

    `recorded_earlier`: payments that other writers may have touched since they were read (the
    nightly run over waiting money). They are locked after the invoices (the one lock order)
    and must still be what was planned with, else bulk.ChunkMoved (the caller takes them one
    by one); the locked copies are written.
    """
    return _auto_allocate_chunk(payments, preferred=preferred, by=by, recorded_earlier=recorded_earlier)


def _auto_allocate_chunk(
    payments: Sequence[Payment], *, preferred: Sequence[Sequence[str]], by: Actor, recorded_earlier: bool
) -> list[tuple[list[Allocation], list[PlannedSplit[Invoice]]]]:
    payments = list(payments)
    wanted = [p.state == PaymentState.SETTLED and p.unallocated > 0 for p in payments]
    lock_customer_accounts([p.customer_id for p, w in zip(payments, wanted, strict=True) if w])
    named = bulk.open_invoices(
        numbers=[number for numbers, w in zip(preferred, wanted, strict=True) if w for number in numbers]
    )
    lists = _by_party(named)
    planned, short = _plan_in_order(payments, preferred, wanted, lists)
    if short:  # plan again with those customers' whole lists (the others' plans come out the same)
        lists.update(_by_party(bulk.open_invoices(customer_ids=[customer_id for customer_id, _ in short])))
        planned, _ = _plan_in_order(payments, preferred, wanted, lists)
    touched = {split.invoice.pk: split.invoice for plan in planned for split in plan}
    locked = bulk.lock_invoices(list(touched.values()))
    if recorded_earlier:
        payments = _locked_as_read(payments)
    steps: list[bulk.Step] = []
    plans: list[list[PlannedSplit[Invoice]]] = []
    for payment, plan in zip(payments, planned, strict=True):
        real = [PlannedSplit(locked[split.invoice.pk], split.amount, split.reason) for split in plan]
        note = auto_note(real) if real else ""
        splits = [(split.invoice, split.amount) for split in real]
        steps.append(bulk.Step(payment, splits, note, allocation_cause(payment, note)))
        plans.append(real)
    rows = bulk.apply_allocations(steps, by=by)
    return list(zip(rows, plans, strict=True))


def _locked_as_read(payments: Sequence[Payment]) -> list[Payment]:
    """The payments locked by id (after the invoices: lock_rows' order), as fresh copies, if
    their state and money left are still what the caller read; else bulk.ChunkMoved."""
    _, _, fresh = lock_rows(payments=[p.pk for p in payments])
    for payment in payments:
        now = fresh.get(payment.pk)
        if now is None or (now.state, now.unallocated) != (payment.state, payment.unallocated):
            raise bulk.ChunkMoved(f"Payment {payment} changed while a chunk of payments was planned; plan again.")
    return [fresh[p.pk] for p in payments]


Party = tuple[int, str]


def _by_party(read: Iterable[bulk.OpenInvoice]) -> dict[Party, list[bulk.OpenInvoice]]:
    lists: dict[Party, list[bulk.OpenInvoice]] = {}
    for invoice in read:
        lists.setdefault((invoice.customer_id, invoice.currency), []).append(invoice)
    return lists


def _plan_in_order(
    payments: Sequence[Payment],
    preferred: Sequence[Sequence[str]],
    wanted: Sequence[bool],
    lists: Mapping[Party, list[bulk.OpenInvoice]],
) -> tuple[list[list[PlannedSplit[bulk.OpenInvoice]]], set[Party]]:
    """Plan each wanted payment on its party's invoices in `lists`, as the payments before it
    left them; returns the plans and the parties where a payment had money left after the
    invoices it names.

    The balances are put back as read afterwards (lock_invoices compares them)."""
    read = {invoice.pk: invoice.balance_due for invoices in lists.values() for invoice in invoices}
    planned: list[list[PlannedSplit[bulk.OpenInvoice]]] = []
    short: set[Party] = set()
    for payment, numbers, w in zip(payments, preferred, wanted, strict=True):
        plan: list[PlannedSplit[bulk.OpenInvoice]] = []
        if w:
            party = (payment.customer_id, payment.currency)
            candidates = [o for o in lists.get(party, []) if o.balance_due > 0]
            plan = plan_allocation(payment.unallocated, candidates, preferred_numbers=numbers)
            for split in plan:
                split.invoice.balance_due -= split.amount
            # Money left after the payment's own named invoices: the rule goes on to the others,
            # which the named-only lists do not hold (they may hold other payments' named ones).
            named = set(numbers)
            if sum((split.amount for split in plan if split.invoice.number in named), Decimal("0.00")) < (
                payment.unallocated
            ):
                short.add(party)
        planned.append(plan)
    for invoices in lists.values():
        for invoice in invoices:
            invoice.balance_due = read[invoice.pk]
    return planned, short
