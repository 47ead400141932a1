"""Processes started with multiprocessing's "spawn" that work on this process's database: the bank
import's streams (intake.streams) and auto_allocate's workers (allocations.workers).

A spawned process inherits nothing of its parent's state, so it is given the parent's database
settings (a test's database too) and sets Django up itself. This module imports no model, so a
new process can load it before Django is set up.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

DATABASE_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


def database_settings() -> dict[str, Any]:
    """What a spawned process needs to reach the database this one uses."""
    from django.db import connection

    return {key: connection.settings_dict[key] for key in DATABASE_KEYS}


def set_up(database: dict[str, Any]) -> None:
    """In the spawned process: set Django up, on the parent's database (database_settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connections

    connections["default"].settings_dict.update(database)


@contextlib.contextmanager
def without_main() -> Iterator[None]:
    """Start processes without "spawn" importing the parent's main module again in each: they need
    nothing of it (their work is named by module), and a script without an
    `if __name__ == "__main__":` guard would run again in every one."""
    main = sys.modules["__main__"]
    saved: dict[str, Any] = {name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)
