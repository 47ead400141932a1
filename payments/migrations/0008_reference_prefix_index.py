"""Payment reference prefix search in any case (issue 11's global search, and the payment
list's reference filter): reference__istartswith is UPPER(reference) LIKE 'X%', which the
unique index on reference cannot serve; without this index it read every payment."""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0007_collectionnote_moves_to_dunning'),
        ('payments', '0007_bankentry_moves_to_intake'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(django.db.models.functions.text.Upper('reference'), name='payment_reference_upper_idx'),
        ),
    ]
