"""The one write path for a chunk of new payments at once (the bank import, issue 10), and for
many credit notes by amount at once (the penalty assessment's recalculations, apply_credit_notes).

record_payment and allocate_many write one payment's rows in about 18 statements. For a
chunk of imported credits this module writes the same rows set-based: one multi-row
INSERT per table, one UPDATE per cached table, one INSERT for each status history.

It is still the one write path, not a second one beside it:

- locks go through ledger.core.lock_rows, in the one order (accounts, then the invoices'
  orders, then invoices by id; the payments are new, so no other writer can hold them),
  once for the chunk; the orders of the invoices paid are refreshed by ledger.orders;
- cached totals and statuses come from ledger.core.ledger_sums (the SQL sums every
  refresh reads) and ledger.core.derive_invoice / derive_payment (the derivation
  refresh_invoice and refresh_payment use); accounts from ledger.core.refresh_accounts,
  the statement refresh_account runs; the journal from ledger.journal;
- only the writing is batched. The derivation is walked payment by payment in the
  chunk's order, so each invoice's status history says what the per-entry path would
  have written: one row per status change, with the cause of the payment that made it.

The queue-total triggers fire per row on the multi-row INSERT and UPDATE as they do on
single-row ones; an invoice paid by two payments of the chunk is updated once (from its
first status to its last) instead of twice, which appends the same net delta per key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from allocations.models import Allocation
from billing.actors import Actor
from billing.errors import InvalidState
from billing.models import Provider
from billing.sql_arrays import array_param
from billing.status import AllocationStatus, PaymentStatus
from invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceState, InvoiceStatusChange
from invoices.selectors import allocation_order_sql
from ledger import journal
from ledger.core import derive_invoice, derive_payment, ledger_sums, lock_orders_of, lock_rows, refresh_accounts
from ledger.orders import refresh_orders
from ledger.plans import refresh_plans
from ledger.signals import status_changed
from payments.models import Payment, PaymentState, PaymentStatusChange

# A status change to be written: (owner id, field, old, new, cause).
Change = tuple[int, str, str, str, str]


@dataclass
class Step:
    """One payment's allocations, in the order the per-entry path would have made them."""

    payment: Payment
    splits: list[tuple[Invoice, Decimal]]
    note: str
    cause: str


def insert_payments(payments: list[Payment], *, by: Actor) -> None:
    """INSERT new payments (ids in the given order), their recorded status history and
    journal entries: what record_payment writes for each."""
    if not payments:
        return
    insert_many(Payment, payments)
    _payment_rows(payments, by=by, cause="recorded")


def insert_payment(payment: Payment, *, by: Actor, cause: str, unless_reference_taken: bool = False) -> bool:
    """insert_payments for one new payment, its first status history naming `cause`
    (record_payment, a correction's replacement).

    `unless_reference_taken`: when another payment already has its reference, nothing is
    written and False is returned (the caller looks that one up). The reference's unique
    index decides (ON CONFLICT DO NOTHING, which waits for a concurrent twin's transaction),
    so neither a lookup before nor a savepoint around the insert is needed.
    """
    if not _insert(Payment, [payment], on_conflict='("reference") DO NOTHING' if unless_reference_taken else ""):
        return False
    _payment_rows([payment], by=by, cause=cause)
    return True


def _payment_rows(payments: Sequence[Payment], *, by: Actor, cause: str) -> None:
    """The rows that come with new payments: state and allocation status history, journal entries."""
    changes: list[Change] = []
    for payment in payments:
        changes.append((payment.pk, "state", "", payment.state, cause))
        changes.append((payment.pk, "allocation_status", "", payment.allocation_status, cause))
    insert_changes(PaymentStatusChange, "payment", changes, by=by)
    journal.payments_received([p for p in payments if p.state == PaymentState.SETTLED])


@dataclass
class OpenInvoice:
    """What the allocation rule reads of an open invoice (allocations.rules.Plannable), as read
    under its account's lock; `balance_due` is what the chunk's earlier payments left of it."""

    pk: int
    customer_id: int
    currency: str
    number: str
    balance_due: Decimal
    plan_id: int | None = None
    order_id: int | None = None


