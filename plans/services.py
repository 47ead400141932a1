"""Plan use cases: create a plan, change its penalty rule, waive penalties, assess them.

Each runs in one transaction and locks through ledger.core in the one order (the plan's
account, then its invoices by id). A plan's installments are ordinary invoices (kind
`installment`), so payments reach them by the ordinary allocation services: manual
allocation to any installment works as for any invoice. assess_penalties runs
plans.assessment (with the penalty semantics in plans.penalties).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal

from django.db import connection, transaction
from django.utils import timezone

from billing.actors import Actor
from billing.errors import InvalidAmount, InvalidInput, InvalidState
from billing.models import Account, Customer, Provider
from billing.money import MINOR_UNITS, format_money, minor_unit, parse_decimal, parse_positive_amount
from billing.validation import require_reason
from invoices.models import CreditNote, CreditReason, Invoice, InvoiceKind, InvoiceState
from invoices.services import create_invoice, issue_credit_note, issue_invoice
from ledger.core import lock_rows
from plans.assessment import ASSESSMENT_LOCK, run_assessment
from plans.models import PenaltyFrequency, PenaltyKind, PenaltyRule, PenaltyWaiver, Plan, PlanState
from plans.penalties import add_months

__all__ = [
    "assess_penalties",
    "change_penalty_rule",
    "create_plan",
    "waive_future_penalties",
    "waive_penalty",
]


def assess_penalties(
    *, as_of: datetime.date | None = None, plan: Plan | None = None, by: Actor
) -> list[Invoice | CreditNote]:
    """Charge or credit the penalty differences up to `as_of` (today by default), for one plan or all.

    Returns the documents issued: penalty invoices and recalculation credit notes, in order
    (plans.assessment.run_assessment, which also says what it looked at).
    """
    return run_assessment(as_of=as_of, plan=plan, by=by).documents


MAX_INSTALLMENTS = 600
MAX_EVERY_MONTHS = 120
MAX_GRACE_DAYS = 3650
RULE_KEYS = {"kind", "rate", "amount", "grace_days", "frequency", "cap"}


def _whole_number(value: object, *, field: str, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"The {field} must be a whole number, not {value!r}.")
    if not least <= value <= most:
        raise InvalidInput(f"The {field} must be between {least} and {most}; got {value}.")
    return value


def _date(value: object, *, field: str) -> datetime.date:
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise InvalidInput(f"The {field} must be a date, not {value!r}.")
    return value


def parse_rule(rule: Mapping[str, object], currency: str) -> dict[str, object]:
    """A penalty rule as the services take it (DESIGN.md section 7), checked: the model fields."""
    if not isinstance(rule, Mapping):
        raise InvalidInput("Give the penalty rule as kind, rate or amount, grace_days, frequency and cap.")
    unknown = set(rule) - RULE_KEYS
    if unknown:
        raise InvalidInput(
            f"A penalty rule has no {', '.join(sorted(unknown))}; it takes {', '.join(sorted(RULE_KEYS))}."
        )
    kind = rule.get("kind")
    rate, amount = rule.get("rate"), rule.get("amount")
    if rate is not None and amount is not None:
        raise InvalidInput(
            "A penalty is a percent rate of the overdue balance or a fixed amount, not both; give rate or amount."
        )
    if kind not in PenaltyKind.values:
        raise InvalidInput(f"A penalty's kind is percent or fixed; got {kind!r}.")
    fields: dict[str, object] = {"kind": kind, "rate": None, "amount": None}
    if kind == PenaltyKind.PERCENT:
        if rate is None:
            raise InvalidInput(
                "A percent penalty needs its rate, e.g. rate=Decimal('2') for 2% of the overdue balance."
            )
        parsed = parse_decimal(rate, "penalty rate")
        if not Decimal(0) < parsed <= 100:
            raise InvalidAmount(f"The penalty rate must be more than 0 and at most 100 percent; got {parsed}.")
        if parsed != parsed.quantize(Decimal("0.0001")):
            raise InvalidAmount(f"The penalty rate {parsed} has more than 4 decimals.")
        fields["rate"] = parsed.quantize(Decimal("0.0001"))
    else:
        if amount is None:
            raise InvalidInput("A fixed penalty needs its amount.")
        fields["amount"] = parse_positive_amount(amount, currency, field="penalty amount")
    fields["grace_days"] = _whole_number(rule.get("grace_days", 0), field="grace days", least=0, most=MAX_GRACE_DAYS)
    frequency = rule.get("frequency", PenaltyFrequency.MONTHLY)
    if frequency not in PenaltyFrequency.values:
        raise InvalidInput(f"A penalty is charged once or monthly; got {frequency!r}.")
    fields["frequency"] = frequency
    cap = rule.get("cap")
    fields["cap"] = None if cap is None else parse_positive_amount(cap, currency, field="penalty cap")
    return fields


def installment_amounts(principal: Decimal, count: int, currency: str) -> list[Decimal]:
    """The principal in `count` equal installments, the remainder on the last (they add up exactly).

    Not billing.money.split_amount: that spreads the remainder one minor unit at a time over
    the first parts, while a plan's schedule keeps every installment but the last equal.
    """
    unit = minor_unit(currency)
    base = (principal / count).quantize(unit, rounding=ROUND_DOWN)
    if base <= 0:
        raise InvalidAmount(
            f"{format_money(principal, currency)} cannot be split into {count} installments of at least "
            f"{format_money(unit, currency)}."
        )
    amounts = [base.quantize(Decimal("0.01"))] * (count - 1)
    return amounts + [(principal - base * (count - 1)).quantize(Decimal("0.01"))]


@transaction.atomic
def create_plan(
    *,
    customer: Customer,
    provider: Provider,
    currency: str,
    principal: object,
    installments: int,
    first_due_date: datetime.date,
    every_months: int = 1,
    penalty: Mapping[str, object] | None = None,
    issue_date: datetime.date | None = None,
    description: str = "",
    by: Actor,
) -> Plan:
    """Issue a plan of `installments` open installment invoices adding up to the principal.

    Installment k is due add_months(first_due_date, (k - 1) x every_months). `issue_date`
    (today by default; earlier to take over a running loan) is each installment's issue
    date and the date the penalty rule (if given) takes effect.
    """
    if currency not in MINOR_UNITS:
        raise InvalidInput(f"{currency!r} is not a currency Settle keeps.")
    count = _whole_number(installments, field="number of installments", least=1, most=MAX_INSTALLMENTS)
    every = _whole_number(every_months, field="months between installments", least=1, most=MAX_EVERY_MONTHS)
    amount = parse_positive_amount(principal, currency, field="principal")
    first_due_date = _date(first_due_date, field="first due date")
    issue_date = timezone.localdate() if issue_date is None else _date(issue_date, field="issue date")
    if first_due_date < issue_date:
        raise InvalidInput(f"The first due date {first_due_date} is before the plan's issue date {issue_date}.")
    amounts = installment_amounts(amount, count, currency)
    rule = parse_rule(penalty, currency) if penalty is not None else None
    account, _ = Account.objects.get_or_create(customer=customer, provider=provider, currency=currency)
    lock_rows(accounts=[account.pk])
    plan = Plan.objects.create(
        customer=customer,
        provider=provider,
        currency=currency,
        account=account,
        principal=amount,
        description=(description or "").strip()[:300],
        installment_count=count,
        every_months=every,
        first_due_date=first_due_date,
        issue_date=issue_date,
        created_by=by,
    )
    if rule is not None:
        PenaltyRule.objects.create(plan=plan, effective_from=issue_date, created_by=by, reason="plan created", **rule)
    for sequence, installment_amount in enumerate(amounts, start=1):
        draft = create_invoice(
            customer=customer,
            provider=provider,
            currency=currency,
            lines=[(f"Installment {sequence} of {count}", "1", installment_amount)],
            due_date=add_months(first_due_date, (sequence - 1) * every),
            issue_date=issue_date,
            kind=InvoiceKind.INSTALLMENT,
            plan=plan,
            plan_sequence=sequence,
            by=by,
        )
        issue_invoice(draft, by=by)
    plan.refresh_from_db()
    return plan


def _take_assessment_lock() -> None:
    """Wait for a running assessment (plans.assessment) to finish, and hold it off until we commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ASSESSMENT_LOCK])


