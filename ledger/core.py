"""The one refresh routine and the fixed lock order every service uses (DESIGN.md §1).

Services lock rows through `lock_rows` (accounts, then orders, then invoices by id, then
payments by id), append ledger rows, then call `refresh_invoice`, `refresh_payment` and
`refresh_account` for what they touched (`refresh_all` also refreshes the orders of the
invoices it refreshes, ledger.orders). Each refresh recomputes the cached totals
from the ledger rows with SQL sums, derives the status with the pure functions of
billing.status, and writes only what changed: calling it twice changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from allocations.models import Allocation
from billing.actors import Actor
from billing.errors import InvalidInput
from billing.models import Account
from billing.status import derive_balance_due
from invoices.models import OPEN_WORK_SQL, Invoice, InvoiceState, InvoiceStatusChange
from ledger.orders import refresh_orders
from ledger.plans import refresh_plans
from ledger.signals import status_changed
from orders.models import Order, OrderStatusChange
from payments.models import Payment, PaymentStatusChange

T = TypeVar("T")


def lock_rows(
    *,
    accounts: Iterable[int] = (),
    orders: Iterable[int] = (),
    invoices: Iterable[int] = (),
    payments: Iterable[int] = (),
    invoice_orders_given: bool = False,
) -> tuple[dict[int, Account], dict[int, Invoice], dict[int, Payment]]:
    """Lock rows FOR UPDATE in the one global order and return fresh copies by id.

    Every writer takes its locks through here, so two clerks never wait on each
    other in opposite orders (no deadlocks, I8). The orders of the given invoices are
    locked too, between the accounts and the invoices (lock_rows_with_orders returns them);
    with `invoice_orders_given` the caller says `orders` already holds every order of those
    invoices (read from its copies: an invoice's order never changes), so none is looked up,
    and none at all is locked when they have none. A locked invoice whose order was not
    given is then refused (InvalidInput: the caller's copy is not the ledger's).
    """
    locked_accounts, _, locked_invoices, locked_payments = lock_rows_with_orders(
        accounts=accounts,
        orders=orders,
        invoices=invoices,
        payments=payments,
        invoice_orders_given=invoice_orders_given,
    )
    return locked_accounts, locked_invoices, locked_payments


def lock_rows_with_orders(
    *,
    accounts: Iterable[int] = (),
    orders: Iterable[int] = (),
    invoices: Iterable[int] = (),
    payments: Iterable[int] = (),
    invoice_orders_given: bool = False,
) -> tuple[dict[int, Account], dict[int, Order], dict[int, Invoice], dict[int, Payment]]:
    """lock_rows, also returning the orders locked: the given ones and those of the invoices.

    An invoice's order never changes after it is created, so reading it before the
    invoice's lock is safe; the orders are locked in the same statement that finds them.
    """
    invoices = sorted(set(invoices))
    orders = set(orders)
    locked_accounts = _lock(Account, accounts)
    locked_orders = lock_orders_of(orders, [] if invoice_orders_given else invoices)
    locked_invoices = _lock(Invoice, invoices)
    if invoice_orders_given and any(
        invoice.order_id and invoice.order_id not in orders for invoice in locked_invoices.values()
    ):
        raise InvalidInput(
            "An invoice given is not the one in the ledger (its order differs); reload it and try again."
        )
    locked_payments = _lock(Payment, payments)
    return locked_accounts, locked_orders, locked_invoices, locked_payments


def lock_orders_of(order_ids: Iterable[int], invoice_ids: list[int]) -> dict[int, Order]:
    """Lock orders by id (and the orders of invoices), as lock_rows does between accounts and invoices;
    again in the same transaction, it returns fresh copies of orders already held."""
    order_ids = sorted(set(order_ids))
    if not order_ids and not invoice_ids:
        return {}
    sql, attnames = _lock_sql(Order)
    if invoice_ids:
        # The ids are computed once (an InitPlan), so the orders are read by primary key
        # whatever the planner thinks of an OR: this runs in every allocation.
        sql = sql.replace(
            "WHERE id = ANY(%s)",
            "WHERE id = ANY(ARRAY(SELECT unnest(%s::bigint[]) UNION SELECT order_id FROM invoices_invoice"
            " WHERE id = ANY(%s) AND order_id IS NOT NULL))",
        )
        params = [order_ids, invoice_ids]
    else:
        params = [order_ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    alias = connection.alias
    return {instance.pk: instance for instance in (Order.from_db(alias, attnames, row) for row in rows)}


def lock_customer_accounts(customer_ids: Iterable[int]) -> None:
    """Lock every account of the customers, in id order, without reading them: the first lock of
    a writer that will touch those customers' invoices (lock_rows' order: accounts first)."""
    customer_ids = sorted(set(customer_ids))
    if customer_ids:
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_CUSTOMER_ACCOUNTS, [customer_ids])


_LOCK_CUSTOMER_ACCOUNTS = (
    "SELECT count(*) FROM (SELECT id FROM billing_account WHERE customer_id = ANY(%s) ORDER BY id FOR UPDATE) AS a"
)


def _lock(model, ids: Iterable[int]) -> dict:
    """SELECT ... ORDER BY id FOR UPDATE, as model instances.

    Plain SQL rather than a queryset: this runs three times in every money-changing
    transaction, and compiling the queryset cost more CPU than the database spent on
    the query (bench/RESULTS.md, allocation throughput).
    """
    ids = sorted(set(ids))
    if not ids:
        return {}
    sql, attnames = _lock_sql(model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids])
        rows = cursor.fetchall()
    alias = connection.alias  # once: each access through the proxy is a thread-local lookup
    return {instance.pk: instance for instance in (model.from_db(alias, attnames, row) for row in rows)}


@functools.cache
def _lock_sql(model) -> tuple[str, list[str]]:
    fields = model._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    sql = f'SELECT {columns} FROM "{model._meta.db_table}" WHERE id = ANY(%s) ORDER BY id FOR UPDATE'
    return sql, [f.attname for f in fields]


def _save_changed(instance, changed: Iterable[str]) -> None:
    """UPDATE only the changed columns of a locked row: what save(update_fields=...) does,
    without compiling a queryset (no signals are connected to these models)."""
    fields = [instance._meta.get_field(name) for name in dict.fromkeys(changed)]
    assignments = ", ".join(f'"{f.column}" = %s' for f in fields)
    values = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{instance._meta.db_table}" SET {assignments} WHERE id = %s', [*values, instance.pk])
        if cursor.rowcount != 1:
            raise RuntimeError(f"{instance._meta.label} {instance.pk} vanished while locked.")


class ScopeChanged(Exception):
    """The set of rows to lock grew between reading it and locking it; start again."""


def retry_on_scope_change(func: Callable[..., T]) -> Callable[..., T]:
    """Run a service in its own transaction, again if its lock scope moved under it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except ScopeChanged:
                continue
        raise RuntimeError(f"{func.__name__}: lock scope kept changing; try again.")

    return wrapper


