"""Test settings: the same PostgreSQL (embedded unless DATABASE_URL is set), fast hashing."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
