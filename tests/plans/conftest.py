"""The plan every plan test starts from (tests.plans.helpers.make_plan)."""

import pytest

from tests.plans.helpers import make_plan


@pytest.fixture
def plan(customer, provider, clerk):
    return make_plan(customer, provider, clerk)
