"""Required fields say so to assistive technology (aria-required), wherever a form is rendered;
an amount error names the invoice as it is written."""

import re

import pytest
from django import forms

from billing.form_fields import parse_amount_field


class Sample(forms.Form):
    name = forms.CharField()
    comment = forms.CharField(required=False, widget=forms.Textarea)
    reason = forms.CharField(widget=forms.Textarea)
    kind = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], widget=forms.RadioSelect)
    agree = forms.BooleanField()


def tag(html: str, name: str) -> str:
    return re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>', html).group(0)


def test_required_fields_are_aria_required_and_optional_ones_not():
    html = Sample().as_div()
    assert 'aria-required="true"' in tag(html, "name") and 'aria-required="true"' in tag(html, "reason")
    assert "aria-required" not in tag(html, "comment")
    # ARIA allows no aria-required on radio buttons and checkboxes: `required` says it there.
    assert "aria-required" not in tag(html, "kind") and "aria-required" not in tag(html, "agree")


@pytest.mark.django_db
def test_the_new_invoice_page_marks_its_required_fields(client):
    from tests.web_users import user_with_role

    client.force_login(user_with_role("finance"))
    html = client.get("/invoices/new/").content.decode()
    for name in ("customer", "provider", "due_date"):  # currency has no empty choice; issue date is optional
        field = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'aria-required="true"' in field, field


def test_an_amount_error_keeps_the_invoice_number_as_written():
    with pytest.raises(forms.ValidationError) as error:
        parse_amount_field("abc", "EUR", "Amount for BOLT-000544")
    message = " ".join(error.value.messages)
    assert "BOLT-000544" in message and "bolt-000544" not in message


@pytest.mark.django_db
def test_fields_the_service_requires_and_the_sign_in_fields_are_aria_required(client):
    from tests.factories import make_invoice
    from tests.web_users import user_with_role

    login = client.get("/login/").content.decode()
    for name in ("username", "password"):
        assert 'aria-required="true"' in re.search(rf'<input[^>]*name="{name}"[^>]*>', login).group(0)
    client.force_login(user_with_role("finance"))
    void = client.get(f"/invoices/{make_invoice().pk}/void/").content.decode()
    assert 'aria-required="true"' in tag(void, "reason")  # optional in the form, required by void_invoice
