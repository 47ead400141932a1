"""Payment reference prefix search in any case (issue 11's global search, and the payment
list's reference filter): reference__istartswith is UPPER(reference) LIKE 'X%', which the
unique index on reference cannot serve; without this index it read every payment when
nothing matched. text_pattern_ops: under the C.UTF-8 collation a default btree does not
serve LIKE."""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0007_collectionnote_moves_to_dunning'),
        ('payments', '0007_bankentry_moves_to_intake'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # Django writes an OpClass expression index as ((UPPER("reference") text_pattern_ops)),
    # which PostgreSQL refuses; the state keeps the model's index, the SQL is written out.
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "CREATE INDEX payment_reference_upper_idx ON payments_payment"
                    " ((upper(reference::text)) text_pattern_ops)",
                    reverse_sql="DROP INDEX IF EXISTS payment_reference_upper_idx",
                ),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Upper("reference"), name="text_pattern_ops"
                        ),
                        name="payment_reference_upper_idx",
                    ),
                ),
            ],
        ),
    ]
