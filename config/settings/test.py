"""Test settings: the same PostgreSQL (embedded unless DATABASE_URL is set), fast hashing."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Export deliveries of tests that do not set their own profile go to a fresh temporary folder,
# never into var/outbox.
import tempfile as _tempfile

SETTLE_EXPORT_PROFILES = {
    "agency": {
        "kinds": ["invoice", "credit_note", "void"],
        "format": "csv",
        "deliver_to": _tempfile.mkdtemp(prefix="settle-test-outbox-"),
    },
}
