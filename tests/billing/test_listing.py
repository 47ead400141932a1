"""Keyset cursors and list URLs (billing.listing)."""

import datetime
from decimal import Decimal

import pytest
from django.test import RequestFactory

from billing.listing import Ordering, beyond, decode_cursor, encode_cursor, list_url
from invoices.models import Invoice
from payments.models import Payment


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Invoice, "due_date", datetime.date(2026, 1, 31)),
        (Invoice, "total", Decimal("1234.50")),
        (Invoice, "customer__name", "Ada, \"the\" Countess"),
        (Invoice, "number", None),
        (Payment, "received_at", datetime.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=datetime.UTC)),
        (Payment, "pk", 42),
    ],
)
def test_cursor_round_trip(model, field, value):
    token = encode_cursor(value, 7, 3)
    assert decode_cursor(token, model, Ordering(field)) == (value, 7, 3)


@pytest.mark.parametrize("token", ["", "!!!", "bm90IGpzb24", encode_cursor("not a date", 1, 1), encode_cursor("2026-01-01", "1", 1), encode_cursor("2026-01-01", 1, 0)])
def test_bad_cursors_are_refused(token):
    assert decode_cursor(token, Invoice, Ordering("due_date")) is None


def test_beyond_starts_with_an_index_condition():
    (after,) = beyond(Ordering("due_date"), datetime.date(2026, 1, 1), 5, nullable=False)
    assert '"invoices_invoice"."due_date" >= 2026-01-01' in str(Invoice.objects.filter(after).query)


def test_beyond_keeps_nulls_in_a_part_of_their_own():
    after, nulls = beyond(Ordering("issue_date"), datetime.date(2026, 1, 1), 5, nullable=True)
    assert "IS NULL" not in str(Invoice.objects.filter(after).query)
    assert "IS NULL" in str(Invoice.objects.filter(nulls).query)
    rest, issued = beyond(Ordering("issue_date", True, True), None, 5, nullable=True)
    assert "IS NOT NULL" in str(Invoice.objects.filter(issued).query)


def test_list_url_drops_cursors_and_empty_values():
    request = RequestFactory().get("/invoices/", {"customer": "", "payment_status": ["unpaid", "paid"], "after": "x", "sort": "total"})
    assert list_url(request, sort="-total") == "/invoices/?payment_status=unpaid&payment_status=paid&sort=-total"
    assert list_url(request, path="/invoices/export.csv") == "/invoices/export.csv?payment_status=unpaid&payment_status=paid&sort=total"
