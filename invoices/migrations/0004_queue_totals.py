"""Queue totals kept by a trigger (bench, issue 5): a list's count and sums without a scan.

The trigger and the starting rows are created in one transaction, which holds the
trigger's lock on the table, so no write falls between them.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0003_open_due_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceQueueTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('draft', 'Draft'), ('open', 'Open'), ('void', 'Void')], max_length=16)),
                ('payment_status', models.CharField(choices=[('unpaid', 'Unpaid'), ('partially_paid', 'Partially paid'), ('paid', 'Paid'), ('overpaid', 'Overpaid')], max_length=16)),
                ('currency', models.CharField(choices=[('AUD', 'AUD'), ('CAD', 'CAD'), ('CHF', 'CHF'), ('CZK', 'CZK'), ('DKK', 'DKK'), ('EUR', 'EUR'), ('GBP', 'GBP'), ('JPY', 'JPY'), ('NOK', 'NOK'), ('PLN', 'PLN'), ('SEK', 'SEK'), ('USD', 'USD')], max_length=3)),
                ('due_date', models.DateField()),
                ('invoices', models.BigIntegerField()),
                ('balance_due', models.DecimalField(decimal_places=2, max_digits=18)),
                ('total', models.DecimalField(decimal_places=2, max_digits=18)),
            ],
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='invoice',
            trigger=pgtrigger.compiler.Trigger(name='queue_totals', sql=pgtrigger.compiler.UpsertTriggerSql(func="\n                IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.payment_status = NEW.payment_status\n                   AND OLD.currency = NEW.currency AND OLD.due_date = NEW.due_date THEN\n                    IF OLD.balance_due <> NEW.balance_due OR OLD.total <> NEW.total THEN\n                        INSERT INTO invoices_invoicequeuetotal\n                            (state, payment_status, currency, due_date, invoices, balance_due, total)\n                        VALUES (NEW.state, NEW.payment_status, NEW.currency, NEW.due_date, 0,\n                                NEW.balance_due - OLD.balance_due, NEW.total - OLD.total);\n                    END IF;\n                    RETURN NULL;\n                END IF;\n                IF TG_OP <> 'INSERT' THEN\n                    INSERT INTO invoices_invoicequeuetotal\n                        (state, payment_status, currency, due_date, invoices, balance_due, total)\n                    VALUES (OLD.state, OLD.payment_status, OLD.currency, OLD.due_date, -1,\n                            -OLD.balance_due, -OLD.total);\n                END IF;\n                IF TG_OP <> 'DELETE' THEN\n                    INSERT INTO invoices_invoicequeuetotal\n                        (state, payment_status, currency, due_date, invoices, balance_due, total)\n                    VALUES (NEW.state, NEW.payment_status, NEW.currency, NEW.due_date, 1,\n                            NEW.balance_due, NEW.total);\n                END IF;\n                RETURN NULL;\n                ", hash='c776d9d752534e57e2267c9b3d93e78a4b11964f', operation='INSERT OR UPDATE OR DELETE', pgid='pgtrigger_queue_totals_79f26', table='invoices_invoice', when='AFTER')),
        ),
        migrations.RunSQL(
            sql="""
                INSERT INTO invoices_invoicequeuetotal (state, payment_status, currency, due_date, invoices, balance_due, total)
                SELECT state, payment_status, currency, due_date, count(*), sum(balance_due), sum(total)
                FROM invoices_invoice
                GROUP BY state, payment_status, currency, due_date
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