def pair_nets_for_payment(payment_id: int) -> dict[int, Decimal]:
    """Net allocation per invoice for one payment, only pairs with money on them."""
    rows = (
        Allocation.objects.filter(payment_id=payment_id)
        .values("invoice_id")
        .annotate(net=Sum("amount"))
        .filter(net__gt=0)
    )
    return {row["invoice_id"]: row["net"] for row in rows}


def pair_nets_for_invoice(invoice_id: int) -> dict[int, Decimal]:
    rows = (
        Allocation.objects.filter(invoice_id=invoice_id)
        .values("payment_id")
        .annotate(net=Sum("amount"))
        .filter(net__gt=0)
    )
    return {row["payment_id"]: row["net"] for row in rows}


def pair_net(payment_id: int, invoice_id: int) -> Decimal:
    total = Allocation.objects.filter(payment_id=payment_id, invoice_id=invoice_id).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0.00")


def lock_payment_scope(payment_id: int) -> tuple[dict[int, Account], dict[int, Invoice], Payment, dict[int, Decimal]]:
    """Lock a payment with every invoice (and account) it has money on.

    Only a writer holding the payment's lock can add to its allocations, so once
    we hold it the set is stable; if it grew before we got there, ScopeChanged.
    """
    nets = pair_nets_for_payment(payment_id)
    account_ids = Invoice.objects.filter(pk__in=nets).values_list("account_id", flat=True)
    accounts, invoices, payments = lock_rows(accounts=account_ids, invoices=nets, payments=[payment_id])
    locked_nets = pair_nets_for_payment(payment_id)
    if not set(locked_nets) <= set(invoices):
        raise ScopeChanged
    return accounts, invoices, payments[payment_id], locked_nets


