"""The SQL status derivations used by reconciliation agree with billing.status."""

from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.status import derive_allocation_status, derive_payment_status
from reconciliation.drift import ALLOCATION_STATUS_SQL, INVOICE_STATUS_SQL

pytestmark = pytest.mark.django_db

cents = st.integers(min_value=-50_000, max_value=50_000).map(lambda n: Decimal(n).scaleb(-2))
fixture_ok = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def evaluate(template: str, **values: Decimal) -> str:
    placeholders = {name: f"%({name})s::numeric" for name in values}
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + template.format(**placeholders), values)
        return cursor.fetchone()[0]


@fixture_ok
@given(net=cents, paid=cents)
def test_invoice_status_sql_matches_python(net, paid):
    assert evaluate(INVOICE_STATUS_SQL, paid=paid, net=net) == derive_payment_status(net=net, paid=paid)


@fixture_ok
@given(available=cents, allocated=cents)
def test_allocation_status_sql_matches_python(available, allocated):
    assert evaluate(ALLOCATION_STATUS_SQL, allocated=allocated, available=available) == derive_allocation_status(
        available=available, allocated=allocated
    )


@pytest.mark.parametrize("net, paid", [("0", "0"), ("10", "0"), ("10", "10"), ("10", "5"), ("10", "11"), ("0", "1")])
def test_invoice_status_edges(net, paid):
    net, paid = Decimal(net), Decimal(paid)
    assert evaluate(INVOICE_STATUS_SQL, paid=paid, net=net) == derive_payment_status(net=net, paid=paid)
