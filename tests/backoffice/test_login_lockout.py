"""Sign-in throttling (django-axes): a username tried from one address is locked after repeated failures."""

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from backoffice.lockout import client_address
from tests.factories import UserFactory

MESSAGE = (
    "Too many failed sign-ins for this account from this address; "
    "try again in 15 minutes or ask an administrator to unlock it."
)


def sign_in(client, username: str, password: str, url: str | None = None, address: str = "203.0.113.7"):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def fiona(db):
    return UserFactory(username="fiona", password="right-horse-battery")


def test_sixty_wrong_passwords_then_the_right_one_is_refused_with_the_message(client, fiona):
    answers = [sign_in(client, "fiona", f"wrong-{n}").status_code for n in range(60)]
    assert answers[:4] == [200] * 4  # the form again, with "Please enter a correct username and password"
    assert set(answers[5:]) == {429}

    response = sign_in(client, "fiona", "right-horse-battery")

    assert response.status_code == 429
    assert MESSAGE in response.content.decode()
    assert 'name="username"' in response.content.decode()  # the sign-in page, not a bare error
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302  # still signed out


def test_the_lock_is_per_user_and_address(client, fiona):
    UserFactory(username="omar", password="omar-secret-words")
    for n in range(5):
        sign_in(client, "fiona", f"wrong-{n}")
    assert sign_in(client, "fiona", "right-horse-battery").status_code == 429

    # Another user from the same address signs in.
    response = sign_in(client, "omar", "omar-secret-words")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    client.logout()
    # The same user from another address signs in too.
    response = sign_in(client, "fiona", "right-horse-battery", address="198.51.100.20")
    assert response.status_code == 302


def test_the_admin_login_is_locked_with_the_same_message(client, fiona):
    fiona.is_staff = True
    fiona.save(update_fields=["is_staff"])
    admin_login = reverse("admin:login")
    for n in range(5):
        sign_in(client, "fiona", f"wrong-{n}", url=admin_login)

    response = sign_in(client, "fiona", "right-horse-battery", url=admin_login)

    assert response.status_code == 429
    assert MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_admin_unlocks_by_deleting_the_access_attempt(client, fiona):
    for n in range(6):
        sign_in(client, "fiona", f"wrong-{n}")
    assert sign_in(client, "fiona", "right-horse-battery").status_code == 429
    attempt = AccessAttempt.objects.get(username="fiona")

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin_client = Client()
    admin_client.force_login(admin)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert "fiona" in admin_client.get(changelist + "?locked_out=yes").content.decode()
    response = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    )
    assert response.status_code == 302

    response = sign_in(client, "fiona", "right-horse-battery")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_axes_reset_username_command_unlocks(client, fiona):
    for n in range(5):
        sign_in(client, "fiona", f"wrong-{n}")
    assert sign_in(client, "fiona", "right-horse-battery").status_code == 429

    call_command("axes_reset_username", "fiona", stdout=StringIO())

    assert sign_in(client, "fiona", "right-horse-battery").status_code == 302


@pytest.mark.parametrize("password", ["wrong", "right-horse-battery"])
@pytest.mark.parametrize("header", ["HTTP_USER_AGENT", "HTTP_ACCEPT"])
def test_a_nul_byte_in_a_recorded_header_is_not_a_500(client, fiona, header, password):
    # axes records these headers for every sign-in; PostgreSQL text cannot hold NUL.
    response = client.post(
        reverse("login"), {"username": "fiona", "password": password}, REMOTE_ADDR="203.0.113.7", **{header: "x\x00y"}
    )
    assert response.status_code in (200, 302)
    assert AccessAttempt.objects.exists() or password != "wrong"


def test_a_forged_forwarded_address_falls_back_to_the_connection(settings, fiona):
    settings.SETTLE_TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().post("/login/", REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_address(request) == "203.0.113.1"