def reverse_pair(*, payment: Payment, invoice: Invoice, amount: Decimal, by: Actor, reason: str) -> Allocation:
    """Append the row that takes `amount` back from a (payment, invoice) pair.

    It names the pair's newest positive row as the one it reverses.
    """
    original = (
        Allocation.objects.filter(payment_id=payment.pk, invoice_id=invoice.pk, amount__gt=0).order_by("-id").first()
    )
    assert original is not None, "a pair with net money has a positive row"
    return Allocation.objects.create(
        payment=payment, invoice=invoice, amount=-amount, reverses=original, created_by=by, reason=reason
    )


def append_allocations(
    payment: Payment, splits: list[tuple[Invoice, Decimal]], *, by: Actor, reason: str
) -> list[Allocation]:
    """INSERT the positive allocation rows of one payment in one statement, as model instances.

    What bulk_create does, without compiling a query (it runs in every allocation).
    """
    now = timezone.now()
    by_id = getattr(by, "pk", None)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, NULL)"] * len(splits))
    params = []
    for invoice, amount in splits:
        params += [now, by_id, reason, payment.pk, invoice.pk, amount]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO allocations_allocation"
            " (created_at, created_by_id, reason, payment_id, invoice_id, amount, reverses_id)"
            f" VALUES {values} RETURNING id",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    rows = []
    for pk, (invoice, amount) in zip(ids, splits, strict=True):
        row = Allocation.from_db(
            connection.alias,
            ["id", "created_at", "created_by_id", "reason", "payment_id", "invoice_id", "amount", "reverses_id"],
            [pk, now, by_id, reason, payment.pk, invoice.pk, amount, None],
        )
        row.payment, row.invoice = payment, invoice
        if by_id is not None:
            row.created_by = by
        rows.append(row)
    return rows


def _record(
    history_model, owner_field: str, owner, changes: list[tuple[str, str, str]], *, cause: str, by: Actor
) -> None:
    """The owner's status changes, each (field, old, new): one INSERT without a queryset (it runs
    in most allocations, see _lock), one signal."""
    table = history_model._meta.db_table
    now, by_id = timezone.now(), getattr(by, "pk", None)
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(changes))
    params: list = []
    for field, old, new in changes:
        params += [now, by_id, cause, field, old, new, owner.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (created_at, created_by_id, reason, field, old, new, {owner_field}_id) VALUES {rows}',
            params,
        )
    if status_changed.has_listeners(history_model):
        status_changed.send(sender=history_model, changes=[(owner.pk, *change) for change in changes])


def record_invoice_change(invoice: Invoice, *, field: str, old: str, new: str, cause: str, by: Actor) -> None:
    _record(InvoiceStatusChange, "invoice", invoice, [(field, old, new)], cause=cause, by=by)


def record_order_change(order: Order, *, field: str, old: str, new: str, cause: str, by: Actor) -> None:
    _record(OrderStatusChange, "order", order, [(field, old, new)], cause=cause, by=by)


def record_payment_change(payment: Payment, *, field: str, old: str, new: str, cause: str, by: Actor) -> None:
    record_payment_changes(payment, [(field, old, new)], cause=cause, by=by)


def record_payment_changes(payment: Payment, changes: list[tuple[str, str, str]], *, cause: str, by: Actor) -> None:
    """Several of a payment's status changes at once, each (field, old, new): one INSERT."""
    _record(PaymentStatusChange, "payment", payment, changes, cause=cause, by=by)


