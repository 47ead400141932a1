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
