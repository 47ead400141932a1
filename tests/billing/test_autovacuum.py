"""The tables every allocation rewrites are vacuumed after 2% of their rows changed (billing
migration 0010): a night's import must not leave the morning's reads walking dead versions."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_rewritten_tables_are_vacuumed_and_analyzed_early():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            [["invoices_invoice", "payments_payment", "billing_account", "orders_order", "allocations_allocation"]],
        )
        options = dict(cursor.fetchall())
    early = ["autovacuum_analyze_scale_factor=0.01", "autovacuum_vacuum_scale_factor=0.02"]
    assert {table: sorted(found or []) for table, found in options.items()} == {
        "invoices_invoice": early,
        "payments_payment": early,
        "billing_account": early,
        "orders_order": early,
        "allocations_allocation": [],  # append-only: nothing to clean, the default serves
    }