_LEDGER_SUMS = """
    SELECT 'invoice', target.pk,
           (SELECT COALESCE(SUM(amount), 0) FROM allocations_allocation WHERE invoice_id = target.pk),
           (SELECT COALESCE(SUM(amount), 0) FROM invoices_creditnote WHERE invoice_id = target.pk),
           NULL::numeric
    FROM unnest(%(invoices)s::bigint[]) AS target(pk)
    UNION ALL
    SELECT 'payment', target.pk,
           (SELECT COALESCE(SUM(amount), 0) FROM allocations_allocation WHERE payment_id = target.pk),
           (SELECT COALESCE(SUM(amount), 0) FROM payments_refund WHERE payment_id = target.pk),
           (SELECT COALESCE(SUM(amount), 0) FROM payments_chargeback WHERE payment_id = target.pk)
    FROM unnest(%(payments)s::bigint[]) AS target(pk)
"""
# Recompute and write in one statement, for one account or a chunk's; no row comes back for
# an account whose figures did not change.
_ACCOUNTS_REFRESH = f"""
    WITH figures AS (
        SELECT target.id, COALESCE(SUM(invoice.balance_due), 0) AS balance_due, COUNT(invoice.id) AS n,
               MIN(invoice.due_date) AS oldest
        FROM unnest(%(ids)s::bigint[]) AS target(id)
        LEFT JOIN LATERAL (
            SELECT id, balance_due, due_date FROM invoices_invoice
            WHERE account_id = target.id AND {OPEN_WORK_SQL}) AS invoice ON true
        GROUP BY target.id)
    UPDATE billing_account AS account
    SET balance_due = figures.balance_due, open_invoice_count = figures.n, oldest_due_date = figures.oldest
    FROM figures
    WHERE account.id = figures.id
      AND (account.balance_due, account.open_invoice_count, account.oldest_due_date)
          IS DISTINCT FROM (figures.balance_due, figures.n, figures.oldest)
    RETURNING account.id, account.balance_due, account.open_invoice_count, account.oldest_due_date
"""


def ledger_sums(
    invoice_ids: Iterable[int] = (), payment_ids: Iterable[int] = ()
) -> tuple[dict[int, tuple], dict[int, tuple]]:
    """The ledger's sums for several invoices (allocated, credited) and payments
    (allocated, refunded, charged back) in one round trip."""
    invoice_ids, payment_ids = list(invoice_ids), list(payment_ids)
    if not invoice_ids and not payment_ids:
        return {}, {}
    with connection.cursor() as cursor:
        cursor.execute(_LEDGER_SUMS, {"invoices": invoice_ids, "payments": payment_ids})
        rows = cursor.fetchall()
    invoices = {pk: (a, b) for kind, pk, a, b, _ in rows if kind == "invoice"}
    payments = {pk: (a, b, c) for kind, pk, a, b, c in rows if kind == "payment"}
    return invoices, payments


def derive_invoice(invoice: Invoice, sums: tuple) -> tuple[list[str], str | None]:
    """Put the ledger's sums (paid, credited) on an invoice copy and derive what follows.

    Returns the changed columns and, when payment_status moved, its old value. Nothing is
    written: refresh_invoice writes one row, ledger.bulk a chunk's rows in one statement,
    both from this one derivation.
    """
    paid, credited = sums
    changed = []
    if invoice.paid_total != paid:
        invoice.paid_total = paid
        changed.append("paid_total")
    if invoice.credited_total != credited:
        invoice.credited_total = credited
        changed.append("credited_total")
    balance_due = derive_balance_due(void=invoice.state == InvoiceState.VOID, net=invoice.total - credited, paid=paid)
    if invoice.balance_due != balance_due:
        invoice.balance_due = balance_due
        changed.append("balance_due")
    old_status = invoice.payment_status
    invoice.refresh_payment_status()
    if invoice.payment_status != old_status:
        changed.append("payment_status")
        return changed, old_status
    return changed, None


def refresh_invoice(invoice: Invoice, *, cause: str, by: Actor, sums: tuple | None = None) -> bool:
    """Recompute an invoice's cached totals and payment_status from the ledger.

    The caller holds the invoice's lock. `sums` (paid, credited) may come from
    ledger_sums when several rows are refreshed together. Returns True when something changed.
    """
    changed, old_status = derive_invoice(invoice, sums or ledger_sums(invoice_ids=[invoice.pk])[0][invoice.pk])
    if old_status is not None:
        record_invoice_change(
            invoice, field="payment_status", old=old_status, new=invoice.payment_status, cause=cause, by=by
        )
    if changed:
        _save_changed(invoice, changed)
    return bool(changed)


