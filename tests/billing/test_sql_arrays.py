"""array_param writes an array parameter as one literal: PostgreSQL must read back exactly the values."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from billing.sql_arrays import array_param

pytestmark = pytest.mark.django_db

AWKWARD_TEXT = [
    "",
    " ",
    "NULL",
    "null",
    'a"b',
    "a\\b",
    "\\",
    '"',
    "{}",
    "{a,b}",
    "a,b",
    " lead",
    "trail ",
    "ü€✓",
    "x'y",
]


def read_back(param, cast):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{cast}[]", [param])
        return cursor.fetchone()[0]


def test_text_reads_back_as_written_whatever_it_holds():
    values = [*AWKWARD_TEXT, None]
    assert isinstance(array_param(values), str)
    assert read_back(array_param(values), "text") == values


def test_numbers_dates_times_and_booleans_read_back():
    moment = datetime.datetime(2026, 12, 7, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    cases = [
        ([1, -2, 2**62, None], "bigint"),
        ([Decimal("0.00"), Decimal("-12.34"), Decimal("1E+2"), Decimal("123456789.01"), None], "numeric"),
        ([datetime.date(2026, 2, 28), None], "date"),
        ([moment, None], "timestamptz"),
        ([True, False, None], "boolean"),
    ]
    for values, cast in cases:
        assert read_back(array_param(values), cast) == values, cast


def test_other_values_are_left_to_psycopg():
    values = [b"raw", None]
    assert array_param(values) == values


def test_an_empty_array():
    assert array_param([]) == "{}"
    assert read_back(array_param([]), "text") == []


def test_a_nul_is_refused_as_before():
    from django.db import DataError

    with pytest.raises((DataError, ValueError)):
        read_back(array_param(["a\x00b"]), "text")


@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8")))))
def test_any_text_reads_back(values):
    assert read_back(array_param(values), "text") == values
