"""What the penalty assessment reads (plans.assessment), set-based: the candidates of a run in
one query, then each batch's figures (the installments, their payments by value date, their
penalty invoices and recalculations, their waivers) and their plans' rule versions in a few."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection

from invoices.models import CreditReason, InvoiceState
from plans.models import Plan, PlanState
from plans.penalties import ZERO, RuleVersion

_CANDIDATES_SQL = f"""
    WITH grace AS (
        SELECT plan_id, MIN(grace_days) AS days, bool_and(frequency = 'once') AS once_only,
               bool_or(created_at >= %(since)s) AS rules_changed
        FROM plans_penaltyrule {{rule_filter}} GROUP BY plan_id)
    SELECT i.id FROM invoices_invoice i
    JOIN grace ON grace.plan_id = i.plan_id
    JOIN plans_plan p ON p.id = i.plan_id AND p.state <> '{PlanState.CANCELED.value}'
    WHERE i.plan_sequence IS NOT NULL AND i.state = '{InvoiceState.OPEN.value}'
      AND i.due_date + grace.days < %(as_of)s
      AND (EXISTS (SELECT 1 FROM invoices_invoice pen WHERE pen.installment_id = i.id)
           OR (NOT EXISTS (SELECT 1 FROM plans_penaltywaiver w WHERE w.installment_id = i.id)
               AND (i.balance_due > 0
                    OR EXISTS (SELECT 1 FROM allocations_allocation a JOIN payments_payment pay ON pay.id = a.payment_id
                               WHERE a.invoice_id = i.id
                                 AND (pay.received_at AT TIME ZONE %(tz)s)::date > i.due_date + grace.days))))
      AND (%(since)s::timestamptz IS NULL
           OR grace.rules_changed
           OR EXISTS (SELECT 1 FROM allocations_allocation a WHERE a.invoice_id = i.id AND a.created_at >= %(since)s)
           OR EXISTS (SELECT 1 FROM invoices_creditnote c WHERE c.invoice_id = i.id AND c.created_at >= %(since)s)
           OR EXISTS (SELECT 1 FROM allocations_allocation a JOIN payments_payment pay ON pay.id = a.payment_id
                      WHERE a.invoice_id = i.id AND (pay.received_at AT TIME ZONE %(tz)s)::date >= %(last_as_of)s)
           OR (i.balance_due > 0
               AND NOT EXISTS (SELECT 1 FROM plans_penaltywaiver w WHERE w.installment_id = i.id)
               AND NOT EXISTS (SELECT 1 FROM invoices_invoice pen WHERE pen.installment_id = i.id
                               AND (grace.once_only OR (pen.issue_date + interval '1 month')::date > %(as_of)s))))
    ORDER BY i.account_id, i.id
"""

_INSTALLMENTS_SQL = """
    SELECT id, plan_id, account_id, currency, total - credited_total, due_date FROM invoices_invoice
    WHERE id = ANY(%(ids)s)
"""
_PAID_SQL = """
    SELECT a.invoice_id, (pay.received_at AT TIME ZONE %(tz)s)::date, SUM(a.amount)
    FROM allocations_allocation a JOIN payments_payment pay ON pay.id = a.payment_id
    WHERE a.invoice_id = ANY(%(ids)s) GROUP BY 1, 2
"""
_PENALTIES_SQL = f"""
    SELECT pen.installment_id, pen.penalty_period, pen.id, pen.penalty_revision, pen.state, pen.total,
           pen.credited_total,
           COALESCE((SELECT SUM(c.amount) FROM invoices_creditnote c
                     WHERE c.invoice_id = pen.id AND c.reason_code = '{CreditReason.RECALCULATION.value}'), 0)
    FROM invoices_invoice pen WHERE pen.installment_id = ANY(%(ids)s)
    ORDER BY pen.installment_id, pen.penalty_period, pen.penalty_revision
"""
_RULES_SQL = """
    SELECT plan_id, effective_from, kind, rate, amount, grace_days, frequency, cap FROM plans_penaltyrule
    WHERE plan_id = ANY(%(plans)s) ORDER BY plan_id, effective_from, id
"""
_WAIVED_SQL = "SELECT installment_id FROM plans_penaltywaiver WHERE installment_id = ANY(%(ids)s)"


@dataclass(frozen=True)
class Charged:
    """One penalty invoice of a period as the assessment counts it."""

    invoice_id: int
    revision: int
    state: str
    total: Decimal
    credited: Decimal
    recalculated: Decimal

    @property
    def charged(self) -> Decimal:
        return self.total - self.recalculated

    @property
    def creditable(self) -> Decimal:
        return self.total - self.credited if self.state == InvoiceState.OPEN else ZERO


@dataclass
class Figures:
    installment_id: int
    plan_id: int
    account_id: int
    currency: str
    amount: Decimal
    due_date: datetime.date
    paid: list[tuple[datetime.date, Decimal]] = field(default_factory=list)
    charged: dict[int, list[Charged]] = field(default_factory=dict)  # period -> its invoices, by revision
    waived: bool = False


def _tz() -> str:
    return settings.TIME_ZONE


def read_figures(ids: Sequence[int]) -> dict[int, Figures]:
    """What the rule reads of these installments, in five queries."""
    ids = list(ids)
    figures: dict[int, Figures] = {}
    with connection.cursor() as cursor:
        cursor.execute(_INSTALLMENTS_SQL, {"ids": ids})
        for pk, plan_id, account_id, currency, amount, due_date in cursor.fetchall():
            figures[pk] = Figures(pk, plan_id, account_id, currency, amount, due_date)
        cursor.execute(_PAID_SQL, {"ids": ids, "tz": _tz()})
        for pk, value_date, amount in cursor.fetchall():
            figures[pk].paid.append((value_date, amount))
        cursor.execute(_PENALTIES_SQL, {"ids": ids})
        for pk, period, invoice_id, revision, state, total, credited, recalculated in cursor.fetchall():
            figures[pk].charged.setdefault(period, []).append(
                Charged(invoice_id, revision, state, total, credited, recalculated)
            )
        cursor.execute(_WAIVED_SQL, {"ids": ids})
        for (pk,) in cursor.fetchall():
            figures[pk].waived = True
    return figures


def read_rules(plan_ids: Sequence[int]) -> dict[int, list[RuleVersion]]:
    rules: dict[int, list[RuleVersion]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(_RULES_SQL, {"plans": sorted(set(plan_ids))})
        for plan_id, *values in cursor.fetchall():
            rules[plan_id].append(RuleVersion(*values))
    return rules


def candidate_ids(
    as_of: datetime.date,
    plan: Plan | None,
    *,
    since: datetime.datetime | None = None,
    last_as_of: datetime.date | None = None,
) -> list[int]:
    """The installments to look at, set-based: every one that may owe a penalty (module
    docstring), or with `since`, only those of them where something changed since then
    (an allocation or credit note on it, a rule version of its plan, a payment value-dated
    on or after `last_as_of`) or that still owe and may have a new period due (no penalty
    dated within a month of as_of; a plan of `once` rules that charged it already has none)."""
    rule_filter = "WHERE plan_id = %(plan)s" if plan is not None else ""
    sql = _CANDIDATES_SQL.format(rule_filter=rule_filter)
    params: dict[str, datetime.date | datetime.datetime | str | int | None] = {
        "as_of": as_of,
        "tz": _tz(),
        "plan": plan.pk if plan is not None else None,
        "since": since,
        "last_as_of": last_as_of,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]