@transaction.atomic
def change_penalty_rule(plan: Plan, *, effective_from: datetime.date, by: Actor, **rule: object) -> PenaltyRule:
    """Append a version of the plan's penalty rule, in force from `effective_from`.

    It must take effect after every period already charged on the plan: what was charged
    under the rule of its day stays right, and the new version applies only from its date.
    """
    effective_from = _date(effective_from, field="date the rule takes effect")
    fields = parse_rule(rule, plan.currency)
    _take_assessment_lock()
    lock_rows(accounts=[plan.account_id])
    locked = Plan.objects.get(pk=plan.pk)
    if locked.state == PlanState.CANCELED:
        raise InvalidState(f"{locked} is canceled; its penalty rule cannot change.")
    last_charged = (
        Invoice.objects.filter(plan_id=locked.pk, kind=InvoiceKind.PENALTY)
        .exclude(state=InvoiceState.DRAFT)
        .order_by("-issue_date")
        .values_list("issue_date", flat=True)
        .first()
    )
    if last_charged is not None and effective_from <= last_charged:
        raise InvalidInput(
            f"Penalties of {locked} are charged for periods up to {last_charged}; a new rule must take effect after "
            "that date (what was charged under the rule of its day stays)."
        )
    if PenaltyRule.objects.filter(plan_id=locked.pk, effective_from=effective_from).exists():
        raise InvalidInput(f"{locked} already has a rule version from {effective_from}; give another date.")
    return PenaltyRule.objects.create(
        plan=locked, effective_from=effective_from, created_by=by, reason="rule changed", **fields
    )


