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
        ('billing', '0005_db_guards'),
        ('reconciliation', '0001_initial'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='reconciliationdifference',
            name='append_only',
        ),
        migrations.RunSQL(guards.append_only_sql("reconciliation_reconciliationdifference"), guards.drop_append_only_sql("reconciliation_reconciliationdifference")),
    ]
