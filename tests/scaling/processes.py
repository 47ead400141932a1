"""Real app servers and workers for the scaling tests: gunicorn and Procrastinate, as deployed.

Each runs with the production settings (SETTLE_LOCAL_HTTP=1: plain http on 127.0.0.1) against
the test database, through a DATABASE_URL of its own, as a separate machine would: they share
the database and nothing else.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The test database, as a DATABASE_URL (the embedded server's socket directory as host)."""
    db = connection.settings_dict
    host = urllib.parse.quote(db["HOST"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    password = f":{urllib.parse.quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{host}{port}/{db['NAME']}"


def production_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SETTLE_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="production",
        SETTLE_LOCAL_HTTP="1",
        DATABASE_URL=database_url(),
        DJANGO_SECRET_KEY=extra.pop("DJANGO_SECRET_KEY", "scaling-tests-" + secrets.token_urlsafe(32)),
        SETTLE_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def collect_static(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=REPO, env=env, check=True, timeout=180
    )


@dataclass
class Process:
    popen: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def start(args: list[str], env: dict[str, str], log: Path) -> Process:
    popen = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    return Process(popen, log)


@dataclass
class AppServer(Process):
    url: str


def start_app_server(env: dict[str, str], log: Path, *, workers: int = 1) -> AppServer:
    port = free_port()
    env = {**env, "SETTLE_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
    process = start([str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py"], env, log)
    return AppServer(process.popen, process.log, f"http://127.0.0.1:{port}")


def wait_until_ready(server: AppServer, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            pytest.fail(f"app server {server.url} exited:\n{server.tail()}")
        try:
            with urllib.request.urlopen(server.url + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"app server {server.url} not ready in {seconds} s:\n{server.tail()}")


# --- A browser without a browser: cookies shared across servers, as behind one load balancer ------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str

    def hidden(self, name: str) -> str:
        found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', self.text) or re.search(
            rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', self.text
        )
        assert found, f"no {name} on the page:\n{self.text[:2000]}"
        return found.group(1)


class Browser:
    """Keeps cookies per host (127.0.0.1), so requests to either server carry the same session."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def _open(self, request: urllib.request.Request) -> Response:
        try:
            with self.opener.open(request, timeout=60) as response:
                return Response(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            return Response(error.code, dict(error.headers), error.read().decode(errors="replace"))

    def get(self, url: str) -> Response:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, data: dict[str, str]) -> Response:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(url, data=body, method="POST"))
