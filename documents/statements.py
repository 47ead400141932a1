"""A statement's figures, read from the entry journal (DESIGN.md §8, §11).

Per currency: the opening balance at the end of the day before the period, every entry
effective in the period in date order with a running balance, the closing balance, and
the open items (open invoices today, with days past due and the collections queue's aging
buckets: one aging definition, dunning.selectors.AGING_BUCKETS).

Scoped to a provider, a statement covers that provider's account in each currency. The
journal's invoice side (invoices, credit notes, voids) belongs to the account, but payments
belong to the customer (DESIGN.md §5) and may be split over several providers, so a
provider's statement cannot show the payment entries themselves: it would print money
that went to another provider. It shows instead each allocation of a payment to this
provider's invoices, on the allocation's day, as "Payment P-… applied to ACME-…" (and a
deallocation as the reverse). Its closing balance is then what the customer owes the
provider (the account's balance due), and money the customer holds unapplied is left to
the customer-wide statement, whose lines are the journal entries exactly.

All amounts are strings of the stored Decimals: JSON has no decimal type and a float
must never read them back (I6).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Max, Sum
from django.utils import timezone

from allocations.models import Allocation
from billing.models import Account, Customer, Provider
from dunning.selectors import AGING_BUCKETS, Bucket
from invoices.models import Invoice, open_work
from ledger.models import Entry, EntryKind
from ledger.selectors import balance_as_of, journal_entries

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class _Line:
    date: datetime.date
    order: tuple[int, int]  # entries before allocations on the same day, then by id
    kind: str
    description: str
    amount: Decimal


def bucket_of(days_past_due: int) -> Bucket:
    """The aging bucket of an invoice `days_past_due` (≤ 0: not yet due) by the queue's bounds."""
    for bucket in AGING_BUCKETS:
        if (bucket.low is None or days_past_due >= bucket.low) and (
            bucket.high is None or days_past_due <= bucket.high
        ):
            return bucket
    raise AssertionError(f"No aging bucket holds {days_past_due} days")  # the buckets cover every integer


def _entry_description(entry: Entry) -> str:
    if entry.kind == EntryKind.INVOICE:
        assert entry.invoice is not None
        return f"Invoice {entry.invoice}, due {entry.invoice.due_date:%Y-%m-%d}"
    if entry.kind == EntryKind.VOID:
        return f"Invoice {entry.invoice} voided"
    if entry.kind == EntryKind.CREDIT_NOTE:
        assert entry.credit_note is not None
        reason = f": {entry.credit_note.reason}" if entry.credit_note.reason else ""
        return f"Credit note on invoice {entry.credit_note.invoice}{reason}"
    if entry.kind == EntryKind.PAYMENT:
        return f"Payment {entry.payment} received"
    if entry.kind == EntryKind.PAYMENT_CANCELED:
        assert entry.payment is not None
        if entry.payment.corrected_by_id:  # taken back on its own value date (ledger.journal)
            return f"Payment {entry.payment} corrected by P-{entry.payment.corrected_by_id}"
        return f"Payment {entry.payment} canceled"
    if entry.kind == EntryKind.REFUND:
        assert entry.refund is not None
        return f"Refund of payment {entry.refund.payment}"
    if entry.kind == EntryKind.CHARGEBACK:
        assert entry.chargeback is not None
        return f"Chargeback on payment {entry.chargeback.payment}"
    return entry.get_kind_display()


def _entry_lines(entries) -> list[_Line]:
    entries = entries.select_related(
        "invoice", "payment", "credit_note__invoice", "refund__payment", "chargeback__payment"
    )
    return [
        _Line(entry.effective_date, (0, entry.pk), entry.kind, _entry_description(entry), entry.amount)
        for entry in entries
    ]


def _allocation_lines(account: Account, start: datetime.date, end: datetime.date) -> list[_Line]:
    lines = []
    allocations = Allocation.objects.filter(invoice__account=account).select_related("payment", "invoice")
    for allocation in allocations.order_by("id"):
        day = timezone.localdate(allocation.created_at)
        if not start <= day <= end:
            continue
        if allocation.amount > 0:
            description = f"Payment {allocation.payment} applied to invoice {allocation.invoice}"
        else:
            description = f"Payment {allocation.payment} taken off invoice {allocation.invoice}"
        lines.append(_Line(day, (1, allocation.pk), "allocation", description, -allocation.amount))
    return lines


