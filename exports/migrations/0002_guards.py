"""The export tables are append-only at the database (DESIGN.md §2 and §13): a sealed batch,
its chunks, items and balances never change, and delivery attempts and acknowledgements are
rows of their own (billing.guards)."""

from django.db import migrations

from billing import guards

TABLES = (
    "exports_exportbatch",
    "exports_exportchunk",
    "exports_exportitem",
    "exports_exportbalance",
    "exports_delivery",
)


class Migration(migrations.Migration):
    dependencies = [("exports", "0001_initial"), ("billing", "0005_db_guards")]

    operations = [
        *(migrations.RunSQL(guards.append_only_sql(table), guards.drop_append_only_sql(table)) for table in TABLES),
    ]
