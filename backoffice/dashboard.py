"""The dashboard's figures: each work queue's count and money per currency, in a few queries.

These are exact (no cache): the dashboard is where a clerk decides what to do next.
Invoice and payment queues are read from the trigger-kept queue totals
(InvoiceQueueTotal, PaymentQueueTotal), which hold the same counts and sums as the rows
in a few thousand rows however large the books are. The nav bar's counts are a cached
hint (backoffice.context_processors).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.db.models import Q, Sum
from django.urls import reverse

from billing.status import AllocationStatus, PaymentStatus
from dunning.selectors import account_totals
from invoices.models import INVOICE_QUEUE_FIGURES, OPEN_WORK_STATUSES, InvoiceQueueTotal, InvoiceState, overdue
from payments.filters import NEEDS_WORK
from payments.models import NEEDS_WORK_STATES, NEEDS_WORK_STATUSES, PAYMENT_QUEUE_FIGURES, PaymentQueueTotal


@dataclass
class Queue:
    key: str
    label: str
    url: str
    help: str
    count: int = 0
    # [(currency, amount)], amounts positive: what is due, unallocated, or over.
    sums: list[tuple[str, Decimal]] = field(default_factory=list)


def _url(name: str, params: list[tuple[str, str]]) -> str:
    return f"{reverse(name)}?{urlencode(params)}" if params else reverse(name)


def _fill(
    queues: list[Queue], rows: Sequence[Mapping[str, Any]], *, negate: Collection[str] = frozenset()
) -> list[Queue]:
    for queue in queues:
        for row in rows:
            count = row[f"{queue.key}_count"]
            if count:
                queue.count += count
                amount = row[f"{queue.key}_sum"] or Decimal("0.00")
                queue.sums.append((row["currency"], -amount if queue.key in negate else amount))
    return queues


def invoice_queues(today: datetime.date) -> list[Queue]:
    status = [("payment_status", s) for s in OPEN_WORK_STATUSES]
    queues = [
        Queue(
            "overdue", "Overdue", _url("invoices:list", [*status, ("overdue", "1")]), "due before today, not fully paid"
        ),
        Queue(
            "unpaid", "Unpaid", _url("invoices:list", [("payment_status", PaymentStatus.UNPAID)]), "nothing paid yet"
        ),
        Queue(
            "partially_paid",
            "Partially paid",
            _url("invoices:list", [("payment_status", PaymentStatus.PARTIALLY_PAID)]),
            "balance still due",
        ),
        Queue(
            "overpaid",
            "Overpaid",
            _url("invoices:list", [("payment_status", PaymentStatus.OVERPAID)]),
            "paid more than due: refund or reallocate",
        ),
    ]
    aggregates = {}
    for key, condition in (
        ("overdue", overdue(today)),
        ("unpaid", Q(payment_status=PaymentStatus.UNPAID)),
        ("partially_paid", Q(payment_status=PaymentStatus.PARTIALLY_PAID)),
        ("overpaid", Q(payment_status=PaymentStatus.OVERPAID)),
    ):
        aggregates[f"{key}_count"] = Sum(INVOICE_QUEUE_FIGURES.count, filter=condition)
        aggregates[f"{key}_sum"] = Sum("balance_due", filter=condition)
    rows = list(
        InvoiceQueueTotal.objects.filter(
            state=InvoiceState.OPEN, payment_status__in=[*OPEN_WORK_STATUSES, PaymentStatus.OVERPAID]
        )
        .order_by()
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )
    # An overpaid invoice's balance due is negative: show by how much it is over.
    return _fill(queues, rows, negate={"overpaid"})


def payment_queues() -> list[Queue]:
    base = [("queue", NEEDS_WORK)]
    labels = {
        AllocationStatus.UNALLOCATED: ("Unallocated", "received, not yet matched to invoices"),
        AllocationStatus.PARTIALLY_ALLOCATED: ("Partially allocated", "money left to allocate"),
        AllocationStatus.OVERALLOCATED: ("Overallocated", "allocated more than it holds: deallocate"),
    }
    queues = [
        Queue(
            status, labels[status][0], _url("payments:list", [*base, ("allocation_status", status)]), labels[status][1]
        )
        for status in NEEDS_WORK_STATUSES
    ]
    aggregates = {}
    for status in NEEDS_WORK_STATUSES:
        aggregates[f"{status}_count"] = Sum(PAYMENT_QUEUE_FIGURES.count, filter=Q(allocation_status=status))
        aggregates[f"{status}_sum"] = Sum("unallocated", filter=Q(allocation_status=status))
    rows = list(
        PaymentQueueTotal.objects.filter(state__in=NEEDS_WORK_STATES, allocation_status__in=NEEDS_WORK_STATUSES)
        .order_by()
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )
    return _fill(queues, rows, negate={AllocationStatus.OVERALLOCATED})


def collections_queue() -> Queue:
    # Oldest debt first: the queue across every currency (its balance view lists one currency).
    queue = Queue(
        "owing", "Accounts owing", f"{reverse('collections:list')}?sort=age", "customer × provider × currency"
    )
    totals = account_totals(filters={"sort": "age"})
    rows = [
        {"currency": row["currency"], "owing_count": row["count"], "owing_sum": row["balance_due"]}
        for row in totals.by_currency
    ]
    return _fill([queue], rows)[0]


def latest_reconciliation_run():
    """The newest nightly reconciliation run, or None (also when that app is not installed)."""
    if not apps.is_installed("reconciliation"):
        return None
    try:
        from reconciliation.selectors import latest_run
    except ImportError:
        return None
    return latest_run()
