"""Number sequences per document kind, and the append-only guards on the three tables.

The guards are billing.guards' (DESIGN.md §2): UPDATE, DELETE and TRUNCATE refused whatever
the session sets. A sequence per kind numbers documents without a lock (gaps are allowed).
"""

from django.db import migrations

from billing import guards
from documents.models import NUMBER_SEQUENCE

TABLES = ("documents_document", "documents_documentpdf", "documents_delivery")


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial"), ("billing", "0005_db_guards")]

    operations = [
        *(
            migrations.RunSQL(f"CREATE SEQUENCE {name}", f"DROP SEQUENCE IF EXISTS {name}")
            for name in NUMBER_SEQUENCE.values()
        ),
        *(migrations.RunSQL(guards.append_only_sql(table), guards.drop_append_only_sql(table)) for table in TABLES),
    ]
