"""One test database per running pytest session when sessions run side by side.

`make mutate` runs mutants in parallel (MUTATE_CHILDREN): mutmut forks each mutant's pytest
session from one parent that has already run a session itself, so the settings module is not read
again and cannot choose. Sessions sharing a test database count each other's committed rows
(tests/MUTATION.md, second run), so with SETTLE_TEST_DB_SLOTS=N each session takes, when its
databases are set up (tests/conftest.py), the first of N databases whose lock no live session
holds, and gives it back when it ends. The kernel drops a dead process's lock, so a session killed
at its time limit frees its slot; the rows it left are flushed by the next session there."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def take_slot(folder: Path, name: str, slots: int) -> tuple[int, IO]:
    """The first free slot of `name` and the open lock file that holds it (close it to give it back)."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(slots):
            handle = open(folder / f"{name}-{slot}.lock", "w")  # held until given back
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return slot, handle
        time.sleep(0.2)


@contextmanager
def own_test_database(databases: dict, folder: Path, slots: int) -> Iterator[str | None]:
    """While inside, the default database's test name carries a free slot's number (with slots > 1)."""
    if slots <= 1:
        yield None
        return
    test = databases["default"].setdefault("TEST", {})
    base = test["NAME"]
    slot, handle = take_slot(folder, base, slots)
    test["NAME"] = f"{base}_{slot}"
    try:
        yield test["NAME"]
    finally:
        test["NAME"] = base
        handle.close()
