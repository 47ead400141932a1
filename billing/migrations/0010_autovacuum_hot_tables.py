"""Autovacuum the tables every allocation rewrites after 2% of their rows changed, not 20%.

Every allocation, refund or penalty rewrites an invoice, a payment, an account and maybe an
order (their cached figures), so a night's import of 100,000 credits leaves ~135,000 dead
invoice versions. PostgreSQL's default waits for 20% of the table (half a million rows at a
million invoices), so the morning's reads of a customer's open invoices walk the dead versions
their indexes still point to: after such an import the API's open-invoice read took 2.1 ms
against 1.0 ms once vacuumed (bench/RESULTS.md, stop 27). At 2% autovacuum runs during the
night's work, as it would on a small table. Analyze at 1% keeps the planner's counts of the
payment and allocation statuses (the queues) near the truth.
"""

from django.db import migrations

HOT_TABLES = ("invoices_invoice", "payments_payment", "billing_account", "orders_order")
SETTINGS = "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.01"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_settle_cache"),
        ("invoices", "0014_plan_links_guard"),
        ("payments", "0005_db_guards"),
        ("orders", "0004_order_line_movements"),
    ]

    operations = [
        migrations.RunSQL(
            [f"ALTER TABLE {table} SET ({SETTINGS})" for table in HOT_TABLES],
            [
                f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
                for table in HOT_TABLES
            ],
        )
    ]
