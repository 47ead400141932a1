"""Shared fixtures and Hypothesis profiles. Every test runs against PostgreSQL (embedded unless DATABASE_URL is set)."""

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.factories import CustomerFactory, ProviderFactory, UserFactory

# The staff and the small shared ledger of the page tests (module-scoped, rolled back).
pytest_plugins = ["tests.support.pages"]

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE (the stateful machines' budget is a setting):
# - "dev" (the default) explores new random examples on every run and replays failures saved in
#   .hypothesis/; "ci" is the same budget derandomized, so a red build is reproduced exactly with
#   HYPOTHESIS_PROFILE=ci; it is chosen when CI is set. Both stay small: the stateful test must run
#   in well under a minute (`make test`).
# - "long": before a release (`make test-long`), ten times the examples and twice the steps.
# - "mutate": what `make mutate` runs against every mutant, derandomized so a mutant's verdict does
#   not depend on luck, and smaller, since the machine runs again for every surviving mutant.
# HYPOTHESIS_EXAMPLES and HYPOTHESIS_STEPS override the chosen profile's numbers.
_BUDGETS = {
    "dev": dict(max_examples=20, stateful_step_count=50),
    "ci": dict(max_examples=20, stateful_step_count=50, derandomize=True, database=None, print_blob=True),
    "long": dict(max_examples=200, stateful_step_count=100),
    "mutate": dict(max_examples=6, stateful_step_count=40, derandomize=True, database=None),
}
_COMMON = dict(
    deadline=None,  # every step talks to PostgreSQL; timings vary with the machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _budget(name: str) -> dict:
    budget = {**_COMMON, **_BUDGETS[name]}
    if os.environ.get("HYPOTHESIS_EXAMPLES"):
        budget["max_examples"] = int(os.environ["HYPOTHESIS_EXAMPLES"])
    if os.environ.get("HYPOTHESIS_STEPS"):
        budget["stateful_step_count"] = int(os.environ["HYPOTHESIS_STEPS"])
    return budget


for _name in _BUDGETS:
    settings.register_profile(_name, **_budget(_name))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def clerk(db):
    return UserFactory(username="fiona")


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Ada Lovelace")


@pytest.fixture
def provider(db):
    return ProviderFactory(name="Acme Cleaning", code="ACME")


@pytest.fixture
def other_provider(db):
    return ProviderFactory(name="Bolt Repairs", code="BOLT")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """With SETTLE_TEST_DB_SLOTS=N (`make mutate`'s parallel children), this session's own test
    database: the first of N not in use by another running session (tests/support/db_slots.py)."""
    from django.conf import settings

    from tests.support.db_slots import own_test_database

    slots = int(os.environ.get("SETTLE_TEST_DB_SLOTS") or 0)
    with own_test_database(settings.DATABASES, settings.VAR_DIR / "test-db-slots", slots):
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """A reused test database (--reuse-db) starts without rows an earlier session left behind.

    A transactional test commits; its teardown flushes. A process stopped before that teardown
    (`make mutate` stops a mutant's process at its time limit) leaves its rows, and every later
    session would fail the tests that count rows, and count the mutants they reach as killed.
    One session at a time per database, as pytest-django assumes (xdist workers get one each)."""
    from django.core.management import call_command
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM billing_customer) OR EXISTS (SELECT 1 FROM auth_user)")
            left_behind = cursor.fetchone()[0]
        if left_behind:
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The nav counts are cached; each test starts with an empty cache (and no process-local
    copy of the webhook subscriptions)."""
    from django.core.cache import cache

    from api.webhooks import subscriptions_changed

    cache.clear()
    subscriptions_changed()
    yield
    cache.clear()
    subscriptions_changed()
