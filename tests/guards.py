"""Corrupting an issued invoice on purpose, below the database guards (tests only).

The issued-invoice guards (billing/guards.py) refuse any change of an open invoice's
total, parties, number or dates and of its lines, whatever the session sets. A test
that needs such a corruption (to see reconciliation or the invariant checks catch it)
switches them off as the tables' owner, which the test database's superuser is, for one
block of the test's own transaction, and switches them back on (ALWAYS) after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

ISSUED_INVOICE_TRIGGERS = {
    "invoices_invoice": ["settle_issued_invoice_fixed", "settle_issued_invoice_kept", "settle_issued_plan_links_fixed"],
    "invoices_invoiceline": ["settle_issued_lines_insert", "settle_issued_lines_update", "settle_issued_lines_delete"],
}


@contextmanager
def below_the_guards() -> Iterator[None]:
    with connection.cursor() as cursor:
        # ALTER TABLE refuses a table with pending (deferred foreign-key) trigger events: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, triggers in ISSUED_INVOICE_TRIGGERS.items():
            for trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, triggers in ISSUED_INVOICE_TRIGGERS.items():
                for trigger in triggers:
                    cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
