"""Queue totals kept by a trigger (bench, issue 5): a list's count and sums without a scan.

The trigger and the starting rows are created in one transaction, which holds the
trigger's lock on the table, so no write falls between them.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0002_bankentry'),
    ]

    operations = [
        migrations.CreateModel(
            name='PaymentQueueTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('pending', 'Pending'), ('settled', 'Settled'), ('canceled', 'Canceled'), ('charged_back', 'Charged back')], max_length=16)),
                ('allocation_status', models.CharField(choices=[('unallocated', 'Unallocated'), ('partially_allocated', 'Partially allocated'), ('fully_allocated', 'Fully allocated'), ('overallocated', 'Overallocated')], max_length=20)),
                ('currency', models.CharField(choices=[('AUD', 'AUD'), ('CAD', 'CAD'), ('CHF', 'CHF'), ('CZK', 'CZK'), ('DKK', 'DKK'), ('EUR', 'EUR'), ('GBP', 'GBP'), ('JPY', 'JPY'), ('NOK', 'NOK'), ('PLN', 'PLN'), ('SEK', 'SEK'), ('USD', 'USD')], max_length=3)),
                ('payments', models.BigIntegerField()),
                ('amount', models.DecimalField(decimal_places=2, max_digits=18)),
                ('unallocated', models.DecimalField(decimal_places=2, max_digits=18)),
            ],
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='payment',
            trigger=pgtrigger.compiler.Trigger(name='queue_totals', sql=pgtrigger.compiler.UpsertTriggerSql(func="\n                IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.allocation_status = NEW.allocation_status\n                   AND OLD.currency = NEW.currency THEN\n                    IF OLD.amount <> NEW.amount OR OLD.unallocated <> NEW.unallocated THEN\n                        INSERT INTO payments_paymentqueuetotal\n                            (state, allocation_status, currency, payments, amount, unallocated)\n                        VALUES (NEW.state, NEW.allocation_status, NEW.currency, 0,\n                                NEW.amount - OLD.amount, NEW.unallocated - OLD.unallocated);\n                    END IF;\n                    RETURN NULL;\n                END IF;\n                IF TG_OP <> 'INSERT' THEN\n                    INSERT INTO payments_paymentqueuetotal\n                        (state, allocation_status, currency, payments, amount, unallocated)\n                    VALUES (OLD.state, OLD.allocation_status, OLD.currency, -1, -OLD.amount, -OLD.unallocated);\n                END IF;\n                IF TG_OP <> 'DELETE' THEN\n                    INSERT INTO payments_paymentqueuetotal\n                        (state, allocation_status, currency, payments, amount, unallocated)\n                    VALUES (NEW.state, NEW.allocation_status, NEW.currency, 1, NEW.amount, NEW.unallocated);\n                END IF;\n                RETURN NULL;\n                ", hash='9611cc6ba32a8254e1cd67ca2297d1b36b3e1e49', operation='INSERT OR UPDATE OR DELETE', pgid='pgtrigger_queue_totals_5b32e', table='payments_payment', when='AFTER')),
        ),
        migrations.RunSQL(
            sql="""
                INSERT INTO payments_paymentqueuetotal (state, allocation_status, currency, payments, amount, unallocated)
                SELECT state, allocation_status, currency, count(*), sum(amount), sum(unallocated)
                FROM payments_payment
                GROUP BY state, allocation_status, currency
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
