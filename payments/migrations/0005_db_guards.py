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
        ('payments', '0004_drop_redundant_fk_indexes'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='bankentry',
            name='bank_entry_no_delete',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='bankentry',
            name='bank_entry_facts_fixed',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='chargeback',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='paymentstatuschange',
            name='append_only',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='refund',
            name='append_only',
        ),
        migrations.RunSQL("".join(guards.append_only_sql(t) for t in ("payments_refund", "payments_chargeback", "payments_paymentstatuschange")), "".join(guards.drop_append_only_sql(t) for t in ("payments_refund", "payments_chargeback", "payments_paymentstatuschange"))),
        migrations.RunSQL(guards.facts_fixed_sql("payments_bankentry", guards.BANK_ENTRY_FACTS), guards.drop_facts_fixed_sql("payments_bankentry")),
    ]
