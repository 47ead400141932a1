"""Structured log lines for production: one JSON object per line on stderr.

A 500 must leave a trace an operator can find (issue 8 item 5): Django logs every
request error on `django.request` with its traceback, but its default handlers print
only with DEBUG on or mail ADMINS, so in production nothing was written. Here every
record is one line a log collector can parse; a traceback goes with ERROR and above
only, so a 403 (PermissionDenied, logged as a WARNING with the exception attached) is
one line without a traceback.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "method"):
            line["method"] = request.method
            line["path"] = request.path
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            # gunicorn's access record carries its atoms: the request line as fields of their own
            atoms = record.args
            line.update(method=atoms["m"], path=atoms["U"], remote=atoms["h"])
            line.update(
                {
                    key: int(str(atoms[atom]))
                    for key, atom in (("status", "s"), ("duration_ms", "M"))
                    if str(atoms[atom]).isdigit()
                }
            )
        status = getattr(record, "status_code", None)
        if status is not None:
            line["status"] = status
        if record.exc_info and record.levelno >= logging.ERROR:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__  # which refusal, without the traceback
        return json.dumps(line, default=str)


def production_logging(level: str = "INFO") -> dict:
    """The LOGGING setting of production: everything worth a line, as JSON, on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "billing.logging.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            # Request errors (5xx with traceback) and refusals (4xx, one line each).
            "django.request": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "django.security": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "django": {"handlers": ["stderr"], "level": level, "propagate": False},
            "billing": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
