"""A corrected payment names its replacement (payments.services.correct_payment, DESIGN.md section 10):
one-to-one, so a payment is replaced once, and only a canceled payment may name one."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0008_customer_reference_any_case'),
        ('payments', '0008_reference_prefix_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='payment',
            name='corrected_by',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='corrects', to='payments.payment'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(('corrected_by__isnull', True), models.Q(('state', 'canceled'), models.Q(('corrected_by', models.F('id')), _negated=True)), _connector='OR'), name='payment_corrected_is_canceled'),
        ),
    ]
