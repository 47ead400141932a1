from decimal import Decimal

from django.template import Context, Template


def render(amount, currency):
    return Template("{% load money %}{{ amount|money:currency }}").render(
        Context({"amount": amount, "currency": currency})
    )


def test_formats_by_currency_minor_unit():
    assert render(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert render(Decimal("1234.00"), "JPY") == "1,234 JPY"
    assert render(Decimal("-40.00"), "USD") == "-40.00 USD"


def test_accepts_exact_text_and_int_and_none():
    assert render("99.90", "GBP") == "99.90 GBP"
    assert render(5, "EUR") == "5.00 EUR"
    assert render(None, "EUR") == ""


def test_never_rounds_through_float_or_hides_garbage():
    assert render("n/a", "EUR") == "n/a"
    assert render(0.1, "EUR") == "0.1"