_OPEN_INVOICES = (
    "SELECT i.id, i.customer_id, i.currency, i.number, i.balance_due, i.plan_id, i.order_id FROM invoices_invoice i"
    " LEFT JOIN invoices_invoice inst ON inst.id = i.installment_id"
    " WHERE {} AND i.state = %s AND i.balance_due > 0 ORDER BY {}"
)


def open_invoices(*, customer_ids: Sequence[int] = (), numbers: Sequence[str] = ()) -> list[OpenInvoice]:
    """The open invoices with something due of the given customers, or of the given numbers,
    in invoices.selectors.allocatable_invoices' order (oldest first, a plan's penalties beside
    their installment), as plain values.

    Read under the accounts' locks (ledger.core.lock_customer_accounts): every writer of an
    invoice locks its account first, so these figures cannot move; lock_invoices checks that
    all the same. By number is a few index
    lookups; by customer reads every open invoice of each customer, which is what the
    allocation rule needs only when a payment may reach beyond the invoices it names.
    """
    values: list[int] | list[str]
    if customer_ids:
        condition, values = "i.customer_id = ANY(%s)", sorted(set(customer_ids))
    elif numbers:
        condition, values = "i.number = ANY(%s)", sorted(set(numbers))
    else:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _OPEN_INVOICES.format(condition, allocation_order_sql("i", "inst")), [values, InvoiceState.OPEN.value]
        )
        return [OpenInvoice(*row) for row in cursor.fetchall()]


def lock_invoices(read: Sequence[OpenInvoice]) -> dict[int, Invoice]:
    """Lock the invoices a chunk's plan pays, by id (after the accounts: the one lock order),
    and refuse if one is no longer what the plan read (the caller falls back to one by one)."""
    balances = {invoice.pk: invoice.balance_due for invoice in read}
    # Their orders as read (an invoice's order never changes): lock_rows need not look them up.
    orders = {invoice.order_id for invoice in read if invoice.order_id}
    _, invoices, _ = lock_rows(orders=orders, invoices=balances, invoice_orders_given=True)
    for pk, balance_due in balances.items():
        locked = invoices.get(pk)
        if locked is None or locked.state != InvoiceState.OPEN or locked.balance_due != balance_due:
            raise ChunkMoved(f"Invoice {pk} changed while a chunk of payments was planned; plan again.")
    return invoices


class ChunkMoved(InvalidState):
    """An invoice moved between reading and locking it."""


def apply_allocations(steps: Sequence[Step], *, by: Actor) -> list[list[Allocation]]:
    """Append the steps' allocation rows and refresh what they touched, as allocate_many
    would have, step after step. The caller holds the invoices' and accounts' locks.

    Refuses (InvalidState, nothing kept by the caller's transaction) a result the normal
    write path never produces (I4): an overpaid invoice or an overallocated payment.
    """
    rows = _insert_allocations(steps, by=by)
    invoices = {invoice.pk: invoice for step in steps for invoice, _ in step.splits}
    payments = {step.payment.pk: step.payment for step in steps if step.splits}
    invoice_sums, payment_sums = ledger_sums(invoices, payments)

    # Each invoice starts where the ledger was before the chunk, then takes the steps in order.
    paid = {pk: sums[0] for pk, sums in invoice_sums.items()}
    for step in steps:
        for invoice, amount in step.splits:
            paid[invoice.pk] -= amount
    invoice_fields: dict[int, set[str]] = {}
    payment_fields: dict[int, set[str]] = {}
    invoice_changes: list[Change] = []
    payment_changes: list[Change] = []
    for step in steps:
        if not step.splits:
            continue
        for invoice, amount in step.splits:
            paid[invoice.pk] += amount
            changed, old = derive_invoice(invoice, (paid[invoice.pk], invoice_sums[invoice.pk][1]))
            invoice_fields.setdefault(invoice.pk, set()).update(changed)
            if old is not None:
                invoice_changes.append((invoice.pk, "payment_status", old, invoice.payment_status, step.cause))
        payment = step.payment
        changed, old = derive_payment(payment, payment_sums[payment.pk])
        payment_fields.setdefault(payment.pk, set()).update(changed)
        if old is not None:
            payment_changes.append((payment.pk, "allocation_status", old, payment.allocation_status, step.cause))
    if any(i.payment_status == PaymentStatus.OVERPAID for i in invoices.values()) or any(
        p.allocation_status == AllocationStatus.OVERALLOCATED for p in payments.values()
    ):
        raise InvalidState("A chunk's allocations would overpay an invoice or overallocate a payment.")

    # Invoices first (accounts read them), then payments, then accounts: refresh_all's order.
    insert_changes(InvoiceStatusChange, "invoice", invoice_changes, by=by)
    save_many(Invoice, [invoices[pk] for pk in sorted(invoice_fields) if invoice_fields[pk]], invoice_fields)
    _refresh_orders_and_plans(invoices.values(), cause=steps[0].cause if steps else "", by=by, lines=False)
    insert_changes(PaymentStatusChange, "payment", payment_changes, by=by)
    save_many(Payment, [payments[pk] for pk in sorted(payment_fields) if payment_fields[pk]], payment_fields)
    refresh_accounts(invoice.account_id for invoice in invoices.values())
    return rows


