"""Fold the queue-total tables' deltas (InvoiceQueueTotal, PaymentQueueTotal) into one row per key.

The list pages only read (a GET never writes); their totals stay exact however many
deltas wait, and cost about 0.03 us per waiting delta row of the asked-for queue. Run
this every few minutes (cron, see the README) so the tables stay a few thousand rows.
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
