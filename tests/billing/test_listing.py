"""Keyset cursors and list URLs (billing.listing)."""

import datetime
from decimal import Decimal

import pytest
from django.test import RequestFactory

from billing.listing import Ordering, beyond, csv_text, decode_cursor, encode_cursor, list_url
from invoices.models import Invoice
from payments.models import Payment


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Invoice, "due_date", datetime.date(2026, 1, 31)),
        (Invoice, "total", Decimal("1234.50")),
        (Invoice, "customer__name", 'Ada, "the" Countess'),
        (Invoice, "number", None),
        (Payment, "received_at", datetime.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=datetime.UTC)),
        (Payment, "pk", 42),
    ],
)
def test_cursor_round_trip(model, field, value):
    token = encode_cursor(value, 7, 3)
    assert decode_cursor(token, model, Ordering(field)) == (value, 7, 3)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        encode_cursor("not a date", 1, 1),
        encode_cursor("2026-01-01", "1", 1),
        encode_cursor("2026-01-01", 1, 0),
    ],
)
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
    request = RequestFactory().get(
        "/invoices/", {"customer": "", "payment_status": ["unpaid", "paid"], "after": "x", "sort": "total"}
    )
    assert list_url(request, sort="-total") == "/invoices/?payment_status=unpaid&payment_status=paid&sort=-total"
    assert (
        list_url(request, path="/invoices/export.csv")
        == "/invoices/export.csv?payment_status=unpaid&payment_status=paid&sort=total"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total", "1e999999"),  # beyond numeric(14, 2): PostgreSQL failed the page query
        ("total", "1e-999999999"),
        ("total", "NaN"),
        ("total", "Infinity"),
        ("total", "12.345"),  # more places than the column
        ("customer__name", "a\x00b"),  # PostgreSQL refuses NUL in text
        ("pk", 2**70),
    ],
)
def test_cursors_with_values_the_column_cannot_hold_are_refused(field, value):
    assert decode_cursor(encode_cursor(value, 1, 2), Invoice, Ordering(field)) is None


@pytest.mark.parametrize("pk", [2**63, 0, True, "1"])
def test_cursors_with_ids_no_row_can_have_are_refused(pk):
    assert decode_cursor(encode_cursor("2026-01-01", pk, 2), Invoice, Ordering("due_date")) is None


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1+1", "＋1", "－1", "＠SUM(A1)"],
)
def test_csv_text_defuses_formula_starts_including_full_width_ones(text):
    assert csv_text(text) == "'" + text


def test_csv_text_leaves_ordinary_text_alone():
    assert csv_text("Zoë O’Brien") == "Zoë O’Brien"
    assert csv_text("") == ""
