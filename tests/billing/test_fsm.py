"""Protected status fields: never assignable, yet refreshable from many threads at once."""

import sys
import threading

import pytest
from django.db import connection

from invoices.models import Invoice
from tests.factories import make_invoice


@pytest.mark.django_db
def test_status_fields_cannot_be_assigned_directly():
    invoice = Invoice.objects.get(pk=make_invoice().pk)
    with pytest.raises(AttributeError, match="Direct payment_status modification is not allowed"):
        invoice.payment_status = "paid"
    with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
        invoice.state = "void"
    invoice.refresh_from_db()  # but reloading is fine
    assert invoice.state == "open"


@pytest.mark.django_db(transaction=True)
def test_refresh_from_db_is_safe_across_threads():
    """django-fsm's own mixin toggles protection on the shared field; threads then fail."""
    pk = make_invoice().pk
    errors = []
    old_interval = sys.getswitchinterval()
    start = threading.Barrier(6)

    def refresh_many():
        try:
            invoice = Invoice.objects.get(pk=pk)
            start.wait()
            for _ in range(300):
                invoice.refresh_from_db(from_queryset=preloaded)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))
        finally:
            connection.close()

    # No query per refresh (the rows come from memory) and tiny time slices, so threads
    # interleave inside refresh_from_db itself, where django-fsm's mixin races.
    preloaded = _InMemoryQuerySet(Invoice.objects.filter(pk=pk))
    threads = [threading.Thread(target=refresh_many) for _ in range(6)]
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert errors == []


class _InMemoryQuerySet:
    """Enough of a QuerySet for refresh_from_db(from_queryset=...), served from a cached row."""

    def __init__(self, queryset):
        self._rows = list(queryset)

    def filter(self, *args, **kwargs):
        return self

    def only(self, *fields):
        return self

    def get(self):
        return self._rows[0]
