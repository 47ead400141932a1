"""The money helpers: exact parsing, formatting and splitting (I6)."""

from decimal import Decimal

import pytest

from billing.errors import BillingError, InvalidAmount
from billing.money import (
    MINOR_UNITS,
    format_money,
    minor_unit,
    parse_amount,
    parse_amount_bound,
    parse_positive_amount,
    split_amount,
)

D = Decimal


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("10.50", "EUR", D("10.50")),
        ("10.5", "EUR", D("10.50")),
        (" 7 ", "EUR", D("7.00")),
        (12, "USD", D("12.00")),
        (D("0.01"), "GBP", D("0.01")),
        ("-3.20", "EUR", D("-3.20")),
        ("1,000.50", "EUR", D("1000.50")),  # grouped thousands: groups of exactly three
        ("1,234,567", "JPY", D("1234567.00")),  # no decimals in yen: "1,000" cannot mean one
        ("-1,000.00", "EUR", D("-1000.00")),
        ("0.5", "EUR", D("0.50")),
        (D("1E+2"), "EUR", D("100.00")),  # a Decimal is exact whatever its exponent
        ("1500", "JPY", D("1500.00")),
        (D("1500.00"), "JPY", D("1500.00")),
        ("10.500", "EUR", D("10.50")),  # trailing zeros are not extra precision
    ],
)
def test_parse_amount_accepts_exact_values(value, currency, expected):
    amount = parse_amount(value, currency)
    assert amount == expected
    assert isinstance(amount, Decimal)
    # Stored with two places whatever the currency, as the DecimalFields are.
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize("value", [10.5, 0.1, float("nan"), True])
def test_parse_amount_refuses_floats_and_bools(value):
    with pytest.raises(InvalidAmount, match="must be an exact decimal"):
        parse_amount(value, "EUR")


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("10.005", "EUR", r"The amount 10.005 EUR has more decimals than EUR allows \(2\)"),
        (D("0.001"), "USD", r"more decimals than USD allows \(2\)"),
        ("10.5", "JPY", r"The amount 10.5 JPY has more decimals than JPY allows \(0\)"),
        ("1.01", "JPY", r"more decimals than JPY allows \(0\)"),
    ],
)
def test_parse_amount_refuses_more_decimals_than_the_currency_has(value, currency, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_amount(value, currency)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ten",
        "NaN",
        "Infinity",
        "-inf",
        None,
        object(),
        "1e3",
        "1E+2",
        "1e999999999",
        "1e-999999999",  # exponents: 1e3 was booked as 1,000.00
        "١٢",
        "１２３",
        "²",
        "৫",  # digits int() and Decimal() read, which are not ASCII
        "1_000",
        "+5",
        "1 000",
        "1\u00a0000",
        "5.",
        ".5",
        "1.000,50",
        "1,00",
        "1,0000",
        "12,34.5",
        ",100",
        "1,000",  # one euro to a clerk used to a decimal comma: grouping needs the point (1,000.00)
        "--5",
        "0x10",
        "1,000,00",
        D("NaN"),
        D("Infinity"),
    ],
)
def test_parse_amount_refuses_what_is_not_a_number(value):
    with pytest.raises(InvalidAmount, match="is not a number"):
        parse_amount(value, "EUR")


def test_parse_amount_names_the_field_in_its_message():
    with pytest.raises(InvalidAmount, match="The unit price of line 2 10.123 EUR"):
        parse_amount("10.123", "EUR", field="unit price of line 2")


def test_unsupported_currency_is_a_billing_error():
    with pytest.raises(InvalidAmount, match="Currency 'XYZ' is not supported"):
        parse_amount("1.00", "XYZ")
    with pytest.raises(BillingError):
        minor_unit("eur")


@pytest.mark.parametrize("value", ["0", "0.00", "-0.01", "-5"])
def test_parse_positive_amount_refuses_zero_and_negative(value):
    with pytest.raises(InvalidAmount, match="must be greater than zero"):
        parse_positive_amount(value, "EUR")


def test_minor_units():
    assert minor_unit("EUR") == D("0.01")
    assert minor_unit("JPY") == D("1")
    assert MINOR_UNITS["JPY"] == 0


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (D("1234.5"), "EUR", "1,234.50 EUR"),
        (D("0"), "USD", "0.00 USD"),
        (D("-20.00"), "EUR", "-20.00 EUR"),
        (D("1234567.00"), "JPY", "1,234,567 JPY"),
        (D("12.00"), "GBP", "12.00 GBP"),
        (None, "EUR", ""),
        (D("12.5"), "XYZ", "12.50 XYZ"),  # a currency Settle does not keep (a bank line's): two places
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


@pytest.mark.parametrize(
    ("amount", "parts", "currency", "expected"),
    [
        (D("100.00"), 3, "EUR", ["33.34", "33.33", "33.33"]),
        (D("0.05"), 2, "EUR", ["0.03", "0.02"]),
        (D("10.00"), 1, "USD", ["10.00"]),
        (D("0.02"), 4, "EUR", ["0.01", "0.01", "0.00", "0.00"]),
        (D("100"), 3, "JPY", ["34.00", "33.00", "33.00"]),
        (D("1000"), 7, "JPY", ["143.00", "143.00", "143.00", "143.00", "143.00", "143.00", "142.00"]),
    ],
)
def test_split_amount_adds_up_exactly(amount, parts, currency, expected):
    split = split_amount(amount, parts, currency)
    assert split == [D(x) for x in expected]
    assert sum(split) == amount
    unit = minor_unit(currency)
    assert all(part == part.quantize(unit) for part in split)


