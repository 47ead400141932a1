"""Fixtures of the staff-page tests (a pytest plugin, loaded by tests/conftest.py).

The staff and the small ledger are built once per test module inside a transaction
that is rolled back when the module ends; every test runs in a savepoint inside it
(what TestCase.setUpTestData does), so a test may write and the next one starts clean.
"""

import pytest
from django.db import transaction

from tests.support.dataset import build_ledger, make_staff


@pytest.fixture(scope="module")
def _module_data(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        support, finance, admin, nobody = make_staff()
        staff = {"support": support, "finance": finance, "admin": admin, "nobody": nobody}
        yield staff, build_ledger()
        transaction.set_rollback(True)


@pytest.fixture
def staff(_module_data, db):
    return _module_data[0]


@pytest.fixture
def ledger(_module_data, db):
    return _module_data[1]


@pytest.fixture
def as_support(client, staff):
    client.force_login(staff["support"])
    return client
