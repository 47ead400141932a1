"""`make mutate` runs mutants side by side; each pytest session must get a test database no other
running session uses (config/settings/test.py, SETTLE_TEST_DB_SLOTS), or their committed rows mix."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Prints the test database name the settings chose, then holds it until told to go.
HOLDER = """
import sys
import config.settings.test as s
print(s.DATABASES["default"]["TEST"]["NAME"], flush=True)
sys.stdin.readline()
"""


def _start(tmp_path, slots):
    env = {
        **os.environ,
        "SETTLE_VAR_DIR": str(tmp_path),
        "SETTLE_TEST_DB": "test_slots",
        "SETTLE_TEST_DB_SLOTS": str(slots),
        "DATABASE_URL": "postgres://u:p@127.0.0.1:1/x",  # never connected: only the name is read
    }
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _name(process):
    return process.stdout.readline().strip()


def test_sessions_running_at_once_get_different_databases_and_a_killed_one_frees_its_own(tmp_path):
    first = _start(tmp_path, 2)
    second = _start(tmp_path, 2)
    third = None
    try:
        first_name, second_name = _name(first), _name(second)
        assert {first_name, second_name} == {"test_slots_0", "test_slots_1"}
        first.kill()  # a mutant's session killed at its time limit frees its slot all the same
        first.wait()
        third = _start(tmp_path, 2)
        assert _name(third) == first_name
    finally:
        for process in (first, second, third):
            if process is not None and process.poll() is None:
                process.communicate("\n", timeout=30)


def test_without_slots_the_one_test_database_is_used(tmp_path):
    process = _start(tmp_path, 0)
    try:
        assert _name(process) == "test_slots"
    finally:
        process.communicate("\n", timeout=30)
