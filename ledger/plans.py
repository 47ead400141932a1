"""The plans' part of the one refresh routine (DESIGN.md section 10).

A plan caches its state, paid off when every open installment and penalty of it owes
nothing, and, as an account, what those still owe (balance_due, unpaid and partially paid
ones) with the oldest due date among them. ledger.core.refresh_all (and ledger.bulk for the bank import) call
refresh_plans for the plans of the invoices they refreshed, after the invoices, in the
same transaction; only an invoice with a plan costs anything here. The caller holds the
locks of the plan's account (every writer of a plan's invoice locks that account first,
and all of a plan's invoices are on it), so two writers never refresh one plan at once.
Idempotent: it writes only figures that move, and a history row for a state that moves.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from billing.actors import Actor
from billing.sql_arrays import array_param
from invoices.models import OPEN_WORK_STATUSES, InvoiceState
from plans.models import Plan, PlanStatusChange

_OWING = "i.payment_status IN ({})".format(", ".join(f"'{status.value}'" for status in OPEN_WORK_STATUSES))

# Per plan: its open installments, whether every open invoice of it owes nothing, and what the
# ones still owing owe and since when (the same rule as ledger.core's accounts).
PLAN_FIGURES_SQL = f"""
    SELECT p.id, p.state, p.balance_due, p.oldest_due_date,
           COUNT(i.id) FILTER (WHERE i.plan_sequence IS NOT NULL) AS installments,
           COALESCE(bool_and(i.balance_due <= 0), true) AS all_paid,
           COALESCE(SUM(i.balance_due) FILTER (WHERE {_OWING}), 0) AS owed,
           MIN(i.due_date) FILTER (WHERE {_OWING}) AS oldest
    FROM plans_plan p
    LEFT JOIN invoices_invoice i ON i.plan_id = p.id AND i.state = '{InvoiceState.OPEN.value}'
    WHERE p.id = ANY(%(ids)s)
    GROUP BY p.id, p.state, p.balance_due, p.oldest_due_date
"""


def refresh_plans(plan_ids: Iterable[int], *, cause: str, by: Actor) -> list[int]:
    """Move each plan's state and figures to what its invoices say; returns the ids of the plans
    whose state moved."""
    from ledger.bulk import insert_changes

    ids = sorted(set(plan_ids))
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(PLAN_FIGURES_SQL, {"ids": ids})
        rows = cursor.fetchall()
    moved: list[tuple[int, str, str]] = []
    changed: list[tuple[int, str, object, object]] = []
    alias = connection.alias
    for pk, state, balance_due, oldest_due_date, installments, all_paid, owed, oldest in rows:
        plan = Plan.from_db(alias, ["id", "state"], [pk, state])
        plan.refresh_state(installments, all_paid)
        if plan.state != state:
            moved.append((pk, state, plan.state))
        if (plan.state, owed, oldest) != (state, balance_due, oldest_due_date):
            changed.append((pk, plan.state, owed, oldest))
    if changed:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE plans_plan AS p SET state = m.state, balance_due = m.owed, oldest_due_date = m.oldest"
                " FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::date[]) AS m(id, state, owed, oldest)"
                " WHERE p.id = m.id",
                [array_param([row[n] for row in changed]) for n in range(4)],
            )
        insert_changes(PlanStatusChange, "plan", [(pk, "state", old, new, cause) for pk, old, new in moved], by=by)
    return [pk for pk, _, _ in moved]
