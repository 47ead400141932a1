"""The entry journal's table (DESIGN.md section 8); 0002 fills it, then indexes and guards it."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('billing', '0007_collectionnote_moves_to_dunning'),
        ('invoices', '0008_void_owes_nothing'),
        ('payments', '0007_bankentry_moves_to_intake'),
    ]

    operations = [
        migrations.CreateModel(
            name='Entry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('invoice', 'Invoice issued'), ('credit_note', 'Credit note'), ('void', 'Invoice voided'), ('payment', 'Payment received'), ('refund', 'Refund'), ('chargeback', 'Chargeback'), ('payment_canceled', 'Payment canceled')], max_length=20)),
                ('currency', models.CharField(choices=[('AUD', 'AUD'), ('CAD', 'CAD'), ('CHF', 'CHF'), ('CZK', 'CZK'), ('DKK', 'DKK'), ('EUR', 'EUR'), ('GBP', 'GBP'), ('JPY', 'JPY'), ('NOK', 'NOK'), ('PLN', 'PLN'), ('SEK', 'SEK'), ('USD', 'USD')], max_length=3)),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14)),
                ('effective_date', models.DateField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('account', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='billing.account')),
                ('chargeback', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='payments.chargeback')),
                ('credit_note', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='invoices.creditnote')),
                ('customer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='billing.customer')),
                ('invoice', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='invoices.invoice')),
                ('payment', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='payments.payment')),
                ('refund', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='payments.refund')),
            ],
            options={
                'verbose_name_plural': 'entries',
                'ordering': ['id'],
                'constraints': [
                    models.CheckConstraint(condition=models.Q(models.Q(('kind', 'invoice'), ('invoice__isnull', False), ('chargeback__isnull', True), ('credit_note__isnull', True), ('payment__isnull', True), ('refund__isnull', True), ('amount__gte', 0)), models.Q(('kind', 'credit_note'), ('credit_note__isnull', False), ('chargeback__isnull', True), ('invoice__isnull', True), ('payment__isnull', True), ('refund__isnull', True), ('amount__lt', 0)), models.Q(('kind', 'void'), ('invoice__isnull', False), ('chargeback__isnull', True), ('credit_note__isnull', True), ('payment__isnull', True), ('refund__isnull', True), ('amount__lte', 0)), models.Q(('kind', 'payment'), ('payment__isnull', False), ('chargeback__isnull', True), ('credit_note__isnull', True), ('invoice__isnull', True), ('refund__isnull', True), ('amount__lt', 0)), models.Q(('kind', 'refund'), ('refund__isnull', False), ('chargeback__isnull', True), ('credit_note__isnull', True), ('invoice__isnull', True), ('payment__isnull', True), ('amount__gt', 0)), models.Q(('kind', 'chargeback'), ('chargeback__isnull', False), ('credit_note__isnull', True), ('invoice__isnull', True), ('payment__isnull', True), ('refund__isnull', True), ('amount__gt', 0)), models.Q(('kind', 'payment_canceled'), ('payment__isnull', False), ('chargeback__isnull', True), ('credit_note__isnull', True), ('invoice__isnull', True), ('refund__isnull', True), ('amount__gte', 0)), _connector='OR'), name='entry_source_and_sign'),
                    models.CheckConstraint(condition=models.Q(models.Q(('account__isnull', False), ('kind__in', ('invoice', 'credit_note', 'void'))), models.Q(models.Q(('kind__in', ('invoice', 'credit_note', 'void')), _negated=True), ('account__isnull', True)), _connector='OR'), name='entry_account_for_invoice_side'),
                    models.CheckConstraint(condition=models.Q(('currency__regex', '^[A-Z]{3}$')), name='entry_currency_code'),
                ],
            },
        ),
    ]
