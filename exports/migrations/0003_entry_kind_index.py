"""An index of the journal by kind, for the exports' empty-night count (exports.services.nothing_new),
and payload chunks stored uncompressed.

The index lives on ledger_entry but belongs to the exports, its only reader, so it is made
here rather than in the ledger's model: the ledger's write path pays one small btree insert
per entry. The chunks are stored out of line without compression (this PostgreSQL has pglz
only, which cost 10 s of a 105 MiB payload): a batch's bytes are written once and read rarely.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("exports", "0002_guards"), ("ledger", "0002_backfill_index_guard")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS export_entry_kind_idx ON ledger_entry (kind)",
            "DROP INDEX IF EXISTS export_entry_kind_idx",
        ),
        migrations.RunSQL(
            "ALTER TABLE exports_exportchunk ALTER COLUMN data SET STORAGE EXTERNAL",
            "ALTER TABLE exports_exportchunk ALTER COLUMN data SET STORAGE EXTENDED",
        ),
    ]