def apply_credit_notes(notes: Sequence[CreditNote], *, by: Actor) -> None:
    """Insert new credit notes by amount on locked open invoices (note.invoice, the locked
    copy) and refresh what they touch, as issue_credit_note would have, one after another:
    each invoice's status history names the note that moved it. The caller holds the
    accounts' and invoices' locks and checked every amount against what may be credited."""
    if not notes:
        return
    insert_many(CreditNote, notes)
    invoices = {note.invoice_id: note.invoice for note in notes}
    invoice_sums, _ = ledger_sums(invoices)
    credited = {pk: sums[1] for pk, sums in invoice_sums.items()}
    for note in notes:  # each invoice starts where the ledger was before these notes
        credited[note.invoice_id] -= note.amount
    fields: dict[int, set[str]] = {}
    changes: list[Change] = []
    for note in notes:
        invoice = invoices[note.invoice_id]
        credited[invoice.pk] += note.amount
        changed, old = derive_invoice(invoice, (invoice_sums[invoice.pk][0], credited[invoice.pk]))
        fields.setdefault(invoice.pk, set()).update(changed)
        if old is not None:
            cause = f"credit note #{note.pk}: {note.reason}"
            changes.append((invoice.pk, "payment_status", old, invoice.payment_status, cause))
    # refresh_all's order: invoices, their orders, plans, then accounts.
    insert_changes(InvoiceStatusChange, "invoice", changes, by=by)
    save_many(Invoice, [invoices[pk] for pk in sorted(fields) if fields[pk]], fields)
    cause = f"credit note #{notes[0].pk}: {notes[0].reason}" + (f" and {len(notes) - 1} more" if len(notes) > 1 else "")
    # A note by amount has no lines, so what was invoiced of an order's lines does not move: money only.
    _refresh_orders_and_plans(invoices.values(), cause=cause, by=by, lines=False)
    refresh_accounts(invoice.account_id for invoice in invoices.values())
    journal.credit_notes_issued([(note, invoices[note.invoice_id]) for note in notes])


def accounts_for(parties: Sequence[tuple[int, int, str]]) -> list[int]:
    """The account id of each (customer, provider, currency), made where there is none yet:
    Account.objects.get_or_create for many, in two or three statements."""
    unique = sorted(set(parties))
    arrays = [array_param([party[n] for party in unique]) for n in range(3)]
    find = (
        "SELECT a.customer_id, a.provider_id, a.currency, a.id FROM billing_account a"
        " JOIN unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(customer, provider, currency)"
        " ON a.customer_id = v.customer AND a.provider_id = v.provider AND a.currency = v.currency"
    )
    with connection.cursor() as cursor:
        cursor.execute(find, arrays)
        found = {(customer, provider, currency): pk for customer, provider, currency, pk in cursor.fetchall()}
        if len(found) < len(unique):
            missing = [party for party in unique if party not in found]
            cursor.execute(
                "INSERT INTO billing_account (customer_id, provider_id, currency, balance_due, open_invoice_count)"
                " SELECT customer, provider, currency, 0, 0"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(customer, provider, currency)"
                " ON CONFLICT (customer_id, provider_id, currency) DO NOTHING",
                [array_param([party[n] for party in missing]) for n in range(3)],
            )
            cursor.execute(find, arrays)
            found = {(customer, provider, currency): pk for customer, provider, currency, pk in cursor.fetchall()}
    return [found[party] for party in parties]