@transaction.atomic
def waive_penalty(penalty_invoice: Invoice, *, amount: object = None, by: Actor, reason: str) -> CreditNote:
    """Forgive a charged penalty: a credit note with reason code `waiver` (all that is left of it by default).

    A waived penalty still counts as charged for the assessment, so it is never charged again.
    """
    reason = require_reason(reason, f"waive penalty {penalty_invoice}")
    if penalty_invoice.kind != InvoiceKind.PENALTY:
        raise InvalidInput(f"Invoice {penalty_invoice} is not a penalty; only a penalty can be waived.")
    _, invoices, _ = lock_rows(accounts=[penalty_invoice.account_id], invoices=[penalty_invoice.pk])
    locked = invoices[penalty_invoice.pk]
    if amount is None:
        left = locked.total - locked.credited_total
        if left <= 0 or locked.state != InvoiceState.OPEN:
            raise InvalidState(f"Penalty {locked} has nothing left to waive.")
        amount = left
    return issue_credit_note(locked, amount=amount, by=by, reason=reason, reason_code=CreditReason.WAIVER)


@transaction.atomic
def waive_future_penalties(installment: Invoice, *, by: Actor, reason: str) -> PenaltyWaiver:
    """Waive every penalty not yet charged on an installment: the assessment charges it nothing more."""
    reason = require_reason(reason, f"waive future penalties of {installment}")
    if installment.kind != InvoiceKind.INSTALLMENT or installment.plan_id is None:
        raise InvalidInput(f"Invoice {installment} is not a plan's installment.")
    _, invoices, _ = lock_rows(accounts=[installment.account_id], invoices=[installment.pk])
    locked = invoices[installment.pk]
    if PenaltyWaiver.objects.filter(installment_id=locked.pk).exists():
        raise InvalidState(f"Future penalties of installment {locked} are already waived.")
    return PenaltyWaiver.objects.create(installment=locked, created_by=by, reason=reason)
