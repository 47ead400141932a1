"""The embedded PostgreSQL survives what developers do to it: two holders, kills, restarts.

Each case runs real processes against a throwaway data directory; none touches the
server the test suite itself uses.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from billing.embedded_db import memory_settings, to_change, wal_settings

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from pathlib import Path
from billing.embedded_db import database_settings
import psycopg
settings = database_settings(Path(sys.argv[1]))
with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"]) as conn:
    shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    max_wal_size = conn.execute("SHOW max_wal_size").fetchone()[0]
print("ready", shared_buffers, max_wal_size, flush=True)
time.sleep(int(sys.argv[2]))
"""


def start_holder(data_dir: Path, seconds: int, env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline()
    assert line.split()[:1] == ["ready"], proc.stderr.read()
    proc.shared_buffers, proc.max_wal_size = line.split()[1:3]  # type: ignore[attr-defined]
    return proc


def postmaster(data_dir: Path) -> psutil.Process | None:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
    return proc if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE else None


def wait_until(predicate, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def initialized_dir(tmp_path_factory):
    """initdb once (slow); each test gets a copy with owners and modes kept (cp -a)."""
    path = tmp_path_factory.mktemp("template") / "pgdata"
    # A small memory setting, whatever this machine's memory: each copy starts with 144MB.
    assert start_holder(path, 0, env={"SETTLE_EMBEDDED_SHARED_BUFFERS": "144MB"}).wait(60) == 0
    assert wait_until(lambda: postmaster(path) is None)
    return path


@pytest.fixture
def data_dir(initialized_dir, tmp_path):
    path = tmp_path / "pgdata"
    subprocess.run(["cp", "-a", str(initialized_dir), str(path)], check=True)
    yield path
    server = postmaster(path)
    if server is not None:  # never leave a server behind, whatever the test did
        server.terminate()
        server.wait(10)


def test_last_holder_stops_server_even_after_another_holder_was_killed(data_dir):
    a = start_holder(data_dir, 60)
    b = start_holder(data_dir, 1)
    server = postmaster(data_dir)
    assert server is not None
    assert sorted(json.loads((data_dir / ".handle_pids.json").read_text())) == sorted([a.pid, b.pid])

    os.kill(a.pid, signal.SIGKILL)  # a dies without cleaning up its pid
    a.wait()
    b.wait(30)  # b exits normally: it is now the last live holder and must stop the server
    assert wait_until(lambda: postmaster(data_dir) is None), "server left running with no live holder"


def test_restart_after_everything_was_killed(data_dir):
    a = start_holder(data_dir, 60)
    server = postmaster(data_dir)
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    server.kill()  # the postmaster too: a stale postmaster.pid is left behind
    server.wait(10)
    assert (data_dir / "postmaster.pid").exists()

    c = start_holder(data_dir, 0)  # starts again on the same data directory
    assert c.wait(30) == 0
    assert wait_until(lambda: postmaster(data_dir) is None)


def test_new_holder_adopts_orphaned_server_and_stops_it(data_dir):
    a = start_holder(data_dir, 60)
    orphan = postmaster(data_dir)
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    assert orphan.is_running()  # nobody holds it now

    c = start_holder(data_dir, 0)
    assert postmaster(data_dir) is None or postmaster(data_dir).pid == orphan.pid
    assert c.wait(30) == 0
    assert wait_until(lambda: postmaster(data_dir) is None), "adopted server was not stopped"


def test_the_server_is_given_its_memory_setting_from_its_next_start(data_dir):
    small = {"SETTLE_EMBEDDED_SHARED_BUFFERS": "160MB"}
    first = start_holder(data_dir, 0, env=small)
    assert first.wait(30) == 0
    assert first.shared_buffers == "144MB"  # as the template's holder set it: kept while running
    assert wait_until(lambda: postmaster(data_dir) is None)

    second = start_holder(data_dir, 0, env=small)
    assert second.wait(30) == 0
    assert second.shared_buffers == "160MB"
    assert "shared_buffers = '160MB'" in (data_dir / "postgresql.auto.conf").read_text()


@pytest.mark.parametrize(
    ("memory_gib", "expected"),
    [(0.25, "128MB"), (0.5, "128MB"), (0.75, "192MB"), (2, "512MB"), (16, "4096MB"), (16.01, "4096MB"), (64, "4096MB")],
)
def test_shared_buffers_is_a_quarter_of_the_memory_within_bounds(memory_gib, expected):
    assert memory_settings(int(memory_gib * 1024**3)) == {"shared_buffers": expected}


def test_a_shared_buffers_override_must_be_a_size():
    assert memory_settings(1024**3, "2GB") == {"shared_buffers": "2GB"}
    with pytest.raises(ValueError, match="must be a size such as 512MB or 2GB, not '2 GB; DROP'"):
        memory_settings(1024**3, "2 GB; DROP")


def test_the_server_is_given_room_for_its_write_ahead_log(data_dir):
    """max_wal_size and checkpoint_timeout are written beside shared_buffers; a server started
    with them runs with them (a reload applies them to a running one)."""
    wanted = wal_settings(shutil.disk_usage(data_dir).free)
    auto_conf = data_dir / "postgresql.auto.conf"
    auto_conf.write_text(
        "".join(
            line for line in auto_conf.read_text().splitlines(True) if "wal" not in line and "checkpoint" not in line
        )
    )
    first = start_holder(data_dir, 0)
    assert first.wait(30) == 0
    written = auto_conf.read_text()
    assert f"max_wal_size = '{wanted['max_wal_size']}'" in written
    assert "checkpoint_timeout = '15min'" in written
    assert wait_until(lambda: postmaster(data_dir) is None)

    second = start_holder(data_dir, 0)
    assert second.wait(30) == 0
    assert second.max_wal_size == wanted["max_wal_size"]


@pytest.mark.parametrize(
    ("free_gib", "expected"), [(0.5, "1GB"), (8, "1GB"), (16, "2GB"), (100, "12GB"), (128, "16GB"), (2000, "16GB")]
)
def test_max_wal_size_is_an_eighth_of_the_free_disk_within_bounds(free_gib, expected):
    assert wal_settings(int(free_gib * 1024**3)) == {"max_wal_size": expected, "checkpoint_timeout": "15min"}


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ({}, ["max_wal_size", "checkpoint_timeout"]),  # nothing configured yet
        ({"max_wal_size": "8GB", "checkpoint_timeout": "15min"}, []),
        ({"max_wal_size": "5GB", "checkpoint_timeout": "15min"}, []),  # the free disk grew a little: kept
        ({"max_wal_size": "4GB", "checkpoint_timeout": "15min"}, []),
        ({"max_wal_size": "3GB", "checkpoint_timeout": "15min"}, ["max_wal_size"]),  # far below: raised
        ({"max_wal_size": "9GB", "checkpoint_timeout": "15min"}, ["max_wal_size"]),  # more than the disk allows
        ({"max_wal_size": "8192MB", "checkpoint_timeout": "5min"}, ["max_wal_size", "checkpoint_timeout"]),
    ],
)
def test_max_wal_size_follows_the_free_disk_only_when_it_is_far_off(configured, expected):
    assert to_change({"max_wal_size": "8GB", "checkpoint_timeout": "15min"}, configured) == expected
