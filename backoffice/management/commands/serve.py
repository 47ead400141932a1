"""manage.py serve: runserver (with static files) plus a background worker, and the sign-in line.

`make run` uses it. It starts `manage.py procrastinate worker` as a child process with the
same settings and environment (statement imports and the periodic jobs run there), says so,
and stops it when the server stops: Ctrl-C, SIGTERM, or an autoreload (the worker is started
in the process that serves, so a code change restarts it with the new code). `--no-worker`
serves alone, e.g. beside a worker started by hand. A worker killed while importing is safe:
the next one resumes the import (intake.background).

It prints the sign-in line from on_bind, once the socket is listening, in each autoreloaded
process, so it is the last thing on the screen, not lost above the banner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand
from django.db import DatabaseError, connection

from backoffice.sign_in import demo_sign_ins

#: How long a worker may take to finish its job after SIGTERM before it is killed; a killed
#: import is resumed by the next worker, so the server never waits long to stop.
WORKER_STOP_SECONDS = 5


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM if the server process dies without stopping it (SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _raise_system_exit(signum, frame):
    raise SystemExit(128 + signum)


class Command(RunserverCommand):
    help = "Start the development server and a background worker; print the demo sign-ins after its banner."

    # Set by RunserverCommand.handle before the server binds; django-stubs does not declare them.
    addr: str
    _raw_ipv6: bool

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--no-worker",
            action="store_false",
            dest="use_worker",
            help="Do not start a background worker (statement imports then wait for one).",
        )

    def run(self, **options) -> None:
        # With the autoreloader, the outer process only restarts the inner one: the inner one
        # (RUN_MAIN) serves, so it owns the worker.
        serving_here = not options["use_reloader"] or os.environ.get("RUN_MAIN") == "true"
        worker = self.start_worker() if options.get("use_worker", True) and serving_here else None
        previous = signal.signal(signal.SIGTERM, _raise_system_exit) if worker else None
        try:
            super().run(**options)
        finally:
            if worker is not None:
                signal.signal(signal.SIGTERM, previous)
                self.stop_worker(worker)

    def start_worker(self) -> subprocess.Popen:
        manage = Path(settings.BASE_DIR) / "manage.py"
        worker = subprocess.Popen(
            # Two jobs at once: a long import does not hold up the periodic jobs.
            [sys.executable, str(manage), "procrastinate", "worker", "--concurrency", "2"],
            # Its own session: Ctrl-C reaches the server, which stops the worker once, in order.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        self.stdout.write(
            f"Started a background worker (pid {worker.pid}) for statement imports and periodic jobs; "
            "it stops with the server."
        )
        return worker

    def stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.stdout.write(f"Stopped the background worker (pid {worker.pid}).")

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        host = f"[{self.addr}]" if self._raw_ipv6 else self.addr
        try:
            accounts = demo_sign_ins()
        except DatabaseError:  # not migrated yet, or the database is down: the server still runs
            accounts = []
        finally:
            connection.close()  # this thread now serves forever; keep no idle connection open
        line = f"Settle is at {self.protocol}://{host}:{server_port}/"
        if accounts:
            line += "  Sign in as " + ", ".join(f"{username} / {password}" for username, password in accounts) + "."
        self.stdout.write(self.style.SUCCESS(line))
