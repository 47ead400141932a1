"""Drop foreign-key indexes that a composite index already starts with (bench, issue 5).

Every non-HOT UPDATE of a row (a status change, an account balance) writes every index
of the table; these added write cost and served no query the composite does not.
The foreign keys themselves stay: only Django's state learns db_index=False, and the
database drops the index CONCURRENTLY (no lock on a live ledger, no re-validation).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("billing", "0004_drop_redundant_fk_indexes"),
        ("payments", "0003_queue_totals"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="payment",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="payments", to="billing.customer"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX CONCURRENTLY IF EXISTS "payments_payment_customer_id_8b4d6141"',
                    reverse_sql='CREATE INDEX CONCURRENTLY IF NOT EXISTS "payments_payment_customer_id_8b4d6141" ON "payments_payment" ("customer_id")',
                ),
            ],
        ),
    ]
