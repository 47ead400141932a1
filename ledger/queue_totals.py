"""Folding the kept queue-total tables (InvoiceQueueTotal, PaymentQueueTotal, OrderQueueTotal,
PlanQueueTotal) at once.

One function for every caller that folds them: the compact_queue_totals command (and so the
worker's periodic task), the bank import after many chunks, and the benchmark.
"""

from __future__ import annotations

from billing.kept_totals import compact_totals
from invoices.models import INVOICE_QUEUE_FIGURES
from orders.models import ORDER_QUEUE_FIGURES
from payments.models import PAYMENT_QUEUE_FIGURES
from plans.models import PLAN_QUEUE_FIGURES

QUEUE_FIGURES = (INVOICE_QUEUE_FIGURES, PAYMENT_QUEUE_FIGURES, ORDER_QUEUE_FIGURES, PLAN_QUEUE_FIGURES)


def fold_queue_totals() -> dict[str, int]:
    """Fold each table's deltas into one row per key; returns the rows each table keeps."""
    return {figures.table: compact_totals(figures) for figures in QUEUE_FIGURES}
