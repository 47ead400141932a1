"""The benchmark's own database: never the demo `settle` nor the tests' `test_settle`.

Django reads SETTLE_DB_NAME in config/settings/base.py, so it must be set before
django.setup(); the database is then dropped and created again on the same server
through a maintenance connection, and migrated.
"""

from __future__ import annotations

import os
import re

DEFAULT_NAME = "settle_bench"
FORBIDDEN = {"settle", "test_settle", "postgres", "template0", "template1"}


def configure(name: str) -> None:
    """Point Django at database `name` and set it up (starts the embedded server if needed)."""
    if name in FORBIDDEN or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"Refusing to use database {name!r} for the benchmark; pick e.g. settle_bench.")
    os.environ["SETTLE_DB_NAME"] = name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Measure what production runs: no per-query bookkeeping of DEBUG.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    import django

    django.setup()
    from django.conf import settings

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def _maintenance_connection():
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params["dbname"] = "postgres"
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(autocommit=True, **params)


def recreate() -> None:
    """Drop and create the benchmark database, then migrate it."""
    from django.core.management import call_command
    from django.db import connection

    name = connection.settings_dict["NAME"]
    connection.close()
    with _maintenance_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", interactive=False, verbosity=0)


def drop() -> None:
    from django.db import connections

    name = connections["default"].settings_dict["NAME"]
    connections.close_all()
    with _maintenance_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]
