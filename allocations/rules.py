"""The automatic allocation rule (DESIGN.md §6), as a pure plan over open invoices.

If the money equals exactly one, two or three open invoices, those are paid (fewest
invoices first; among equal combinations, the oldest ones). Otherwise the oldest
invoices are paid first (due date, then issue date, then id) until the money runs
out. An installment plan's invoices come in the plan's order (the caller's list puts
each penalty beside its installment, invoices.selectors.allocatable_invoices) and only
the first unpaid one of a plan can be part of an exact match. Invoices named in a remittance text can be put first. The plan is shared by
`auto_allocate`, the prefilled split form and `manage.py auto_allocate --dry-run`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

# Triples are searched in O(n^2); beyond this many open invoices only the oldest are tried.
MAX_EXACT_MATCH_CANDIDATES = 500


class Plannable(Protocol):
    """What the rule reads of an invoice: an Invoice, or any stand-in with these two."""

    @property
    def number(self) -> str | None: ...

    @property
    def balance_due(self) -> Decimal: ...


@dataclass(frozen=True)
class PlannedSplit[I]:
    invoice: I
    amount: Decimal
    reason: str


def _exact_match(balances: Sequence[Decimal], target: Decimal) -> tuple[int, ...] | None:
    """Smallest combination (then lexicographically oldest) of 1-3 balances summing to target."""
    n = min(len(balances), MAX_EXACT_MATCH_CANDIDATES)
    positions: dict[Decimal, list[int]] = defaultdict(list)
    for index in range(n):
        positions[balances[index]].append(index)

    def first_after(value: Decimal, after: int) -> int | None:
        found = positions.get(value)
        if not found:
            return None
        k = bisect_right(found, after)
        return found[k] if k < len(found) else None

    single = first_after(target, -1)
    if single is not None:
        return (single,)
    for i in range(n):
        j = first_after(target - balances[i], i)
        if j is not None:
            return (i, j)
    for i in range(n):
        for j in range(i + 1, n):
            k = first_after(target - balances[i] - balances[j], j)
            if k is not None:
                return (i, j, k)
    return None


def _exact_match_pool(invoices: Sequence[Plannable]) -> list[int]:
    """Positions of the invoices an exact match may pick: any invoice outside a plan, and of an
    installment plan's invoices only the first in the plan's order (the list's order). An
    exact match never pays a later installment or a penalty before an older one (DESIGN.md
    section 10): the plan's invoices are paid in its order, by the oldest-first rule."""
    seen: set[int] = set()
    pool = []
    for position, invoice in enumerate(invoices):
        plan_id = getattr(invoice, "plan_id", None)
        if plan_id is not None:
            if plan_id in seen:
                continue
            seen.add(plan_id)
        pool.append(position)
    return pool


def plan_allocation[I: Plannable](
    available: Decimal,
    invoices: Sequence[I],
    *,
    preferred_numbers: Sequence[str] = (),
) -> list[PlannedSplit[I]]:
    """Plan how `available` money goes to `invoices` (open, oldest first, each with balance_due > 0)."""
    if available <= 0 or not invoices:
        return []
    plan: list[PlannedSplit[I]] = []
    remaining = available
    rest = list(invoices)
    by_number = {invoice.number: invoice for invoice in rest}
    for number in preferred_numbers:
        invoice = by_number.get(number)
        if invoice is None or remaining <= 0 or invoice not in rest:
            continue
        take = min(remaining, invoice.balance_due)
        plan.append(PlannedSplit(invoice, take, "named in remittance"))
        remaining -= take
        rest.remove(invoice)
    if remaining <= 0 or not rest:
        return plan
    pool = _exact_match_pool(rest)
    match = _exact_match([rest[i].balance_due for i in pool], remaining)
    if match is not None:
        noun = "invoice" if len(match) == 1 else "invoices"
        reason = f"exact match of {len(match)} {noun}"
        return plan + [PlannedSplit(rest[pool[i]], rest[pool[i]].balance_due, reason) for i in match]
    for invoice in rest:
        if remaining <= 0:
            break
        take = min(remaining, invoice.balance_due)
        plan.append(PlannedSplit(invoice, take, "oldest first"))
        remaining -= take
    return plan


#: ``<PROVIDERCODE>-<6 digits>``; the provider code is 2-10 letters/digits
#: starting with a letter.  Matched case-insensitively (explicit ASCII
#: classes: ``re.IGNORECASE`` would let ``[a-z]`` match e.g. the Kelvin sign)
#: and never inside a longer word: "XACME-0000421" or "REF_ACME-000042" give
#: nothing.  A hyphen is not part of a word, so "INV-ACME-000123" yields
#: "ACME-000123".
INVOICE_NUMBER_RE: re.Pattern[str] = re.compile(r"(?<!\w)([A-Za-z][A-Za-z0-9]{1,9}-[0-9]{6})(?!\w)")


def find_invoice_numbers(text: str) -> list[str]:
    """Invoice numbers in ``text``, upper-cased, de-duplicated, in order."""
    found: list[str] = []
    for match in INVOICE_NUMBER_RE.finditer(text or ""):
        number = match.group(1).upper()
        if number not in found:
            found.append(number)
    return found
