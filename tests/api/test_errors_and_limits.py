"""Errors as JSON with the error class and the clerk's message; validation names the field; nothing
is written; money is a string; body size, page size and the per-token rate are limited."""

import json
import time

import pytest
from django.test import override_settings

from invoices.models import Invoice
from payments.models import Payment
from tests.api.conftest import client_for
from tests.factories import make_invoice


@pytest.mark.django_db
def test_a_billing_error_is_a_4xx_with_its_class_and_message(finance_api, customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="100.00")
    payment = finance_api.post("/api/v1/payments", {"customer_id": customer.pk, "amount": "30.00", "currency": "EUR"})
    payment_id = payment.json()["payment"]["id"]
    response = finance_api.post(
        f"/api/v1/payments/{payment_id}/allocations", {"splits": [{"invoice_id": invoice.pk, "amount": "55.00"}]}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InsufficientFunds"
    assert "30.00" in body["message"] and "55.00" in body["message"]
    invoice.refresh_from_db()
    assert invoice.paid_total == 0


@pytest.mark.django_db
def test_a_state_conflict_is_a_409(finance_api, customer, provider):
    invoice = make_invoice(customer=customer, provider=provider)
    assert finance_api.post(f"/api/v1/invoices/{invoice.pk}/void", {"reason": "duplicate"}).status_code == 200
    again = finance_api.post(f"/api/v1/invoices/{invoice.pk}/void", {"reason": "duplicate"})
    assert again.status_code == 409
    assert again.json()["code"] == "InvalidState"


@pytest.mark.django_db
def test_validation_names_the_field_and_writes_nothing(finance_api, customer, provider):
    body = {
        "customer_id": customer.pk,
        "provider_id": provider.pk,
        "currency": "EUR",
        "due_date": "2026-12-31",
        "lines": [{"description": "Cleaning", "quantity": "1", "unit_price": 12.5}],
    }
    response = finance_api.post("/api/v1/invoices", body)
    assert response.status_code == 422
    assert response.json()["code"] == "ValidationError"
    assert response.json()["field"] == "lines.0.unit_price"
    body["lines"][0]["unit_price"] = "1e3"
    assert finance_api.post("/api/v1/invoices", body).json()["field"] == "lines.0.unit_price"
    body["lines"][0]["unit_price"] = "12.50"
    body["due_date"] = "31/12/2026"
    assert finance_api.post("/api/v1/invoices", body).json()["field"] == "due_date"
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_a_row_named_in_the_body_that_does_not_exist_is_a_400(finance_api):
    response = finance_api.post("/api/v1/payments", {"customer_id": 999999, "amount": "1.00", "currency": "EUR"})
    assert response.status_code == 400
    assert "customer_id" in response.json()["message"]
    assert finance_api.get("/api/v1/payments/999999").status_code == 404


@pytest.mark.django_db
def test_money_is_a_string_and_dates_are_iso(finance_api, customer, provider):
    invoice = make_invoice(customer=customer, provider=provider, total="12.50")
    body = finance_api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert body["total"] == "12.50" and body["balance_due"] == "12.50"
    assert body["lines"][0]["unit_price"] == "12.50"
    assert body["due_date"] == invoice.due_date.isoformat()
    listed = finance_api.get("/api/v1/invoices").json()
    assert listed["totals"]["by_currency"][0]["sums"] == {"total": "12.50", "balance_due": "12.50"}
    assert "12.5," not in json.dumps(listed) and ": 12.5" not in json.dumps(listed)


@pytest.mark.django_db
def test_a_large_body_is_refused_before_it_is_read(finance_api, customer):
    huge = {"customer_id": customer.pk, "amount": "1.00", "currency": "EUR", "reference": "x" * (1024 * 1024)}
    response = finance_api.post("/api/v1/payments", huge)
    assert response.status_code == 413
    assert response.json()["code"] == "TooLarge"
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_the_page_size_is_capped(support_api):
    assert support_api.get("/api/v1/invoices", {"per_page": "200"}).status_code == 200
    response = support_api.get("/api/v1/invoices", {"per_page": "201"})
    assert response.status_code == 422 and response.json()["field"] == "per_page"


@pytest.mark.django_db
def test_each_token_is_rate_limited(customer):
    first, second = client_for("support", "busy"), client_for("support", "quiet")
    if time.time() % 60 > 50:  # the window is the clock's minute: do not start at its very end
        time.sleep(61 - time.time() % 60)
    with override_settings(SETTLE_API_RATE_LIMIT=3):
        statuses = [first.get(f"/api/v1/customers/{customer.pk}").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = first.get(f"/api/v1/customers/{customer.pk}")
        assert limited.json()["code"] == "Throttled" and int(limited["Retry-After"]) >= 0
        assert second.get(f"/api/v1/customers/{customer.pk}").status_code == 200  # another token's own count


def _this_minute() -> int:
    if time.time() % 60 > 55:  # counts are per clock minute: do not start at its very end
        time.sleep(61 - time.time() % 60)
    return int(time.time() // 60)


@pytest.mark.django_db
def test_the_rate_count_is_shared_by_every_web_process(customer):
    """The count is a row in the database, not a process's memory: requests another web process
    counted this minute (the row as it left it) use up the same token's allowance here."""
    from api.models import ApiToken, RateWindow

    busy = client_for("support", "elsewhere")
    token_id = ApiToken.objects.get(user=busy.user).pk
    minute = _this_minute()
    with override_settings(SETTLE_API_RATE_LIMIT=5):
        RateWindow.objects.create(token_id=token_id, minute=minute, count=4)  # four made by another process
        assert busy.get(f"/api/v1/customers/{customer.pk}").status_code == 200
        assert busy.get(f"/api/v1/customers/{customer.pk}").status_code == 429
    assert RateWindow.objects.get(token_id=token_id, minute=minute).count == 6


@pytest.mark.django_db
def test_a_throttled_post_with_a_key_does_nothing_and_leaves_the_key_free(customer):
    finance = client_for("finance", "hasty")
    body = {"customer_id": customer.pk, "amount": "10.00", "currency": "EUR", "reference": "R-hasty"}
    _this_minute()
    with override_settings(SETTLE_API_RATE_LIMIT=0):
        refused = finance.post("/api/v1/payments", body, key="k-hasty")
    assert refused.status_code == 429 and refused.json()["code"] == "Throttled"
    assert int(refused["Retry-After"]) >= 0
    assert not Payment.objects.filter(reference="R-hasty").exists()
    done = finance.post("/api/v1/payments", body, key="k-hasty")  # the retry, allowed again, does the work
    assert done.status_code == 201 and "Idempotent-Replayed" not in done
    assert Payment.objects.filter(reference="R-hasty").count() == 1


@pytest.mark.django_db
def test_past_minutes_counts_are_purged_and_the_current_one_kept():
    from api.auth import purge_rate_windows
    from api.models import RateWindow

    now = time.time()
    minute = int(now // 60)
    for back in (0, 1, 2, 90):
        RateWindow.objects.create(token_id=1, minute=minute - back, count=1)
    assert purge_rate_windows(now=now) == 2
    assert sorted(RateWindow.objects.values_list("minute", flat=True)) == [minute - 1, minute]