def test_split_amount_needs_at_least_one_part():
    with pytest.raises(ValueError):
        split_amount(D("1.00"), 0, "EUR")


# Regressions: each of these escaped as a non-BillingError or lost money silently.


@pytest.mark.parametrize("value", [D("1E+30"), D("1E+40"), D("-1E+29"), D("1E+999999999")])
def test_parse_amount_refuses_huge_exponents_with_a_billing_error(value):
    # decimal.InvalidOperation from quantize used to escape instead of a clerk-readable error.
    with pytest.raises(InvalidAmount, match="larger than the largest amount Settle can book"):
        parse_amount(value, "EUR")


def test_parse_amount_refuses_what_a_money_column_cannot_hold():
    # Used to be accepted and then fail at the database with a DataError (numeric overflow).
    assert parse_amount("999999999999.99", "EUR") == D("999999999999.99")
    with pytest.raises(InvalidAmount, match=r"largest amount Settle can book \(999,999,999,999.99 EUR\)"):
        parse_amount("1000000000000.00", "EUR")
    with pytest.raises(InvalidAmount, match="largest amount"):
        parse_amount("12345678901234", "JPY")


def test_split_amount_refuses_a_fraction_of_a_minor_unit():
    # 10.005 EUR used to split into 5.00 + 5.00, losing half a cent without a word.
    with pytest.raises(InvalidAmount, match="The amount to split 10.005 EUR has more decimals than EUR allows"):
        split_amount(D("10.005"), 2, "EUR")
    with pytest.raises(InvalidAmount, match="more decimals than JPY allows"):
        split_amount(D("10.50"), 2, "JPY")


def test_split_amount_refuses_floats():
    with pytest.raises(InvalidAmount, match="must be an exact decimal"):
        split_amount(10.0, 2, "EUR")


def test_split_amount_of_a_negative_amount_mirrors_the_positive_one():
    assert split_amount(D("-0.05"), 2, "EUR") == [D("-0.03"), D("-0.02")]
    assert sum(split_amount(D("-100.00"), 3, "EUR")) == D("-100.00")


@pytest.mark.parametrize("value", ["-5", "-0.01", "0"])
def test_a_positive_amount_refuses_minus_and_zero(value):
    with pytest.raises(InvalidAmount, match="must be greater than zero"):
        parse_positive_amount(value, "EUR")


@pytest.mark.parametrize("value", ["1000000000000", "999,999,999,999,999.00", "9" * 5000, D("1E+999999999")])
def test_parse_amount_refuses_more_than_a_money_column_holds(value):
    with pytest.raises(InvalidAmount, match="larger than the largest amount"):
        parse_amount(value, "EUR")


@pytest.mark.parametrize("value", ["1e3", "١٢", "NaN", [1], b"12"])
def test_services_refuse_what_is_not_a_decimal_int_or_plain_decimal_text(value):
    """DESIGN.md section 7: services take Decimal, int or a plain decimal string."""
    with pytest.raises(InvalidAmount, match="is not a number"):
        parse_positive_amount(value, "EUR")


# The bound of a list filter (total from / to): any currency, so at most two decimals.


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10", D("10.00")), ("-0.5", D("-0.50")), ("1,000.25", D("1000.25")), ("999999999999.99", D("999999999999.99"))],
)
def test_a_filter_bound_reads_an_amount_of_up_to_two_decimals(value, expected):
    bound = parse_amount_bound(value)
    assert bound == expected and bound.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.001", "The amount 10.001 has more than two decimals"),
        ("1000000000000.00", "is larger than any amount Settle keeps"),
        ("-1000000000000.00", "is larger than any amount Settle keeps"),
        ("1e3", "The amount '1e3' is not a number"),
    ],
)
def test_a_filter_bound_refuses_more_decimals_more_than_a_column_holds_and_what_is_no_number(value, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_amount_bound(value)


# A bad value is shown in the message as written, cut after 27 characters when its repr passes 30.


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x" * 28, "'" + "x" * 28 + "'"),  # a repr of 30 characters: whole
        ("x" * 29, "'" + "x" * 26 + "…'"),  # 31: cut
    ],
)
def test_a_value_that_is_no_number_is_shown_as_written_and_cut_when_long(value, shown):
    with pytest.raises(InvalidAmount) as refused:
        parse_amount(value, "EUR")
    assert str(refused.value.messages[0]) == f"The amount {shown} is not a number."


@pytest.mark.parametrize(
    ("value", "message"),
    [("10.001", "The total from 10.001 has more than two decimals"), ("ten", "The total from 'ten' is not a number")],
)
def test_a_filter_bound_names_its_field_in_the_refusal(value, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_amount_bound(value, field="total from")
