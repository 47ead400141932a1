"""Production logging (issue 8 item 5): a 500 writes one JSON line with its traceback to
stderr; a 403 writes a line without one. Real logging handlers, Django's real request path."""

import contextlib
import io
import json
import logging.config

import pytest
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

from billing.logging import production_logging
from config.urls import urlpatterns as site_urls


@login_not_required
def _boom(request):
    raise RuntimeError("the ledger caught fire")


@login_not_required
def _refused(request):
    raise PermissionDenied("This needs the Finance role.")


urlpatterns = [*site_urls, path("boom/", _boom), path("refused/", _refused)]  # the error pages link the site


@pytest.fixture
def production_log():
    """The production LOGGING, configured while sys.stderr is a buffer the test reads."""
    config = production_logging()
    root = logging.getLogger()
    saved = [
        (logger, logger.handlers[:], logger.level, logger.propagate)
        for logger in [root, *(logging.getLogger(name) for name in config["loggers"])]
    ]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        logging.config.dictConfig(config)  # its handler takes ext://sys.stderr: the buffer
    yield lambda: [json.loads(line) for line in stderr.getvalue().splitlines()]
    for logger, handlers, level, propagate in saved:  # as the test settings had them
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.urls(__name__)
def test_an_exception_in_a_view_writes_one_json_line_with_the_traceback(production_log, db):
    response = Client(raise_request_exception=False).get("/boom/?x=1")
    assert response.status_code == 500
    (line,) = production_log()
    assert line["level"] == "ERROR"
    assert line["logger"] == "django.request"
    assert line["message"] == "Internal Server Error: /boom/"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/boom/", 500)
    assert "Traceback (most recent call last)" in line["exc_info"]
    assert "RuntimeError: the ledger caught fire" in line["exc_info"]
    assert "in _boom" in line["exc_info"]
    assert line["time"].endswith("+00:00")


@pytest.mark.urls(__name__)
def test_a_403_writes_a_warning_without_a_traceback(production_log, db):
    response = Client().get("/refused/")
    assert response.status_code == 403
    (line,) = production_log()
    assert (line["level"], line["logger"], line["status"]) == ("WARNING", "django.request", 403)
    assert "exc_info" not in line
    assert line["exception"] == "PermissionDenied"
    assert "Traceback" not in json.dumps(line)


def test_gunicorn_access_lines_are_json_with_the_request_as_fields():
    """config/gunicorn.conf.py logs each request through JsonFormatter with gunicorn's atoms."""
    from billing.logging import JsonFormatter

    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(m)s %(U)s %(s)s %(M)sms", None, None)
    record.args = {"m": "GET", "U": "/invoices/", "s": "200", "M": "37", "h": "10.0.0.7"}  # as gunicorn passes them
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /invoices/ 200 37ms"
    assert (line["method"], line["path"], line["status"], line["duration_ms"], line["remote"]) == (
        "GET",
        "/invoices/",
        200,
        37,
        "10.0.0.7",
    )
