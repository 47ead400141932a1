"""Unpaid and partially paid invoices together, oldest due first (bench, issue 5).

Serves the overdue list and all open work without a sort. Built CONCURRENTLY so a
live ledger keeps taking writes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("invoices", "0002_void_draft_has_no_number"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="invoice",
            index=models.Index(
                condition=models.Q(("payment_status__in", ["unpaid", "partially_paid"]), ("state", "open")),
                fields=["due_date", "id"],
                name="invoice_open_due_idx",
            ),
        ),
    ]
