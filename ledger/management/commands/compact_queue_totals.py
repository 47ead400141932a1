"""Fold the queue-total tables' deltas (InvoiceQueueTotal, PaymentQueueTotal) into one row per key.

The list pages only read (a GET never writes); their totals stay exact however many
deltas wait, and cost about 0.03 us per waiting delta row of the asked-for queue. Run
this every few minutes (cron, see the README) so the tables stay a few thousand rows.
"""

from django.core.management.base import BaseCommand

from billing.kept_totals import compact_totals
from invoices.models import INVOICE_QUEUE_FIGURES
from payments.models import PAYMENT_QUEUE_FIGURES


class Command(BaseCommand):
    help = "Fold the queue-total tables' deltas into one row per key."

    def handle(self, *args, **options) -> None:
        for figures in (INVOICE_QUEUE_FIGURES, PAYMENT_QUEUE_FIGURES):
            kept = compact_totals(figures)
            self.stdout.write(f"{figures.table}: {kept} rows")
