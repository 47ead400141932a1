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
        ("invoices", "0004_queue_totals"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="invoice",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="invoices", to="billing.customer"
                    ),
                ),
                migrations.AlterField(
                    model_name="invoice",
                    name="provider",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="invoices", to="billing.provider"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX CONCURRENTLY IF EXISTS "invoices_invoice_customer_id_137e7301"',
                    reverse_sql='CREATE INDEX CONCURRENTLY IF NOT EXISTS "invoices_invoice_customer_id_137e7301" ON "invoices_invoice" ("customer_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX CONCURRENTLY IF EXISTS "invoices_invoice_provider_id_ccbb80e9"',
                    reverse_sql='CREATE INDEX CONCURRENTLY IF NOT EXISTS "invoices_invoice_provider_id_ccbb80e9" ON "invoices_invoice" ("provider_id")',
                ),
            ],
        ),
    ]