def derive_payment(payment: Payment, sums: tuple) -> tuple[list[str], str | None]:
    """Put the ledger's sums (allocated, refunded, charged back) on a payment copy and derive
    what follows: the changed columns and, when allocation_status moved, its old value.
    Nothing is written (see derive_invoice)."""
    allocated, refunded, charged_back = sums
    changed = []
    for field, value in (
        ("allocated_total", allocated),
        ("refunded_total", refunded),
        ("charged_back_total", charged_back),
    ):
        if getattr(payment, field) != value:
            setattr(payment, field, value)
            changed.append(field)
    unallocated = payment.available - payment.allocated_total
    if payment.unallocated != unallocated:
        payment.unallocated = unallocated
        changed.append("unallocated")
    old_status = payment.allocation_status
    payment.refresh_allocation_status()
    if payment.allocation_status != old_status:
        changed.append("allocation_status")
        return changed, old_status
    return changed, None


def refresh_payment(
    payment: Payment, *, cause: str, by: Actor, also_save: Iterable[str] = (), sums: tuple | None = None
) -> bool:
    """Recompute a payment's cached totals and allocation_status from the ledger.

    `also_save` names lifecycle fields the caller changed: they are written in the same
    UPDATE as the totals, because the row's check constraint ties them together.
    `sums` (allocated, refunded, charged back) may come from ledger_sums.
    """
    derived, old_status = derive_payment(payment, sums or ledger_sums(payment_ids=[payment.pk])[1][payment.pk])
    changed = list(also_save) + derived
    if old_status is not None:
        record_payment_change(
            payment, field="allocation_status", old=old_status, new=payment.allocation_status, cause=cause, by=by
        )
    if changed:
        _save_changed(payment, changed)
    return bool(changed)


def refresh_accounts(account_ids: Iterable[int]) -> dict[int, tuple]:
    """Recompute accounts' balance due, open-invoice count and oldest due date in one statement.

    The caller holds the accounts' locks and has refreshed their invoices first. Returns
    the new figures of the accounts that changed.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNTS_REFRESH, {"ids": ids})
        return {pk: figures for pk, *figures in cursor.fetchall()}


def refresh_account(account: Account) -> bool:
    """Recompute one account's figures (refresh_accounts); True when they changed."""
    row = refresh_accounts([account.pk]).get(account.pk)
    if row is None:
        return False
    account.balance_due, account.open_invoice_count, account.oldest_due_date = row
    return True


def refresh_all(
    *,
    invoices: Iterable[Invoice] = (),
    payments: Iterable[Payment] = (),
    accounts: Iterable[Account] = (),
    orders: Iterable[Order] = (),
    cause: str,
    by: Actor,
) -> None:
    """Refresh what a service touched: invoices first (accounts and orders read them), then
    the orders of those invoices and the `orders` given, the plans of those invoices
    (ledger.plans), then payments, then accounts.

    Orders are refreshed from locked copies: the given ones, else a copy of the ones
    lock_rows locked for the invoices (read again here, still under that lock).
    """
    invoices, payments = list(invoices), list(payments)
    invoice_sums, payment_sums = ledger_sums([i.pk for i in invoices], [p.pk for p in payments])
    for invoice in invoices:
        refresh_invoice(invoice, cause=cause, by=by, sums=invoice_sums[invoice.pk])
    given = {order.pk: order for order in orders}
    missing = {invoice.order_id for invoice in invoices if invoice.order_id} - set(given)
    if missing:
        given.update(lock_orders_of(missing, []))
    if given:
        refresh_orders(given.values(), cause=cause, by=by)
    plan_ids = {invoice.plan_id for invoice in invoices if invoice.plan_id}
    if plan_ids:  # the plans' accounts are locked: every writer of their invoices took them
        refresh_plans(plan_ids, cause=cause, by=by)
    for payment in payments:
        refresh_payment(payment, cause=cause, by=by, sums=payment_sums[payment.pk])
    for account in accounts:
        refresh_account(account)


def sync_caller_copy(passed, fresh) -> None:
    """Give the caller's instance the figures of the row we locked and wrote.

    `fresh` is that row as written (every change went through it), so its values are
    copied without another query; straight into __dict__, because the status fields
    are FSM-protected against assignment.
    """
    if passed is not None and passed is not fresh:
        for field in fresh._meta.concrete_fields:
            if field.attname in fresh.__dict__:
                passed.__dict__[field.attname] = fresh.__dict__[field.attname]
