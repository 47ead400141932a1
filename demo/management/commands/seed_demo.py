"""manage.py seed_demo: fill an empty database with a believable demo ledger and demo users."""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count

from billing.models import Account
from demo import books as demo
from invoices.models import Invoice
from orders.models import Order
from payments.models import Payment
from plans.models import Plan
from registrations.models import Registration

DEMO_USERS = [
    # username, password, group, superuser
    ("admin", "admin", None, True),
    ("finance", "finance", "finance", False),
    ("support", "support", "support", False),
]


class Command(BaseCommand):
    help = "Create demo providers, customers, invoices and payments (through the services) and demo users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any invoice exists.")
        parser.add_argument("--customers", type=int, default=300, help="How many customers (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--workers",
            type=int,
            # A worker and its database backend take turns, so together they keep about one CPU busy.
            default=min(8, os.cpu_count() or 1),
            help="Worker processes (default: one per CPU, at most 8). With 1, all in one transaction.",
        )

    def handle(self, *args, if_empty: bool, customers: int, seed: int, workers: int, **options) -> None:
        if not settings.SETTLE_DEMO_ALLOWED:
            # Demo users have their names as passwords (admin/admin): never in real books.
            raise CommandError(
                "seed_demo refuses to run here: SETTLE_DEMO_ALLOWED is off (always in production, "
                "DJANGO_ENV=production). It creates demo books and the users admin/admin, "
                "finance/finance and support/support."
            )
        if if_empty and Invoice.objects.exists():
            self.stdout.write("The database already has invoices; nothing seeded.")
            return
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        if workers > 1 and transaction.get_connection().in_atomic_block:
            # Worker processes cannot see rows of a transaction still open here (e.g. in a test).
            workers = 1
        started = time.monotonic()
        self._users()
        self.stdout.write(f"Seeding {customers} customers (seed {seed}, {workers} worker(s))...")
        if workers <= 1:
            with transaction.atomic():
                counts = demo.build(customers=customers, seed=seed, workers=1, write=self.stdout.write)
        else:
            try:
                counts = demo.build(customers=customers, seed=seed, workers=workers, write=self.stdout.write)
            except Exception as error:
                raise CommandError(
                    f"Seeding failed ({error}); the database is partly seeded: run 'manage.py flush' and try again."
                ) from error
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {counts.invoices} invoices and {counts.payments} payments in {elapsed:.1f} s.")
        )
        self._summary(counts)

    def _users(self) -> None:
        User = get_user_model()
        for username, password, group_name, superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@settle.test", "is_staff": superuser, "is_superuser": superuser},
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"User {username} / {password} created.")
            if group_name:
                # Another migration creates these groups with their permissions; get_or_create works either way.
                group, _ = Group.objects.get_or_create(name=group_name)
                user.groups.add(group)

    def _summary(self, counts) -> None:
        def table(title: str, rows) -> None:
            self.stdout.write(title)
            for row in rows:
                *keys, number = row
                self.stdout.write(f"  {' / '.join(keys):<50} {number:>6}")

        table(
            "Invoices by state and payment status:",
            Invoice.objects.values_list("state", "payment_status")
            .annotate(n=Count("id"))
            .order_by("state", "payment_status"),
        )
        table(
            "Payments by state and allocation status:",
            Payment.objects.values_list("state", "allocation_status")
            .annotate(n=Count("id"))
            .order_by("state", "allocation_status"),
        )
        table(
            "Payments by currency:",
            Payment.objects.values_list("currency").annotate(n=Count("id")).order_by("currency"),
        )
        table(
            "Orders by state, billing status and payment status:",
            Order.objects.values_list("state", "billing_status", "payment_status")
            .annotate(n=Count("id"))
            .order_by("state", "billing_status", "payment_status"),
        )
        table(
            "Plans by state:",
            Plan.objects.values_list("state").annotate(n=Count("id")).order_by("state"),
        )
        table(
            "Registrations by status:",
            Registration.objects.values_list("status").annotate(n=Count("id")).order_by("status"),
        )
        table("Events:", sorted(counts.events.items()))
        self.stdout.write(f"Accounts owing: {Account.objects.filter(balance_due__gt=0).count()}")
