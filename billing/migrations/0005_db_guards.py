"""Ledger guards no session setting switches off (issue 8, DESIGN.md section 2).

The pgtrigger Protect triggers honoured `SET pgtrigger.ignore`, let TRUNCATE through and
went quiet under `session_replication_role = replica`. They are replaced, in the same
transaction, by plain always-enabled triggers from billing.guards.
"""

import pgtrigger.migrations
from django.db import migrations

from billing import guards


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_drop_redundant_fk_indexes'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='collectionnote',
            name='append_only',
        ),
        migrations.RunSQL(guards.FUNCTIONS_SQL + guards.append_only_sql("billing_collectionnote"), guards.drop_append_only_sql("billing_collectionnote") + guards.DROP_FUNCTIONS_SQL),
    ]
