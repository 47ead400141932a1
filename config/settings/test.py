"""Test settings: the same PostgreSQL (embedded unless DATABASE_URL is set), fast hashing."""

from .base import *  # noqa: F403

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
