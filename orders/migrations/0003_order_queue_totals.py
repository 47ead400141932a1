"""Order list totals kept by a trigger, as the invoice list's (orders.models.OrderQueueTotal).

The trigger and the starting rows are created in one transaction, which holds the
trigger's lock on the table, so no write falls between them.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0002_order_status_history'),
    ]

    operations = [
        migrations.CreateModel(
            name='OrderQueueTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider_id', models.BigIntegerField()),
                ('billing_status', models.CharField(choices=[('not_invoiced', 'Not invoiced'), ('partially_invoiced', 'Partially invoiced'), ('invoiced', 'Invoiced')], max_length=20)),
                ('payment_status', models.CharField(choices=[('unpaid', 'Unpaid'), ('partially_paid', 'Partially paid'), ('paid', 'Paid'), ('overpaid', 'Overpaid')], max_length=16)),
                ('currency', models.CharField(choices=[('AUD', 'AUD'), ('CAD', 'CAD'), ('CHF', 'CHF'), ('CZK', 'CZK'), ('DKK', 'DKK'), ('EUR', 'EUR'), ('GBP', 'GBP'), ('JPY', 'JPY'), ('NOK', 'NOK'), ('PLN', 'PLN'), ('SEK', 'SEK'), ('USD', 'USD')], max_length=3)),
                ('orders', models.BigIntegerField()),
                ('invoiced_total', models.DecimalField(decimal_places=2, max_digits=18)),
                ('paid_total', models.DecimalField(decimal_places=2, max_digits=18)),
                ('balance_due', models.DecimalField(decimal_places=2, max_digits=18)),
            ],
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='order',
            trigger=pgtrigger.compiler.Trigger(name='queue_totals', sql=pgtrigger.compiler.UpsertTriggerSql(func="\n                IF TG_OP = 'UPDATE' AND OLD.billing_status = NEW.billing_status\n                   AND OLD.payment_status = NEW.payment_status AND OLD.currency = NEW.currency\n                   AND OLD.provider_id = NEW.provider_id THEN\n                    IF OLD.invoiced_total <> NEW.invoiced_total OR OLD.paid_total <> NEW.paid_total\n                       OR OLD.balance_due <> NEW.balance_due THEN\n                        INSERT INTO orders_orderqueuetotal\n                            (provider_id, billing_status, payment_status, currency, orders,\n                             invoiced_total, paid_total, balance_due)\n                        VALUES (NEW.provider_id, NEW.billing_status, NEW.payment_status, NEW.currency, 0,\n                                NEW.invoiced_total - OLD.invoiced_total, NEW.paid_total - OLD.paid_total,\n                                NEW.balance_due - OLD.balance_due);\n                    END IF;\n                    RETURN NULL;\n                END IF;\n                IF TG_OP <> 'INSERT' THEN\n                    INSERT INTO orders_orderqueuetotal\n                        (provider_id, billing_status, payment_status, currency, orders,\n                         invoiced_total, paid_total, balance_due)\n                    VALUES (OLD.provider_id, OLD.billing_status, OLD.payment_status, OLD.currency, -1,\n                            -OLD.invoiced_total, -OLD.paid_total, -OLD.balance_due);\n                END IF;\n                IF TG_OP <> 'DELETE' THEN\n                    INSERT INTO orders_orderqueuetotal\n                        (provider_id, billing_status, payment_status, currency, orders,\n                         invoiced_total, paid_total, balance_due)\n                    VALUES (NEW.provider_id, NEW.billing_status, NEW.payment_status, NEW.currency, 1,\n                            NEW.invoiced_total, NEW.paid_total, NEW.balance_due);\n                END IF;\n                RETURN NULL;\n                ", hash='c8020a86ddb601c1af420b17cb0be5a8247002b3', operation='INSERT OR UPDATE OR DELETE', pgid='pgtrigger_queue_totals_d97d9', table='orders_order', when='AFTER')),
        ),
        migrations.AddIndex(
            model_name='orderqueuetotal',
            index=models.Index(fields=['billing_status', 'payment_status', 'currency', 'provider_id'], include=('orders', 'invoiced_total', 'paid_total', 'balance_due'), name='order_queue_total_key_idx'),
        ),
        migrations.RunSQL(
            sql="""
                INSERT INTO orders_orderqueuetotal
                    (provider_id, billing_status, payment_status, currency, orders, invoiced_total, paid_total, balance_due)
                SELECT provider_id, billing_status, payment_status, currency, count(*),
                       sum(invoiced_total), sum(paid_total), sum(balance_due)
                FROM orders_order
                GROUP BY provider_id, billing_status, payment_status, currency
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
