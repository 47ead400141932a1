"""Covering indexes for the invoice work queues (bench, issue 5).

The queue index gains INCLUDE (currency, balance_due, total) so a list's count and
per-currency totals are index-only scans; a second partial index serves unpaid and
partially paid together (overdue); the account index gains balance_due for the
account cache and the collections aging. Built CONCURRENTLY (new before old is
dropped) so a live ledger keeps taking writes while they build.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("invoices", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="invoice",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["payment_status", "due_date", "id"],
                include=("currency", "balance_due", "total"),
                name="invoice_status_queue_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="invoice",
            index=models.Index(
                condition=models.Q(("payment_status__in", ["unpaid", "partially_paid"]), ("state", "open")),
                fields=["due_date", "id"],
                include=("currency", "balance_due", "total"),
                name="invoice_open_due_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="invoice",
            index=models.Index(
                condition=models.Q(("payment_status__in", ["unpaid", "partially_paid"]), ("state", "open")),
                fields=["account", "due_date"],
                include=("balance_due",),
                name="invoice_account_due_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="invoice", name="invoice_queue_idx"),
        RemoveIndexConcurrently(model_name="invoice", name="invoice_account_open_idx"),
    ]
