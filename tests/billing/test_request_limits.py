"""Request size: a too-large statement gets a clear message (a form error, or a 413 page), never a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from backoffice.lockout import client_address
from tests.web_users import user_with_role

MB = 1024 * 1024


@pytest.fixture
def finance(client, db):
    client.force_login(user_with_role("finance"))
    return client


def statement(size: int) -> SimpleUploadedFile:
    header = b"date,amount,currency,reference\n"
    return SimpleUploadedFile("big.csv", header + b"x" * (size - len(header)), content_type="text/csv")


def test_the_upload_takes_a_100k_entry_camt053_and_only_the_upload_does(settings):
    from intake.forms import MAX_STATEMENT_BYTES

    assert MAX_STATEMENT_BYTES >= 100 * MB  # a 100,000-entry camt.053 is 60-100 MB
    assert settings.SETTLE_MAX_REQUEST_BYTES_BY_PATH["/imports/"] > MAX_STATEMENT_BYTES + MB  # the form around it
    assert settings.SETTLE_MAX_REQUEST_BYTES == 11 * MB  # every other path


def test_a_statement_over_the_file_limit_gets_the_form_message(finance, monkeypatch):
    monkeypatch.setattr("intake.forms.MAX_STATEMENT_BYTES", 1 * MB)
    monkeypatch.setattr("intake.forms.MAX_STATEMENT_LABEL", "1 MB")
    response = finance.post(reverse("imports:upload"), {"statement": statement(1 * MB + 1)})
    assert response.status_code == 400
    assert "The file is 1 MB, larger than 1 MB; split the statement." in response.content.decode()


def test_a_body_over_the_limit_gets_a_413_page_with_the_reason(finance, settings):
    settings.SETTLE_MAX_REQUEST_BYTES_BY_PATH = {"/imports/": 2 * MB}
    response = finance.post(reverse("imports:upload"), {"statement": statement(3 * MB)})
    assert response.status_code == 413
    body = response.content.decode()
    assert "Settle accepts at most 2 MB" in body and "Split a bank statement" in body


def test_a_12_mb_statement_is_accepted_but_not_a_12_mb_body_elsewhere(finance):
    response = finance.post(reverse("imports:upload"), {"statement": statement(12 * MB)})
    assert response.status_code == 302  # stored and queued
    response = finance.post(reverse("imports:entries"), {"statement": statement(12 * MB)})
    assert response.status_code == 413 and "Settle accepts at most 11 MB" in response.content.decode()


def test_too_many_form_fields_is_a_400_not_a_500(finance):
    data = {f"field{n}": "1" for n in range(1001)}
    response = finance.post(reverse("imports:upload"), data)
    assert response.status_code == 400


def test_the_largest_form_fits_the_field_limit(finance, settings):
    # A new invoice with its 200 lines of 3 fields, plus the formset's management fields and the header.
    from invoices.forms import LineFormSet

    assert LineFormSet.max_num == 200
    fields = 200 * len(LineFormSet.form.base_fields) + 4 + 20
    assert fields < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS


@pytest.mark.parametrize(
    "count, forwarded, expected",
    [
        (0, "10.0.0.9", "203.0.113.1"),  # no proxy configured: the header is the client's word
        (1, "10.0.0.9", "10.0.0.9"),
        (1, "6.6.6.6, 10.0.0.9", "10.0.0.9"),  # the client wrote 6.6.6.6; our proxy appended the real one
        (2, "6.6.6.6, 10.0.0.9, 172.16.0.2", "10.0.0.9"),
        (2, "10.0.0.9", "203.0.113.1"),  # fewer entries than proxies: not through our proxies
    ],
)
def test_the_throttle_trusts_x_forwarded_for_only_from_configured_proxies(settings, count, forwarded, expected):
    settings.SETTLE_TRUSTED_PROXY_COUNT = count
    request = RequestFactory().post("/login/", REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
