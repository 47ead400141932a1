"""The work of `manage.py auto_allocate --workers N`'s processes (spawned, set up by
billing.processes.set_up). This module imports no model at the top, so a worker can load it
before Django is set up."""

from __future__ import annotations


def allocate_part(payment_ids: list[int]) -> tuple[int, int, int, str]:
    """One worker's list, as the command allocates in one process: (payments allocated, splits,
    failures, its report)."""
    from io import StringIO

    from allocations.management.commands.auto_allocate import Command

    out = StringIO()
    command = Command(stdout=out)
    command.allocate(payment_ids)
    return command.allocated_payments, command.splits, command.failures, out.getvalue()
