from django.db import migrations

from billing import guards


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0013_penalty_revision"),
    ]

    operations = [
        # An issued invoice's plan, place in the schedule, installment and penalty period never change.
        migrations.RunSQL(guards.PLAN_LINKS_GUARD_SQL, guards.DROP_PLAN_LINKS_GUARD_SQL),
    ]
