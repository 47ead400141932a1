"""The shared cache's table (settings.CACHES, Django's DatabaseCache): `migrate` creates it, so
every app server shares one cache without a separate `createcachetable` step in a deploy."""

from django.db import migrations

CREATE = """
CREATE TABLE IF NOT EXISTS "settle_cache" (
    "cache_key" varchar(255) NOT NULL PRIMARY KEY,
    "value" text NOT NULL,
    "expires" timestamp with time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS "settle_cache_expires" ON "settle_cache" ("expires");
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_customer_reference_any_case")]

    operations = [migrations.RunSQL(CREATE, 'DROP TABLE IF EXISTS "settle_cache";')]
