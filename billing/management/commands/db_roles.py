"""The production database roles: an owner that runs migrations, an application role that owns nothing.

    manage.py db_roles --owner settle_owner --app settle_app            # print the SQL
    manage.py db_roles --owner settle_owner --app settle_app --execute  # run it (as a superuser)
    manage.py db_roles --owner settle_owner --app settle_app --grants-only --execute

The roles part (CREATE ROLE if missing, schema and tables to the owner) needs a superuser;
the grants part may run as the owner, and must run again after every `migrate` so that a
new ledger table loses UPDATE/DELETE at once (billing/guards.py, README "Database roles").
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from billing.guards import ROLE_NAME, grants_sql, roles_sql


class Command(BaseCommand):
    help = "Print (or --execute) the SQL creating the owner and application database roles and their grants."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="settle_owner", help="role that owns the schema and runs migrations")
        parser.add_argument("--app", default="settle_app", help="role the application connects as")
        parser.add_argument("--grants-only", action="store_true", help="only the application role's grants")
        parser.add_argument("--execute", action="store_true", help="run the SQL on the default database")

    def handle(self, *args, owner: str, app: str, grants_only: bool, execute: bool, **options):
        for name in (owner, app):
            if not re.match(ROLE_NAME, name):
                raise CommandError(f"{name!r} is not a plain role name (lower-case letters, digits, underscores).")
        if owner == app:
            raise CommandError("The application role must not be the owner: it would own the ledger tables.")
        database = settings.DATABASES["default"]["NAME"]
        sql = ("" if grants_only else roles_sql(owner, app, database)) + grants_sql(owner, app)
        if not execute:
            self.stdout.write(sql)
            return
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
        self.stdout.write(f"Roles ready: {owner} owns the schema; {app} owns nothing and cannot rewrite the ledger.")
