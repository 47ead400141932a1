"""Sessions end when the browser closes and after 8 hours without a request; passwords cannot be all digits."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from billing.sessions import SEEN_KEY
from tests.factories import UserFactory
from tests.web_users import user_with_role

EIGHT_HOURS = 8 * 60 * 60


def set_seen(client, seconds_ago: int) -> None:
    """As if the last renewal were that long ago: the stored time and the row's expiry both moved back."""
    session = client.session
    session[SEEN_KEY] = int(time.time()) - seconds_ago
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() + timedelta(seconds=EIGHT_HOURS - seconds_ago)
    )


def expire_date(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


@pytest.fixture
def signed_in(client, db):
    client.force_login(user_with_role("support"))
    assert client.get(reverse("dashboard")).status_code == 200
    return client


def test_the_session_cookie_ends_with_the_browser(client, db):
    UserFactory(username="fiona", password="right-horse-battery")
    response = client.post(reverse("login"), {"username": "fiona", "password": "right-horse-battery"})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["expires"] == "" and cookie["max-age"] == ""  # no persistent cookie


def test_eight_hours_idle_signs_out(signed_in):
    set_seen(signed_in, EIGHT_HOURS + 60)
    response = signed_in.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in signed_in.session


def test_under_eight_hours_idle_stays_signed_in_and_renews(signed_in):
    set_seen(signed_in, EIGHT_HOURS - 60)
    assert signed_in.get(reverse("dashboard")).status_code == 200
    remaining = (expire_date(signed_in) - timezone.now()).total_seconds()
    assert EIGHT_HOURS - 30 < remaining <= EIGHT_HOURS  # renewed: 8 hours from now again
    assert time.time() - signed_in.session[SEEN_KEY] < 30


def test_requests_soon_after_a_renewal_write_nothing(signed_in):
    set_seen(signed_in, 120)
    before = expire_date(signed_in)
    seen = signed_in.session[SEEN_KEY]
    assert signed_in.get(reverse("dashboard")).status_code == 200
    assert expire_date(signed_in) == before
    assert signed_in.session[SEEN_KEY] == seen


def test_the_database_expiry_is_eight_hours(signed_in):
    remaining = (expire_date(signed_in) - timezone.now()).total_seconds()
    assert EIGHT_HOURS - 60 < remaining <= EIGHT_HOURS


def test_an_all_digit_password_is_refused(db):
    with pytest.raises(ValidationError, match="entirely numeric"):
        validate_password("4815162342718")
