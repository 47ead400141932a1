"""Fold the queue-total tables' deltas (InvoiceQueueTotal, PaymentQueueTotal) into one row per key.

The list pages do this themselves when a table passes billing.queues.COMPACT_ABOVE
rows (the request that does it takes ~0.1 s longer at a million invoices); running
this every few minutes from cron keeps that off the requests.
"""

from django.core.management.base import BaseCommand

from billing.queues import compact_totals
from invoices.models import InvoiceQueueTotal
from payments.models import PaymentQueueTotal


class Command(BaseCommand):
    help = "Fold the queue-total tables' deltas into one row per key."

    def handle(self, *args, **options) -> None:
        for model, count, sums in (
            (InvoiceQueueTotal, "invoices", ["balance_due", "total"]),
            (PaymentQueueTotal, "payments", ["amount", "unallocated"]),
        ):
            kept = compact_totals(model, count=count, sums=sums)
            self.stdout.write(f"{model._meta.db_table}: {kept} rows")
