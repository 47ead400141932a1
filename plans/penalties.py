"""What the penalty rule says an installment should have been charged: a pure computation.

plans.assessment feeds it from the database; the tests call it directly. Nothing here
reads or writes rows.

The rule, for one installment of net amount A (total less credit notes), due on D:

- The rule versions of the plan, each in force from its `effective_from` until the next
  one. The *schedule* (grace days g and frequency) is the version in force on D (or the
  plan's first version when none was yet): the terms in force when the installment fell due
  say when it is late. The *charge* of each period (kind, rate or amount, cap) is the
  version in force on that period's date: a rule change applies only from its date.
- The overdue clock starts at E = D + g days (the last day of grace).
  `once`: one period, number 1, dated E + 1 day (the first day past grace).
  `monthly`: period k (k = 1, 2, ...) is dated t_k = E + k months (the day of month kept,
  clamped to the month's last day): charged for each full month overdue past grace.
  Periods dated after `as_of` are not due yet.
- The overdue balance at a period's date t: B(t) = max(0, A - sum of the installment's
  allocations whose payment's value date (`received_at`, local date) is before t).
  A payment counts from its value date, whenever it was recorded or allocated.
- The charge of period k: 0 when B(t_k) = 0 or no version is in force on t_k; else
  percent: B(t_k) x rate / 100, rounded half up to the currency's minor unit; fixed: the
  amount. With a cap (of the version in force on t_k), the charge is cut so that the
  installment's charges of periods 1..k add up to at most the cap.
- What was charged is compared with this by plans.assessment, which issues only the
  difference (a penalty invoice, or a recalculation credit note). A waiver of future
  penalties (PenaltyWaiver) stops new charges: no new penalty invoice for the installment
  from then on (recalculation credits still follow back-dated payments).
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.money import minor_unit

ZERO = Decimal("0.00")
PERCENT = "percent"
FIXED = "fixed"
ONCE = "once"
MONTHLY = "monthly"


@dataclass(frozen=True)
class RuleVersion:
    effective_from: datetime.date
    kind: str
    rate: Decimal | None
    amount: Decimal | None
    grace_days: int
    frequency: str
    cap: Decimal | None


@dataclass(frozen=True)
class Period:
    number: int
    date: datetime.date
    balance: Decimal  # the overdue balance at the start of `date`
    charge: Decimal  # what the rule says this period costs


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day of the month `months` later, clamped to that month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def in_force(versions: Sequence[RuleVersion], day: datetime.date) -> RuleVersion | None:
    """The version in force on `day`: the latest effective on or before it (versions sorted by date)."""
    found = None
    for version in versions:
        if version.effective_from <= day:
            found = version
        else:
            break
    return found


def period_dates(
    due_date: datetime.date, versions: Sequence[RuleVersion], as_of: datetime.date
) -> list[tuple[int, datetime.date]]:
    """(number, date) of the installment's periods dated on or before as_of."""
    if not versions:
        return []
    schedule = in_force(versions, due_date) or versions[0]
    end_of_grace = due_date + datetime.timedelta(days=schedule.grace_days)
    if schedule.frequency == ONCE:
        first = end_of_grace + datetime.timedelta(days=1)
        return [(1, first)] if first <= as_of else []
    dates = []
    k = 1
    while (day := add_months(end_of_grace, k)) <= as_of:
        dates.append((k, day))
        k += 1
    return dates


def balance_at(amount: Decimal, paid: Iterable[tuple[datetime.date, Decimal]], day: datetime.date) -> Decimal:
    """What is still owed at the start of `day`: amount less what was paid with a value date before it."""
    return max(ZERO, amount - sum((value for value_date, value in paid if value_date < day), ZERO))


def penalty_periods(
    *,
    amount: Decimal,
    due_date: datetime.date,
    paid: Sequence[tuple[datetime.date, Decimal]],
    versions: Sequence[RuleVersion],
    as_of: datetime.date,
    currency: str,
) -> list[Period]:
    """Every period of the installment due by as_of, with what the rule says it costs (module docstring)."""
    unit = minor_unit(currency)
    versions = sorted(versions, key=lambda v: v.effective_from)
    periods = []
    charged = ZERO
    for number, day in period_dates(due_date, versions, as_of):
        balance = balance_at(amount, paid, day)
        version = in_force(versions, day)
        charge = ZERO
        if version is not None and balance > 0:
            if version.kind == PERCENT:
                assert version.rate is not None
                charge = (balance * version.rate / 100).quantize(unit, rounding=ROUND_HALF_UP)
            else:
                assert version.amount is not None
                charge = version.amount
            if version.cap is not None:
                charge = min(charge, max(ZERO, version.cap - charged))
        charge = charge.quantize(Decimal("0.01"))
        charged += charge
        periods.append(Period(number, day, balance, charge))
    return periods
