"""Shared fixtures. Every test runs against PostgreSQL (embedded unless DATABASE_URL is set)."""

import pytest

from tests.factories import CustomerFactory, ProviderFactory, UserFactory


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


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The nav counts are cached; each test starts with an empty cache."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
