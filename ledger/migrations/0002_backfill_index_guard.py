"""Fill the entry journal for every row written before it existed, then index and guard it.

The backfill is one INSERT ... SELECT over the source tables (ledger.journal_sql), run
before the indexes and unique constraints exist so that they are built once, sorted,
instead of updated a row at a time; it sets the foreign keys aside for the same reason.
Measured on the benchmark's 1M invoices: 2.1M entries in ~20 s (the INSERT and the keys'
validation ~15 s, the index builds ~5 s). The append-only guard comes last but in the
same transaction: nothing can change an entry in between.
"""

from django.db import migrations, models

from billing import guards


def backfill(apps, schema_editor):
    from ledger.journal_sql import backfill as write_entries

    with schema_editor.connection.cursor() as cursor:
        # This runs before payments.0009 adds corrected_by: no payment was corrected yet.
        write_entries(cursor, corrections=False)


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0001_initial'),
        ('billing', '0005_db_guards'),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(model_name='entry', index=models.Index(fields=['customer', 'currency', 'effective_date'], include=('amount',), name='entry_customer_balance_idx')),
        migrations.AddIndex(model_name='entry', index=models.Index(condition=models.Q(('account__isnull', False)), fields=['account', 'effective_date'], include=('amount',), name='entry_account_balance_idx')),
        migrations.AddConstraint(model_name='entry', constraint=models.UniqueConstraint(condition=models.Q(('invoice__isnull', False)), fields=('invoice', 'kind'), name='entry_unique_invoice_event')),
        migrations.AddConstraint(model_name='entry', constraint=models.UniqueConstraint(condition=models.Q(('payment__isnull', False)), fields=('payment', 'kind'), name='entry_unique_payment_event')),
        migrations.AddConstraint(model_name='entry', constraint=models.UniqueConstraint(condition=models.Q(('credit_note__isnull', False)), fields=('credit_note',), name='entry_unique_credit_note')),
        migrations.AddConstraint(model_name='entry', constraint=models.UniqueConstraint(condition=models.Q(('refund__isnull', False)), fields=('refund',), name='entry_unique_refund')),
        migrations.AddConstraint(model_name='entry', constraint=models.UniqueConstraint(condition=models.Q(('chargeback__isnull', False)), fields=('chargeback',), name='entry_unique_chargeback')),
        migrations.RunSQL(guards.append_only_sql("ledger_entry"), guards.drop_append_only_sql("ledger_entry")),
    ]
