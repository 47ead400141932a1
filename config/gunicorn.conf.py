"""gunicorn settings for Settle's app servers (`make serve`; docs/scaling.md).

Workers: WEB_CONCURRENCY, default 2 x cores + 1 (gunicorn's rule for sync workers: one
request at a time each, the other half waiting on PostgreSQL). Each worker holds one database
connection (CONN_MAX_AGE), so servers x workers must stay well under PostgreSQL's
max_connections (100 by default) with room for the task-queue workers and maintenance; past
that, put PgBouncer in front of PostgreSQL. Sync workers expect a buffering load balancer or
proxy in front (nginx, HAProxy, a cloud load balancer) that absorbs slow clients.

Logs are JSON lines on stderr (billing.logging.JsonFormatter), the access log included.
"""

import multiprocessing
import os

bind = os.environ.get("SETTLE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * multiprocessing.cpu_count() + 1)))
worker_class = "sync"
wsgi_app = "config.wsgi:application"
# A request may take this long (the largest CSV export streams for a while); then the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30  # SIGTERM (a deploy): finish the requests in hand, then stop
keepalive = 5  # above most load balancers' idle reuse
# Replace a worker after this many requests (0: never): bounds a slow leak's growth.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# The access log is on through logconfig_dict; one JSON line per request with these fields.
access_log_format = "%(m)s %(U)s %(s)s %(M)sms"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "billing.logging.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
# gunicorn's control socket ($HOME/.gunicorn/gunicorn.ctl) would be shared by every server of
# this user on the machine; servers are managed by signals and the process supervisor instead.
control_socket_disable = True