def _allocated_before(account: Account, day: datetime.date) -> Decimal:
    # created_at is a moment; "before the period" is before the start of its first local day.
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    total = Allocation.objects.filter(invoice__account=account, created_at__lt=start).aggregate(s=Sum("amount"))["s"]
    return total or ZERO


def _open_items(invoices, today: datetime.date) -> tuple[list[dict[str, Any]], list[dict[str, str]], Decimal]:
    items = []
    buckets = {bucket.key: ZERO for bucket in AGING_BUCKETS}
    for invoice in invoices.order_by("due_date", "id"):
        days = (today - invoice.due_date).days
        bucket = bucket_of(days)
        buckets[bucket.key] += invoice.balance_due
        items.append(
            {
                "number": str(invoice),
                "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else "",
                "due_date": invoice.due_date.isoformat(),
                "days_past_due": max(days, 0),
                "total": str(invoice.total),
                "balance_due": str(invoice.balance_due),
                "bucket": bucket.key,
            }
        )
    aging = [{"key": b.key, "label": b.label, "amount": str(buckets[b.key])} for b in AGING_BUCKETS]
    return items, aging, sum(buckets.values(), ZERO)


def _section(currency: str, opening: Decimal, lines: list[_Line], invoices, today: datetime.date) -> dict[str, Any]:
    balance = opening
    printed = []
    for line in sorted(lines, key=lambda line: (line.date, line.order)):
        balance += line.amount
        printed.append(
            {
                "date": line.date.isoformat(),
                "kind": line.kind,
                "description": line.description,
                "amount": str(line.amount),
                "charge": str(line.amount) if line.amount > 0 else "",
                "credit": str(-line.amount) if line.amount < 0 else "",
                "balance": str(balance),
            }
        )
    items, aging, open_total = _open_items(invoices, today)
    return {
        "currency": currency,
        "opening": str(opening),
        "lines": printed,
        "closing": str(balance),
        "open_items": items,
        "aging": aging,
        "open_total": str(open_total),
    }


def statement_figures(
    customer: Customer,
    *,
    provider: Provider | None,
    currency: str | None,
    period_start: datetime.date,
    as_of: datetime.date,
    today: datetime.date,
) -> tuple[dict[str, Any], int]:
    """(figures, journal position): everything a statement prints, and the highest entry id read."""
    day_before = period_start - datetime.timedelta(days=1)
    sections = []
    if provider is None:
        scope = Entry.objects.filter(customer=customer, effective_date__lte=as_of)
        currencies = [currency] if currency else sorted(set(scope.values_list("currency", flat=True).distinct()))
        for code in currencies:
            opening = balance_as_of(customer=customer, currency=code, as_of=day_before)
            lines = _entry_lines(journal_entries(customer=customer, currency=code, start=period_start, end=as_of))
            invoices = Invoice.objects.filter(open_work(), customer=customer, currency=code)
            sections.append(_section(code, opening, lines, invoices, today))
        position = scope.aggregate(top=Max("id"))["top"] or 0
    else:
        accounts = Account.objects.filter(customer=customer, provider=provider).order_by("currency")
        if currency:
            accounts = accounts.filter(currency=currency)
        position = 0
        for account in accounts:
            opening = balance_as_of(
                customer=customer, currency=account.currency, account=account, as_of=day_before
            ) - _allocated_before(account, period_start)
            entries = journal_entries(customer=customer, account=account, start=period_start, end=as_of)
            lines = _entry_lines(entries) + _allocation_lines(account, period_start, as_of)
            invoices = Invoice.objects.filter(open_work(), account=account)
            sections.append(_section(account.currency, opening, lines, invoices, today))
            top = Entry.objects.filter(account=account, effective_date__lte=as_of).aggregate(top=Max("id"))["top"]
            position = max(position, top or 0)
    figures = {
        "customer": {"name": customer.name, "email": customer.email, "reference": customer.reference or ""},
        "provider": {"name": provider.name, "code": provider.code} if provider else None,
        "period_start": period_start.isoformat(),
        "as_of": as_of.isoformat(),
        "open_items_on": today.isoformat(),
        "sections": sections,
    }
    return figures, position
