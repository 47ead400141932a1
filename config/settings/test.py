"""Test settings: the same PostgreSQL (embedded unless DATABASE_URL is set), fast hashing."""

import fcntl as _fcntl
import os as _os
import time as _time

from .base import *  # noqa: F403


def _test_database_slot(base: str, slots: int) -> str:
    """The name of a test database no other running session uses: `make mutate` runs mutants in
    parallel (MUTATE_CHILDREN), each in its own pytest session, and sessions sharing one test
    database count each other's committed rows (tests/MUTATION.md). With SETTLE_TEST_DB_SLOTS=N,
    a session takes the first of N databases whose lock no live process holds, and holds it until
    it exits (the kernel drops a dead process's lock, so a killed session frees its slot; its rows
    are flushed by the next session there, tests/conftest.py)."""
    folder = VAR_DIR / "test-db-slots"  # noqa: F405
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(slots):
            handle = open(folder / f"{base}-{slot}.lock", "w")  # held open for the process's life
            try:
                _fcntl.flock(handle, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _HELD_SLOT.append(handle)
            return f"{base}_{slot}"
        _time.sleep(0.2)


_HELD_SLOT: list = []
if int(_os.environ.get("SETTLE_TEST_DB_SLOTS") or 0) > 1:
    DATABASES["default"]["TEST"]["NAME"] = _test_database_slot(  # noqa: F405
        DATABASES["default"]["TEST"]["NAME"],
        int(_os.environ["SETTLE_TEST_DB_SLOTS"]),  # noqa: F405
    )

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Export deliveries of tests that do not set their own profile go to a fresh temporary folder,
# removed when the test process ends, never into var/outbox.
import atexit as _atexit
import shutil as _shutil
import tempfile as _tempfile

_OUTBOX = _tempfile.mkdtemp(prefix="settle-test-outbox-")
_atexit.register(_shutil.rmtree, _OUTBOX, True)
SETTLE_EXPORT_PROFILES = {
    "agency": {"kinds": ["invoice", "credit_note", "void"], "format": "csv", "deliver_to": _OUTBOX},
}

# The cache stays in memory here: every test clears it (tests/conftest.py), also the tests
# without a database. The shared database cache is tested with real servers (tests/scaling).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The streaming standby the replica tests start (tests/scaling/standby.py) under var/replica,
# on its own socket there: the alias exists always, but reads go to it only where a test turns
# SETTLE_READ_REPLICA on (or DATABASE_REPLICA_URL names another replica).
REPLICA_TEST_PORT = 5433
if "replica" not in DATABASES:
    DATABASES["replica"] = {
        **DATABASES["default"],
        "HOST": str(VAR_DIR / "replica"),
        "PORT": str(REPLICA_TEST_PORT),
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"connect_timeout": 2},
        "TEST": {"MIRROR": "default"},
    }
