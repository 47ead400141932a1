"""The export pages and the agency's acknowledgement callback, through Django's test client."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from exports.models import BatchState
from exports.services import export_batch
from tests.exports.helpers import folder_profiles
from tests.factories import make_invoice
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(tmp_path, settings, customer, provider, django_capture_on_commit_callbacks):
    settings.SETTLE_EXPORT_PROFILES = folder_profiles(tmp_path)
    make_invoice(customer=customer, provider=provider, total="100.00")
    make_invoice(customer=customer, provider=provider, total="20.00")
    with django_capture_on_commit_callbacks(execute=True):
        return export_batch(profile="agency", by=None)


def client_for(role: str | None) -> Client:
    client = Client()
    client.force_login(user_with_role(role))
    return client


def test_the_list_shows_entries_totals_and_delivery_state(batch):
    page = client_for("support").get("/exports/").content.decode()
    assert "agency #1" in page and "EUR +120.00 / 0.00 = 120.00" in page and "Delivered" in page
    assert "No batch matches" in client_for("support").get("/exports/?state=failed").content.decode()


def test_the_list_when_nothing_was_exported(db):
    assert "No batch has been exported yet" in client_for("support").get("/exports/").content.decode()


def test_the_batch_page_shows_balances_entries_and_deliveries(batch, customer):
    page = client_for("support").get(f"/exports/{batch.pk}/").content.decode()
    assert batch.sha256 in page and customer.name in page
    assert "120.00" in page and "Invoice issued" in page and "agency-1" in page
    # Support reads but cannot resend.
    assert "Resend" not in page
    assert client_for("support").get(f"/exports/{batch.pk}/resend/").status_code == 403


def test_download_gives_the_exact_sealed_bytes(batch):
    response = client_for("support").get(f"/exports/{batch.pk}/payload/")
    body = b"".join(response.streaming_content)
    assert body == batch.payload and hashlib.sha256(body).hexdigest() == batch.sha256
    assert response["Content-Disposition"] == 'attachment; filename="agency-000001.csv"'


def test_resend_asks_first_then_sends_the_same_bytes(batch, tmp_path):
    finance = client_for("finance")
    (tmp_path / "outbox" / "agency-000001.csv").unlink()
    confirm = finance.get(f"/exports/{batch.pk}/resend/").content.decode()
    assert "will be delivered again" in confirm and "Do not resend" in confirm
    assert not (tmp_path / "outbox" / "agency-000001.csv").exists()  # a GET never writes
    token = re.search(r'name="form_token" value="([^"]+)"', confirm).group(1)
    response = finance.post(f"/exports/{batch.pk}/resend/", {"form_token": token, "confirm": "1"})
    assert response.status_code == 302
    assert (tmp_path / "outbox" / "agency-000001.csv").read_bytes() == batch.payload
    assert batch.deliveries.count() == 2


def test_the_callback_acknowledges_with_the_shared_secret_only(batch, settings):
    settings.SETTLE_EXPORT_CALLBACK_SECRET = "s3cret-of-the-agency"
    url = "/exports/callback/agency/1/acknowledge/"
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(url).status_code == 401
    assert anonymous.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert batch.state == BatchState.DELIVERED
    good = {"Authorization": "Bearer s3cret-of-the-agency"}
    assert anonymous.post(url, "not json", content_type="application/json", headers=good).status_code == 400
    assert anonymous.post("/exports/callback/agency/9/acknowledge/", headers=good).status_code == 404
    response = anonymous.post(url, {"reference": "AG-1"}, content_type="application/json", headers=good)
    assert response.status_code == 200 and response.json()["state"] == "acknowledged"
    assert batch.state == BatchState.ACKNOWLEDGED
    again = anonymous.post(url, {"reference": "AG-2"}, content_type="application/json", headers=good)
    assert again.json()["reference"] == "AG-1"


def test_the_callback_is_off_without_a_secret(batch, settings):
    settings.SETTLE_EXPORT_CALLBACK_SECRET = ""
    response = Client().post("/exports/callback/agency/1/acknowledge/", headers={"Authorization": "Bearer "})
    assert response.status_code == 404 and batch.state == BatchState.DELIVERED
