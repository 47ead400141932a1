"""A plan keeps what it owes and its oldest due date (as an account does), and the plans list's
totals are kept by a trigger in PlanQueueTotal (as the orders list's).

The figures are filled before the trigger exists, and the trigger and the starting rows are
created in one transaction, which holds the trigger's lock on the table: no write falls between.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('plans', '0002_assessment_runs'),
    ]

    operations = [
        migrations.CreateModel(
            name='PlanQueueTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('active', 'Active'), ('paid_off', 'Paid off'), ('canceled', 'Canceled')], max_length=16)),
                ('currency', models.CharField(choices=[('AUD', 'AUD'), ('CAD', 'CAD'), ('CHF', 'CHF'), ('CZK', 'CZK'), ('DKK', 'DKK'), ('EUR', 'EUR'), ('GBP', 'GBP'), ('JPY', 'JPY'), ('NOK', 'NOK'), ('PLN', 'PLN'), ('SEK', 'SEK'), ('USD', 'USD')], max_length=3)),
                ('oldest_due_date', models.DateField(null=True)),
                ('plans', models.BigIntegerField()),
                ('principal', models.DecimalField(decimal_places=2, max_digits=18)),
                ('balance_due', models.DecimalField(decimal_places=2, max_digits=18)),
            ],
        ),
        migrations.AddField(
            model_name='plan',
            name='balance_due',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14),
        ),
        migrations.AddField(
            model_name='plan',
            name='oldest_due_date',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.RunSQL(
            sql="""
                UPDATE plans_plan p SET balance_due = f.owed, oldest_due_date = f.oldest
                FROM (SELECT plan_id, SUM(balance_due) AS owed, MIN(due_date) AS oldest FROM invoices_invoice
                      WHERE plan_id IS NOT NULL AND state = 'open' AND payment_status IN ('unpaid', 'partially_paid')
                      GROUP BY plan_id) f
                WHERE p.id = f.plan_id
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='plan',
            trigger=pgtrigger.compiler.Trigger(name='queue_totals', sql=pgtrigger.compiler.UpsertTriggerSql(func="\n                IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.currency = NEW.currency\n                   AND OLD.oldest_due_date IS NOT DISTINCT FROM NEW.oldest_due_date THEN\n                    IF OLD.principal <> NEW.principal OR OLD.balance_due <> NEW.balance_due THEN\n                        INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)\n                        VALUES (NEW.state, NEW.currency, NEW.oldest_due_date, 0,\n                                NEW.principal - OLD.principal, NEW.balance_due - OLD.balance_due);\n                    END IF;\n                    RETURN NULL;\n                END IF;\n                IF TG_OP <> 'INSERT' THEN\n                    INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)\n                    VALUES (OLD.state, OLD.currency, OLD.oldest_due_date, -1, -OLD.principal, -OLD.balance_due);\n                END IF;\n                IF TG_OP <> 'DELETE' THEN\n                    INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)\n                    VALUES (NEW.state, NEW.currency, NEW.oldest_due_date, 1, NEW.principal, NEW.balance_due);\n                END IF;\n                RETURN NULL;\n                ", hash='83e24b80deb61eadfc4da17b34d5e03ba4455a07', operation='INSERT OR UPDATE OR DELETE', pgid='pgtrigger_queue_totals_15ed5', table='plans_plan', when='AFTER')),
        ),
        migrations.AddIndex(
            model_name='planqueuetotal',
            index=models.Index(fields=['state', 'currency', 'oldest_due_date'], include=('plans', 'principal', 'balance_due'), name='plan_queue_total_key_idx'),
        ),
        migrations.RunSQL(
            sql="""
                INSERT INTO plans_planqueuetotal (state, currency, oldest_due_date, plans, principal, balance_due)
                SELECT state, currency, oldest_due_date, count(*), sum(principal), sum(balance_due)
                FROM plans_plan GROUP BY 1, 2, 3
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