def issue_drafts(drafts: Sequence[tuple[Invoice, Sequence[InvoiceLine]]], *, by: Actor) -> list[Invoice]:
    """Insert new invoices with their lines and issue them, in the list's order, as
    invoices.services.create_invoice then issue_invoice would for each in turn: each provider's
    next numbers without gaps, the issued history row, the journal entry, the plans' and
    accounts' figures. Each draft is unsaved, with its account and issue date set and no order;
    the caller checked them and holds the accounts' locks. The providers' locks come last in
    the one order (only issuing takes them)."""
    invoices = [invoice for invoice, _ in drafts]
    if not invoices:
        return []
    insert_many(Invoice, invoices)  # drafts first, then their lines: an open invoice's lines never change
    lines = []
    for invoice, built in drafts:
        for line in built:
            line.invoice = invoice
            lines.append(line)
    insert_many(InvoiceLine, lines)
    locked = Provider.objects.select_for_update().filter(pk__in={invoice.provider_id for invoice in invoices})
    providers = {provider.pk: provider for provider in locked.order_by("pk")}
    fields: dict[int, set[str]] = {}
    changes: list[Change] = []
    for invoice in invoices:
        provider = providers[invoice.provider_id]
        provider.last_invoice_number += 1
        invoice.sequence = provider.last_invoice_number
        invoice.number = f"{provider.code}-{provider.last_invoice_number:06d}"
        invoice.issue()
        changes.append((invoice.pk, "state", InvoiceState.DRAFT, InvoiceState.OPEN, "issued"))
        changed, old = derive_invoice(invoice, (Decimal("0.00"), Decimal("0.00")))
        fields[invoice.pk] = {"sequence", "number", "state", *changed}
        if old is not None:
            changes.append((invoice.pk, "payment_status", old, invoice.payment_status, f"issue of {invoice}"))
    save_many(Provider, list(providers.values()), dict.fromkeys(providers, {"last_invoice_number"}))
    save_many(Invoice, invoices, fields)
    insert_changes(InvoiceStatusChange, "invoice", changes, by=by)
    cause = f"issue of {invoices[0]}" + (f" and {len(invoices) - 1} more" if len(invoices) > 1 else "")
    refresh_plans({invoice.plan_id for invoice in invoices if invoice.plan_id}, cause=cause, by=by)
    refresh_accounts({invoice.account_id for invoice in invoices})
    journal.invoices_issued(invoices)
    return invoices


def _refresh_orders_and_plans(invoices: Iterable[Invoice], *, cause: str, by: Actor, lines: bool) -> None:
    """After a chunk's invoices were written: their orders (locked by lock_invoices or lock_rows,
    before the invoices; `lines=False`: money only, allocations never change what was invoiced)
    and their plans (their accounts are locked, as refresh_all's callers hold them), by the one
    refresh of each."""
    invoices = list(invoices)
    order_ids = {invoice.order_id for invoice in invoices if invoice.order_id}
    if order_ids:
        refresh_orders(lock_orders_of(order_ids, []).values(), cause=cause, by=by, lines=lines)
    plan_ids = {invoice.plan_id for invoice in invoices if invoice.plan_id}
    if plan_ids:
        refresh_plans(plan_ids, cause=cause, by=by)


def _insert_allocations(steps: Sequence[Step], *, by: Actor) -> list[list[Allocation]]:
    """One INSERT for every step's rows, in step and split order (ledger.core.append_allocations' rows)."""
    flat = [
        Allocation(payment=step.payment, invoice=invoice, amount=amount, created_by=by, reason=step.note)
        for step in steps
        for invoice, amount in step.splits
    ]
    insert_many(Allocation, flat)
    rows: list[list[Allocation]] = []
    position = 0
    for step in steps:
        rows.append(flat[position : position + len(step.splits)])
        position += len(step.splits)
    return rows


