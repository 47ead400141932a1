"""Processes started with multiprocessing's "spawn" that work on this process's database: the bank
import's streams (intake.streams) and the workers of auto_allocate (allocations.workers), the
penalty assessment (plans.workers) and the dunning run (documents.workers).

A spawned process inherits nothing of its parent's state, so it is given the parent's database
settings (a test's database too) and sets Django up itself. This module imports no model, so a
new process can load it before Django is set up.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

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


@contextlib.contextmanager
def pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """`workers` spawned processes, each set up on this process's database (set_up), without the
    parent's main module (without_main)."""
    context = multiprocessing.get_context("spawn")
    with (
        without_main(),
        ProcessPoolExecutor(
            workers, mp_context=context, initializer=set_up, initargs=(database_settings(),)
        ) as started,
    ):
        yield started


def worth_sharing(workers: int, *, parts: int, rows: int, at_least: int) -> bool:
    """Whether a nightly job shares its parts out among workers: more than one worker and one part,
    at least `at_least` rows, and not inside a transaction (other connections would not see it)."""
    from django.db import connection

    return workers > 1 and parts > 1 and rows >= at_least and not connection.in_atomic_block


def consecutive_runs(parts: Sequence[T], workers: int) -> list[Sequence[T]]:
    """The parts cut into at most `workers` runs of consecutive ones, as even as can be."""
    workers = min(workers, len(parts))
    return [parts[len(parts) * k // workers : len(parts) * (k + 1) // workers] for k in range(workers)]


def in_consecutive_runs(work: Callable[..., R], parts: Sequence[T], workers: int, *arguments: Any) -> Iterator[R]:
    """work(run, *arguments) for each run of consecutive parts (consecutive_runs), each in a
    spawned process of its own (pool); the results in the runs' order, as each is done."""
    runs = consecutive_runs(parts, workers)
    with pool(len(runs)) as started:
        yield from started.map(work, runs, *([argument] * len(runs) for argument in arguments))


def actor(by_id: int | None) -> Any:
    """In a spawned process: the acting user the parent passed by id (None: the system)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=by_id) if by_id is not None else None
