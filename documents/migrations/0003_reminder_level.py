"""A reminder's dunning level, and the index run_dunning reads an account's current cycle by."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0002_sequences_guards"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="level",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="document",
            index=models.Index(
                condition=models.Q(("kind", "reminder")),
                fields=["account", "as_of", "level"],
                name="document_reminder_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("account__isnull", False), ("kind", "reminder"), ("level__isnull", False)),
                    models.Q(("kind", "reminder"), _negated=True),
                    _connector="OR",
                ),
                name="document_reminder_has_level",
            ),
        ),
    ]