def insert_many(model, instances: Sequence) -> None:
    """INSERT new rows in one statement of a few array parameters, ids given in order.

    What bulk_create does (its pre_save, so auto_now_add is set), without a parameter per
    value: binding and converting thousands of them cost more CPU than the insert itself.
    """
    _insert(model, instances)


def _insert(model, instances: Sequence, *, on_conflict: str = "") -> int:
    """insert_many; with `on_conflict` ("(column) DO NOTHING") for one instance, which is then
    left unsaved when the conflict skips it. Returns how many rows were inserted."""
    if not instances:
        return 0
    assert not on_conflict or len(instances) == 1, "a skipped row would leave the ids out of step"
    fields, sql = _insert_sql(model, on_conflict)
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: every attribute of the proxy is a thread-local lookup
    arrays = [array_param([f.get_db_prep_save(f.pre_save(i, True), db) for i in instances]) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids and on_conflict:
        return 0
    for instance, pk in zip(instances, ids, strict=True):
        instance.pk = pk
        instance._state.adding, instance._state.db = False, db.alias
    return len(ids)


@functools.cache
def _insert_sql(model, on_conflict: str) -> tuple[list, str]:
    """The columns _insert writes and its statement (built once per model: this runs in every payment)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    aliases = ", ".join(f"c{n}" for n in range(len(fields)))
    conflict = f" ON CONFLICT {on_conflict}" if on_conflict else ""
    sql = (
        f'INSERT INTO "{model._meta.db_table}" ({columns}) SELECT {aliases}'
        f" FROM unnest({casts}) WITH ORDINALITY AS v({aliases}, n) ORDER BY n{conflict} RETURNING id"
    )
    return fields, sql


def save_many(model, instances: Sequence, fields: dict[int, set[str]]) -> None:
    """UPDATE the changed columns of locked rows in one statement (ledger.core._save_changed for many).

    Every row gets every column any of them changed: a column written with the value it
    has changes nothing (the queue triggers compare values, not columns).
    """
    if not instances:
        return
    names = tuple(sorted(set().union(*(fields[instance.pk] for instance in instances))))
    columns, sql = _save_sql(model, names)
    arrays = [array_param([instance.pk for instance in instances])]
    db = connections[DEFAULT_DB_ALIAS]
    arrays += [array_param([f.get_db_prep_save(getattr(i, f.attname), db) for i in instances]) for f in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        if cursor.rowcount != len(instances):
            raise RuntimeError(f"{model._meta.label}: {len(instances) - cursor.rowcount} rows vanished while locked.")


@functools.cache
def _save_sql(model, names: tuple[str, ...]) -> tuple[list, str]:
    """save_many's columns and statement for one set of changed fields (a handful recur)."""
    columns = [model._meta.get_field(name) for name in names]
    casts = ["%s::bigint[]"] + [f"%s::{f.db_type(connection)}[]" for f in columns]
    aliases = ", ".join(["id"] + [f'"{f.column}"' for f in columns])
    assignments = ", ".join(f'"{f.column}" = v."{f.column}"' for f in columns)
    table = model._meta.db_table
    sql = f'UPDATE "{table}" AS t SET {assignments} FROM unnest({", ".join(casts)}) AS v({aliases}) WHERE t.id = v.id'
    return columns, sql


def insert_changes(history_model, owner_field: str, changes: Sequence[Change], *, by: Actor) -> None:
    """The status history rows of ledger.core._record, several in one INSERT, in order."""
    if not changes:
        return
    table = history_model._meta.db_table
    owners, fields, olds, news, causes = (list(column) for column in zip(*changes, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (created_at, created_by_id, reason, field, old, new, {owner_field}_id)'
            " SELECT %s, %s, v.reason, v.field, v.old, v.new, v.owner"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])"
            " WITH ORDINALITY AS v(owner, field, old, new, reason, n) ORDER BY v.n",
            [timezone.now(), getattr(by, "pk", None), *map(array_param, (owners, fields, olds, news, causes))],
        )
    if status_changed.has_listeners(history_model):
        status_changed.send(sender=history_model, changes=list(zip(owners, fields, olds, news, strict=True)))
