"""A void invoice owes nothing (DESIGN.md section 3): its cached balance_due becomes 0.

Existing void invoices are fixed set-based, between dropping the old constraint and
adding the new one. The queue_totals trigger appends each row's delta to
InvoiceQueueTotal, so the kept list totals (initial and compacted rows included)
follow without being rebuilt.
"""

import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0004_drop_redundant_fk_indexes'),
        ('invoices', '0007_queue_total_key_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='invoice',
            name='invoice_balance_due_consistent',
        ),
        migrations.RunSQL(
            "UPDATE invoices_invoice SET balance_due = 0 WHERE state = 'void' AND balance_due <> 0",
            reverse_sql="UPDATE invoices_invoice SET balance_due = total - credited_total - paid_total WHERE state = 'void'",
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('balance_due', 0), ('state', 'void')), models.Q(models.Q(('state', 'void'), _negated=True), ('balance_due', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('total'), '-', models.F('credited_total')), '-', models.F('paid_total')))), _connector='OR'), name='invoice_balance_due_consistent'),
        ),
    ]
