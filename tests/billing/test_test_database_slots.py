"""`make mutate` runs mutants side by side; each pytest session must get a test database no other
running session uses (tests/support/db_slots.py, SETTLE_TEST_DB_SLOTS), or their committed rows mix."""

import subprocess
import sys
from pathlib import Path

from tests.support.db_slots import own_test_database

ROOT = Path(__file__).resolve().parents[2]

# Takes a slot, prints its database name, holds it until told to go.
HOLDER = """
import sys
from pathlib import Path
from tests.support.db_slots import own_test_database
databases = {"default": {"TEST": {"NAME": "test_slots"}}}
with own_test_database(databases, Path(sys.argv[1]), 2) as name:
    print(name, flush=True)
    sys.stdin.readline()
"""


def _start(folder):
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _name(process):
    return process.stdout.readline().strip()


def test_sessions_running_at_once_get_different_databases_and_a_killed_one_frees_its_own(tmp_path):
    first, second = _start(tmp_path), _start(tmp_path)
    third = None
    try:
        first_name, second_name = _name(first), _name(second)
        assert {first_name, second_name} == {"test_slots_0", "test_slots_1"}
        first.kill()  # a mutant's session killed at its time limit frees its slot all the same
        first.wait()
        third = _start(tmp_path)
        assert _name(third) == first_name
    finally:
        for process in (first, second, third):
            if process is not None and process.poll() is None:
                process.communicate("\n", timeout=30)


def test_a_session_that_ends_gives_its_slot_and_the_name_back(tmp_path):
    # mutmut's parent runs the clean tests itself, then forks every mutant's session from it.
    databases = {"default": {"TEST": {"NAME": "test_slots"}}}
    with own_test_database(databases, tmp_path, 2) as name:
        assert name == databases["default"]["TEST"]["NAME"] == "test_slots_0"
    assert databases["default"]["TEST"]["NAME"] == "test_slots"
    with own_test_database(databases, tmp_path, 2) as again:
        assert again == "test_slots_0"


def test_without_slots_the_one_test_database_is_used(tmp_path):
    databases = {"default": {"TEST": {"NAME": "test_slots"}}}
    with own_test_database(databases, tmp_path, 0) as name:
        assert name is None and databases["default"]["TEST"]["NAME"] == "test_slots"
