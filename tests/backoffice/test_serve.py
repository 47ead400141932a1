"""`manage.py serve` (what `make run` starts) runs a background worker beside the server and stops it with the server."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: only its parent (the server, gone) could reap it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.django_db(transaction=True)
def test_serve_starts_a_worker_and_sigterm_stops_both():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SECRET")}
    env.update(DJANGO_ENV="test", SETTLE_DB_NAME=connection.settings_dict["NAME"], PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "127.0.0.1:0", "--noreload", "--skip-checks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    worker_pid = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Started a background worker (pid " in line:
                worker_pid = int(line.split("(pid ")[1].split(")")[0])
            if "Settle is at" in line:
                break
        assert worker_pid and _alive(worker_pid), "\n".join(lines)
        time.sleep(1)  # the worker is up and connected
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if worker_pid and _alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
    assert f"Stopped the background worker (pid {worker_pid})." in rest
    assert not _alive(worker_pid)


def test_serve_without_a_worker_has_the_flag():
    from backoffice.management.commands.serve import Command

    parser = Command().create_parser("manage.py", "serve")
    assert parser.parse_args(["--no-worker"]).use_worker is False
    assert parser.parse_args([]).use_worker is True
