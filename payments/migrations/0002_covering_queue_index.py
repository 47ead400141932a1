"""The payment work-queue index gains INCLUDE (currency, amount, unallocated) (bench, issue 5).

A list's count and per-currency totals become index-only scans. Built CONCURRENTLY,
new before old is dropped.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(
                fields=["allocation_status", "received_at", "id"],
                include=("currency", "amount", "unallocated"),
                name="payment_status_queue_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="payment", name="payment_queue_idx"),
    ]
