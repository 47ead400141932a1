"""Fold the queue-total tables' deltas (InvoiceQueueTotal, PaymentQueueTotal) into one row per key.

The list pages only read (a GET never writes); their totals stay exact however many
deltas wait, and cost about 0.03 us per waiting delta row of the asked-for queue. Run
this every few minutes (cron, see the README) so the tables stay a few thousand rows.
"""

from django.core.management.base import BaseCommand

from ledger.queue_totals import fold_queue_totals


class Command(BaseCommand):
    help = "Fold the queue-total tables' deltas into one row per key."

    def handle(self, *args, **options) -> None:
        for table, kept in fold_queue_totals().items():
            self.stdout.write(f"{table}: {kept} rows")
