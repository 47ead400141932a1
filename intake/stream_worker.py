"""A stream of the bank import (intake.streams): a process of its own that imports the chunks it is given.

Started with multiprocessing's "spawn", so it imports nothing of the parent's state: it sets
Django up itself (this module imports no model at the top), connects to the parent's
database, and imports each chunk with intake.runner.import_batch, the very function a
one-stream import calls. It dies with its parent (Linux: PR_SET_PDEATHSIG), so a killed
import leaves no stream behind; the chunk it was in is rolled back with its connection.
"""

from __future__ import annotations

import copy
import signal
import traceback
from typing import Any

from billing.processes import actor, set_up


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the parent stops its streams when it ends normally
        pass


def _bare(instance: Any) -> Any:
    """A copy of a saved row without the related rows it cached (a payment's customer...)."""
    if instance is None:
        return None
    clone = copy.copy(instance)
    clone._state = copy.copy(instance._state)
    clone._state.fields_cache = {}
    return clone


def serve(tasks: Any, results: Any, database: dict[str, Any], by_id: int | None, source_name: str) -> None:
    """Import the chunks from `tasks` until None comes; put (number, results, stop, error) for each."""
    _die_with_parent()
    set_up(database)
    from django.db import connections

    from intake.runner import import_batch, where_stopped

    by = actor(by_id)
    try:
        while (task := tasks.get()) is not None:
            number, entries = task
            try:
                found, stop = import_batch(entries, source_name=source_name, by=by)
                for result in found:  # what crosses the pipe: the rows, not the objects they cached
                    result.payment, result.bank_entry = _bare(result.payment), _bare(result.bank_entry)
                results.put((number, found, where_stopped(stop) if stop is not None else None, None))
            except BaseException:  # a bug: the parent raises it, the import fails
                results.put((number, [], None, traceback.format_exc()))
    finally:
        connections.close_all()
