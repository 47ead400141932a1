"""Fixtures of the scaling tests: the static files collected once, for every app server started."""

import pytest

from tests.scaling.processes import collect_static, production_env


@pytest.fixture(scope="session")
def served_var_dir(tmp_path_factory):
    """A var/ directory with the static files collected as production does (hashed, compressed)."""
    var_dir = tmp_path_factory.mktemp("served-var")
    collect_static(production_env(var_dir, DATABASE_URL="postgres://postgres@127.0.0.1:1/unused"))
    return var_dir
