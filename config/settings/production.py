"""Production settings: every secret from the environment; refuses to start without them.

SETTLE_LOCAL_HTTP=1 (`make serve`) runs these settings on this machine over plain http: the
embedded database and the checkout's own secret key are allowed, cookies are not marked
secure and nothing redirects to https. It refuses any host but 127.0.0.1 and localhost.
"""

import os

from django.core.exceptions import ImproperlyConfigured

LOCAL_HTTP = os.environ.get("SETTLE_LOCAL_HTTP") == "1"
if not os.environ.get("DATABASE_URL") and not LOCAL_HTTP:
    raise ImproperlyConfigured("DATABASE_URL must be set in production (the embedded server is for development).")
if not os.environ.get("DJANGO_SECRET_KEY") and not LOCAL_HTTP:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production.")

from .base import *  # noqa: E402,F403

DEBUG = False
if not LOCAL_HTTP:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if LOCAL_HTTP else "").split(",") if h
]
if LOCAL_HTTP and not set(ALLOWED_HOSTS) <= {"127.0.0.1", "localhost"}:
    raise ImproperlyConfigured(
        "SETTLE_LOCAL_HTTP=1 serves plain http on this machine only: hosts 127.0.0.1, localhost."
    )
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1" and not LOCAL_HTTP
# The load balancer's probes ask over plain http on the private address.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not LOCAL_HTTP
CSRF_COOKIE_SECURE = not LOCAL_HTTP
SECURE_HSTS_SECONDS = 0 if LOCAL_HTTP else int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SETTLE_API_REQUIRE_HTTPS = os.environ.get("SETTLE_API_REQUIRE_HTTPS", "1") == "1"
SETTLE_WEBHOOK_ALLOW_HTTP = False
SETTLE_WEBHOOK_ALLOW_PRIVATE = os.environ.get("SETTLE_WEBHOOK_ALLOW_PRIVATE", "0") == "1"
SETTLE_FLUSH_AS_OWNER = False  # a flush never wipes a production ledger (billing/guards.py)

# Every request error with its traceback, as one JSON line on stderr (billing/logging.py).
from billing.logging import production_logging

LOGGING = production_logging(os.environ.get("DJANGO_LOG_LEVEL", "INFO"))

# --- Static files: collected (`manage.py collectstatic`) with hashed, compressed copies --------
# WhiteNoise serves them from every app server with a year's caching: a changed file gets a
# new name, so no server ever serves a stale one.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Demo data and accounts: never in production ---------------------------------------------
SETTLE_DEMO_ALLOWED = False

# --- Email: statements and reminders go out through the SMTP server the environment names -------
# EMAIL_BACKEND may name another backend (its options are the SMTP ones below).
MAILERS = {
    "default": {
        "BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"),
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "587")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": os.environ.get("EMAIL_USE_TLS", "1") == "1",
            "timeout": int(os.environ.get("EMAIL_TIMEOUT", "30")),
        },
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@localhost")
