"""The plans' part of the one refresh routine (DESIGN.md section 10).

A plan caches one thing: its state, paid off when every open installment and penalty of
it owes nothing. ledger.core.refresh_all (and ledger.bulk for the bank import) call
refresh_plans for the plans of the invoices they refreshed, after the invoices, in the
same transaction; only an invoice with a plan costs anything here. The caller holds the
locks of the plan's account (every writer of a plan's invoice locks that account first,
and all of a plan's invoices are on it), so two writers never refresh one plan at once.
Idempotent: it writes only a state that moves, with its history row.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from billing.actors import Actor
from invoices.models import InvoiceState
from plans.models import Plan, PlanStatusChange

# Per plan: its open installments, and whether every open invoice of it owes nothing.
PLAN_FIGURES_SQL = f"""
    SELECT p.id, p.state,
           COUNT(i.id) FILTER (WHERE i.plan_sequence IS NOT NULL) AS installments,
           COALESCE(bool_and(i.balance_due <= 0), true) AS all_paid
    FROM plans_plan p
    LEFT JOIN invoices_invoice i ON i.plan_id = p.id AND i.state = '{InvoiceState.OPEN.value}'
    WHERE p.id = ANY(%(ids)s)
    GROUP BY p.id, p.state
"""


def refresh_plans(plan_ids: Iterable[int], *, cause: str, by: Actor) -> list[int]:
    """Move each plan's state to what its invoices say; returns the ids of the plans that moved."""
    from ledger.bulk import insert_changes

    ids = sorted(set(plan_ids))
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(PLAN_FIGURES_SQL, {"ids": ids})
        rows = cursor.fetchall()
    moved: list[tuple[int, str, str]] = []
    for pk, state, installments, all_paid in rows:
        plan = Plan.from_db(connection.alias, ["id", "state"], [pk, state])
        plan.refresh_state(installments, all_paid)
        if plan.state != state:
            moved.append((pk, state, plan.state))
    if moved:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE plans_plan AS p SET state = m.state FROM unnest(%s::bigint[], %s::text[]) AS m(id, state)"
                " WHERE p.id = m.id",
                [[pk for pk, _, _ in moved], [new for _, _, new in moved]],
            )
        insert_changes(PlanStatusChange, "plan", [(pk, "state", old, new, cause) for pk, old, new in moved], by=by)
    return [pk for pk, _, _ in moved]
