"""The nightly safety net: find cached figures that drifted from the ledger and repair them.

A run has two phases.

1. Detection: set-based queries (reconciliation.drift) recompute every invoice,
   payment, account and order from the ledger rows and return only the rows that differ:
   one for invoices, accounts, orders and plans (the invoices' figures computed once,
   the others' summed from them), one for payments, and the journal's (step 4)
   beside them, each on its own connection at once (side_by_side). They read snapshots
   and take no locks, so clerks are never blocked by them.
2. Confirmation (and, with fix=True, repair), in short batches, each its own
   transaction: lock the batch's rows through ledger.core.lock_rows (accounts,
   invoices by id, payments by id: the order every service uses, so no deadlock),
   re-check them under the lock (a clerk may have changed them since the snapshot,
   so only what is still wrong is reported), record the differences, and repair
   them with the refresh routines the services use, with the cause
   "reconciliation run N" in the status history.
3. The trigger-kept queue totals (reconciliation.queue_totals): one statement per table
   compares them with the live rows and, with fix=True, appends a correcting delta.
4. The workshops' seat caches (reconciliation.workshops): one statement finds the drifted
   workshops; each is re-counted under its lock and, with fix=True, its caches set.
5. The entry journal (reconciliation.journal): one statement compares its sums per
   customer and currency and per account with what the rows say. Its drift is reported,
   never repaired: the journal is append-only, and a missing or extra entry is a bug.

Interrupting a run (Ctrl-C, SIGTERM, a crash) rolls back the batch in flight, and
every committed batch is complete on its own, so the data stays consistent; the next
run detects whatever is left. Only one run at a time: a PostgreSQL advisory lock
guards it, and a run still marked "running" when the lock is free died (kill -9) and
is marked interrupted by the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import Account
from invoices.models import Invoice, InvoiceState
from ledger.core import lock_rows, lock_rows_with_orders, refresh_account, refresh_invoice, refresh_payment
from ledger.orders import refresh_orders
from ledger.plans import refresh_plans
from plans.models import Plan
from reconciliation.drift import ObjectDrift, as_text, count_objects, find_drift, find_drifted_by_invoice
from reconciliation.journal import JournalDrift, find_journal_drift
from reconciliation.models import ObjectKind, ReconciliationDifference, ReconciliationRun, RunOutcome
from reconciliation.queue_totals import QUEUES, find_queue_total_drift
from reconciliation.workshops import REPAIRABLE, find_seat_drift

# pg_try_advisory_lock key: "reconcile" as a number, shared by every process.
ADVISORY_LOCK_KEY = 0x5E771E_0001
DEFAULT_BATCH_SIZE = 200
# A batch waits at most this long for a clerk's row lock, then is left for the next run.
LOCK_TIMEOUT = "2s"
_BUSY_SQLSTATES = {"55P03", "40P01"}  # lock_not_available, deadlock_detected

Progress = Callable[[str], None]


# The kinds of object a run checks, in the order their candidates are re-checked.
KINDS = (ObjectKind.INVOICE, ObjectKind.PAYMENT, ObjectKind.ACCOUNT, ObjectKind.ORDER, ObjectKind.PLAN)


class AlreadyRunning(Exception):
    """Another reconciliation run holds the advisory lock."""


@dataclass(frozen=True)
class Candidate:
    kind: str
    id: int
    account_id: int | None = None


def _quiet(message: str) -> None:
    pass


def side_by_side(*calls: Callable[[], object]) -> list:
    """The results of read-only calls, run at once, each on its own connection (2 cores: the
    nightly run's big statements overlap). Inside a caller's transaction they run one after
    another on its connection instead: another connection could not see its uncommitted rows."""
    if connection.in_atomic_block:
        return [call() for call in calls]

    def on_own_connection(call: Callable[[], object]) -> object:
        try:
            return call()
        finally:
            connections.close_all()  # this thread's

    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="reconcile") as pool:
        return [future.result() for future in [pool.submit(on_own_connection, call) for call in calls]]


def detect() -> tuple[dict[str, int], list[Candidate]]:
    """Object counts and the drifted objects of the whole ledger, invoices, payments, accounts, orders."""
    counts = count_objects()
    by_invoice, payments = side_by_side(find_drifted_by_invoice, lambda: find_drift(ObjectKind.PAYMENT))
    found = {kind: [Candidate(kind, pk, account_id) for k, pk, account_id in by_invoice if k == kind] for kind in KINDS}
    found[ObjectKind.PAYMENT] = [Candidate(ObjectKind.PAYMENT, pk) for pk in payments]
    return counts, [candidate for kind in KINDS for candidate in found[kind]]


def _batches(candidates: list[Candidate], size: int) -> Iterable[list[Candidate]]:
    for start in range(0, len(candidates), size):
        yield candidates[start : start + size]


@dataclass
class BatchResult:
    found: int = 0
    fixed: int = 0


def _labels(kind: str, rows: dict, drifted: Iterable[int]) -> dict[int, str]:
    """How a clerk recognises each drifted object: ACME-000042, P-17, Ada / Acme (EUR)."""
    if kind == ObjectKind.ACCOUNT:
        named = Account.objects.filter(pk__in=list(drifted)).select_related("customer", "provider")
        return {account.pk: str(account) for account in named}
    return {pk: str(row) for pk, row in rows.items()}


def _recheck(accounts, invoices, payments, orders, plans) -> dict[str, dict[int, ObjectDrift]]:
    return {
        ObjectKind.INVOICE: find_drift(ObjectKind.INVOICE, invoices),
        ObjectKind.PAYMENT: find_drift(ObjectKind.PAYMENT, payments),
        ObjectKind.ACCOUNT: find_drift(ObjectKind.ACCOUNT, accounts),
        ObjectKind.ORDER: find_drift(ObjectKind.ORDER, orders),
        ObjectKind.PLAN: find_drift(ObjectKind.PLAN, plans),
    }


def process_batch(
    run: ReconciliationRun, batch: list[Candidate], *, fix: bool, by=None, seen: set | None = None
) -> BatchResult:
    """Confirm (and repair) one batch in one short transaction; returns what it found.

    `seen` holds the (kind, id) this run already recorded: a batch also re-checks the
    accounts of its invoices and the other drifted invoices of those accounts, so without
    --fix (or for what cannot be fixed) an object could otherwise be counted twice.
    """
    seen = set() if seen is None else seen
    invoice_ids = {c.id for c in batch if c.kind == ObjectKind.INVOICE}
    payment_ids = {c.id for c in batch if c.kind == ObjectKind.PAYMENT}
    order_ids = {c.id for c in batch if c.kind == ObjectKind.ORDER}
    plan_ids = {c.id for c in batch if c.kind == ObjectKind.PLAN}
    # An invoice's figures feed its account: lock it too, so it is re-checked and refreshed with it.
    # An order's and a plan's come from their invoices, all in their account: locking it holds them still.
    account_ids = {c.id for c in batch if c.kind == ObjectKind.ACCOUNT}
    account_ids |= {
        c.account_id
        for c in batch
        if c.kind in (ObjectKind.INVOICE, ObjectKind.ORDER, ObjectKind.PLAN) and c.account_id
    }
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # Accounts first (the global order). An account is only right once every open invoice
        # in it is, so its other drifted open invoices join the batch. Every service locks an
        # invoice's account before the invoice, so while we hold the accounts nobody else can
        # hold those invoices: locking them now cannot deadlock.
        accounts, _, _ = lock_rows(accounts=account_ids)
        open_in_accounts = Invoice.objects.filter(account_id__in=account_ids, state=InvoiceState.OPEN)
        invoice_ids |= set(find_drift(ObjectKind.INVOICE, list(open_in_accounts.values_list("pk", flat=True))))
        # The orders of those invoices are locked (and re-checked) with them, before them.
        _, orders, invoices, payments = lock_rows_with_orders(
            orders=order_ids, invoices=invoice_ids, payments=payment_ids
        )
        # The plans of those invoices are re-checked with them (their state reads them).
        plan_ids |= {invoice.plan_id for invoice in invoices.values() if invoice.plan_id}
        plans = {plan.pk: plan for plan in Plan.objects.filter(pk__in=plan_ids)}
        drift = _recheck(accounts, invoices, payments, orders, plans)
        if not any(drift.values()):
            return BatchResult()
        remaining = drift
        if fix:
            cause = f"reconciliation run {run.pk}"
            for pk in drift[ObjectKind.INVOICE]:
                refresh_invoice(invoices[pk], cause=cause, by=by)
            for pk in drift[ObjectKind.PAYMENT]:
                refresh_payment(payments[pk], cause=cause, by=by)
            for account in accounts.values():  # after the invoices they are computed from
                refresh_account(account)
            # After the invoices too; an order with a line invoiced beyond what may be invoiced
            # (I9) cannot be refreshed (its check constraint refuses): a person decides.
            broken = {pk for pk, found in drift[ObjectKind.ORDER].items() if "over_invoiced" in found.field_names}
            refresh_orders([order for pk, order in orders.items() if pk not in broken], cause=cause, by=by)
            refresh_plans(drift[ObjectKind.PLAN], cause=cause, by=by)
            remaining = _recheck(accounts, invoices, payments, orders, plans)
        result = BatchResult()
        differences = []
        for kind, rows in (
            (ObjectKind.INVOICE, invoices),
            (ObjectKind.PAYMENT, payments),
            (ObjectKind.ACCOUNT, accounts),
            (ObjectKind.ORDER, orders),
            (ObjectKind.PLAN, plans),
        ):
            labels = _labels(kind, rows, drift[kind])
            for pk, object_drift in drift[kind].items():
                if (kind, pk) in seen:
                    continue
                still_wrong = remaining[kind].get(pk)
                still_wrong_fields = still_wrong.field_names if (fix and still_wrong) else set()
                result.found += 1
                if fix and not still_wrong_fields:
                    result.fixed += 1
                for item in object_drift.fields:
                    differences.append(
                        ReconciliationDifference(
                            run=run,
                            object_kind=kind,
                            object_id=pk,
                            object_label=labels[pk][:200],
                            field=item.field,
                            cached_value=item.cached_text[:64],
                            ledger_value=item.ledger_text[:64],
                            fixed=fix and item.field not in still_wrong_fields,
                        )
                    )
        ReconciliationDifference.objects.bulk_create(differences)
        newly_seen = {(kind, pk) for kind in drift for pk in drift[kind]}
        ReconciliationRun.objects.filter(pk=run.pk).update(
            drift_found=F("drift_found") + result.found, drift_fixed=F("drift_fixed") + result.fixed
        )
    seen |= newly_seen  # only once the batch committed
    return result


def _is_busy(exc: DatabaseError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in _BUSY_SQLSTATES


def _finish(run: ReconciliationRun, outcome: str, message: str = "") -> None:
    """Record how the run ended, even if the connection broke (e.g. Ctrl-C during a query)."""
    for attempt in range(2):
        try:
            ReconciliationRun.objects.filter(pk=run.pk).update(
                outcome=outcome, finished_at=timezone.now(), message=message[:2000]
            )
            run.refresh_from_db()
            return
        except DatabaseError:
            if attempt:
                raise
            connection.close()


def _outcome(run: ReconciliationRun) -> str:
    if not run.drifted:
        return RunOutcome.CLEAN
    if not run.fix:
        return RunOutcome.DRIFT
    if run.drift_fixed == run.drift_found and not run.left_for_next_run:
        return RunOutcome.FIXED
    return RunOutcome.PARTLY_FIXED


def _try_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        return cursor.fetchone()[0]


def _unlock() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    except DatabaseError:
        connection.close()  # a closed session releases its advisory locks


def run_reconciliation(
    *,
    fix: bool = False,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    by=None,
    progress: Progress = _quiet,
) -> ReconciliationRun:
    """Run one reconciliation and return its record (outcome set).

    `limit` caps how many drifted objects are re-checked (and repaired); the rest are
    left for the next run. Raises AlreadyRunning if another run is in progress; on
    KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the command) the run is
    recorded as interrupted and the interrupt re-raised.
    """
    if not _try_lock():
        raise AlreadyRunning("Another reconciliation run is in progress; try again when it has finished.")
    try:
        ReconciliationRun.objects.filter(outcome=RunOutcome.RUNNING).update(
            outcome=RunOutcome.INTERRUPTED,
            finished_at=timezone.now(),
            message="The process ended before the run finished (killed?); a later run picks up what was left.",
        )
        run = ReconciliationRun.objects.create(fix=fix, limit=limit, started_by=by)
        try:
            _run(run, fix=fix, limit=limit, batch_size=batch_size, by=by, progress=progress)
        except KeyboardInterrupt:
            _finish(
                run,
                RunOutcome.INTERRUPTED,
                "Interrupted; committed batches are complete, the rest is left for the next run.",
            )
            raise
        except Exception as exc:
            _finish(run, RunOutcome.ERROR, f"{type(exc).__name__}: {exc}")
            raise
        return run
    finally:
        _unlock()


def _run(run: ReconciliationRun, *, fix: bool, limit: int | None, batch_size: int, by, progress: Progress) -> None:
    started = time.monotonic()
    progress(f"Reconciliation run {run.pk}: recomputing every invoice, payment and account from the ledger...")
    # The journal is never repaired, so when its comparison reads changes nothing: it runs
    # beside the detection, and is recorded after the batches as before.
    (counts, candidates), journal = side_by_side(detect, find_journal_drift)
    checked = sum(counts.values())
    examined = candidates if limit is None else candidates[:limit]
    left = len(candidates) - len(examined)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        objects_checked=checked, candidates=len(candidates), left_for_next_run=left
    )
    progress(
        f"Checked {counts[ObjectKind.INVOICE]} invoices, {counts[ObjectKind.PAYMENT]} payments, "
        f"{counts[ObjectKind.ACCOUNT]} accounts and {counts[ObjectKind.ORDER]} orders in {time.monotonic() - started:.2f} s: "
        f"{len(candidates)} look drifted"
        + (f" ({left} left for the next run by --limit {limit})" if left else "")
        + "."
    )
    batches = list(_batches(examined, max(1, batch_size)))
    busy = 0
    seen: set[tuple[str, int]] = set()
    for number, batch in enumerate(batches, start=1):
        try:
            result = process_batch(run, batch, fix=fix, by=by, seen=seen)
        except DatabaseError as exc:
            if not _is_busy(exc):
                raise
            busy += len(batch)
            ReconciliationRun.objects.filter(pk=run.pk).update(left_for_next_run=F("left_for_next_run") + len(batch))
            progress(f"Batch {number}/{len(batches)}: rows busy (locked by clerks); left for the next run.")
            continue
        verb = f", {result.fixed} fixed" if fix else ""
        progress(f"Batch {number}/{len(batches)}: {len(batch)} re-checked under lock, {result.found} drifted{verb}.")
    check_queue_totals(run, fix=fix, progress=progress)
    check_workshop_seats(run, fix=fix, progress=progress)
    check_journal(run, progress=progress, found=journal)
    run.refresh_from_db()
    _finish(run, _outcome(run), f"{busy} objects were busy and left for the next run." if busy else "")


def check_queue_totals(run: ReconciliationRun, *, fix: bool, progress: Progress = _quiet) -> int:
    """Compare the kept queue totals with the live rows (after the batches, whose repairs
    bring their own deltas); record each drifted key and, with fix, correct it. Returns
    how many keys drifted."""
    drifted = 0
    for queue in QUEUES:
        with transaction.atomic():
            found = find_queue_total_drift(queue, fix=fix)
            ReconciliationDifference.objects.bulk_create(
                ReconciliationDifference(
                    run=run,
                    object_kind=queue.kind,
                    object_id=0,
                    object_label=drift.label[:200],
                    field=name,
                    cached_value=as_text(drift.cached[name])[:64],
                    ledger_value=as_text(drift.ledger[name])[:64],
                    fixed=fix,
                )
                for drift in found
                for name in drift.fields
            )
            if found:
                ReconciliationRun.objects.filter(pk=run.pk).update(
                    drift_found=F("drift_found") + len(found),
                    drift_fixed=F("drift_fixed") + (len(found) if fix else 0),
                )
        drifted += len(found)
        verb = " (corrected)" if fix and found else ""
        # Django always sets verbose_name_plural (the stubs allow None); it may be lazy text.
        plural = str(queue.model._meta.verbose_name_plural)
        progress(f"{plural.capitalize()}: {len(found)} keys drifted{verb}.")
    return drifted


def check_workshop_seats(run: ReconciliationRun, *, fix: bool, progress: Progress = _quiet) -> int:
    """Record each workshop whose seat caches or wait list are off (repaired with fix where a
    recount can put them right); returns how many drifted."""
    found = find_seat_drift(fix=fix)
    ReconciliationDifference.objects.bulk_create(
        ReconciliationDifference(
            run=run,
            object_kind=ObjectKind.WORKSHOP,
            object_id=drift.workshop_id,
            object_label=drift.label[:200],
            field=name,
            cached_value=str(cached),
            ledger_value=str(counted),
            fixed=drift.fixed and name in REPAIRABLE,
        )
        for drift in found
        for name, cached, counted in drift.fields
    )
    if found:
        ReconciliationRun.objects.filter(pk=run.pk).update(
            drift_found=F("drift_found") + len(found),
            drift_fixed=F("drift_fixed") + sum(drift.fixed for drift in found),
        )
    verb = f" ({sum(d.fixed for d in found)} repaired)" if fix and found else ""
    progress(f"Workshop seats: {len(found)} workshops drifted{verb}.")
    return len(found)


def check_journal(
    run: ReconciliationRun, *, progress: Progress = _quiet, found: list[JournalDrift] | None = None
) -> int:
    """Compare the entry journal with the rows it mirrors (or take `found`, that comparison made
    earlier in the run) and record every drifted customer (per currency) and account; never
    fixed, even with --fix. Returns how many drifted."""
    with transaction.atomic():
        if found is None:
            found = find_journal_drift()
        ReconciliationDifference.objects.bulk_create(
            ReconciliationDifference(
                run=run,
                object_kind=drift.kind,
                object_id=drift.id,
                object_label=drift.label[:200],
                field=name[:32],
                cached_value=as_text(journal)[:64],
                ledger_value=as_text(rows)[:64],
                fixed=False,
            )
            for drift in found
            for name, journal, rows in drift.fields
        )
        if found:
            ReconciliationRun.objects.filter(pk=run.pk).update(drift_found=F("drift_found") + len(found))
    progress(
        f"Entry journal: {len(found)} customers or accounts drifted"
        + (" (reported, never rewritten: the journal is append-only; a missing entry is a bug)." if found else ".")
    )
    return len(found)
