"""An index of the journal by kind, for the exports' empty-night count (exports.services.nothing_new).

It lives on ledger_entry but belongs to the exports, its only reader, so it is made here
rather than in the ledger's model: the ledger's write path pays one small btree insert per entry.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("exports", "0002_guards"), ("ledger", "0002_backfill_index_guard")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS export_entry_kind_idx ON ledger_entry (kind)",
            "DROP INDEX IF EXISTS export_entry_kind_idx",
        )
    ]
