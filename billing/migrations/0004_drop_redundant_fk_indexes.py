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
        ("billing", "0003_collectionnote"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="account",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="accounts", to="billing.customer"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX CONCURRENTLY IF EXISTS "billing_account_customer_id_b6f1aa6f"',
                    reverse_sql='CREATE INDEX CONCURRENTLY IF NOT EXISTS "billing_account_customer_id_b6f1aa6f" ON "billing_account" ("customer_id")',
                ),
            ],
        ),
    ]
