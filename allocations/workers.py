"""The worker processes of `manage.py auto_allocate --workers N` (spawned: nothing of the parent's
state). This module imports no model at the top, so a worker can load it before Django is set up."""

from __future__ import annotations

import os
from typing import Any


def start(database: dict[str, Any]) -> None:
    """Set Django up in the worker, on the parent's database (a test's database too)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connections

    connections["default"].settings_dict.update(database)


def allocate_part(payment_ids: list[int]) -> tuple[int, int, int, str]:
    """One worker's list, as the command allocates in one process: (payments allocated, splits,
    failures, its report)."""
    from io import StringIO

    from allocations.management.commands.auto_allocate import Command

    out = StringIO()
    command = Command(stdout=out)
    command.allocated_payments = command.splits = command.failures = 0
    command.allocate(payment_ids)
    return command.allocated_payments, command.splits, command.failures, out.getvalue()
