"""The sign-in page names the demo accounts while they exist with their demo passwords, never in production;
`manage.py serve` (make run) prints the sign-in line after the server's banner."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from demo.management.commands.seed_demo import Command as SeedDemo
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO_LINE = "Sign in as <code>admin</code> / <code>admin</code>, <code>finance</code> / <code>finance</code>, <code>support</code> / <code>support</code>."


def demo_users() -> None:
    SeedDemo()._users()


@pytest.mark.django_db
def test_the_sign_in_page_names_the_demo_accounts_when_they_exist(client):
    assert "Demo data is loaded" not in client.get(reverse("login")).content.decode()
    demo_users()
    page = client.get(reverse("login")).content.decode()
    assert "Demo data is loaded" in page and DEMO_LINE in page


@pytest.mark.django_db
def test_never_when_demo_data_is_not_allowed(client, settings):
    demo_users()
    settings.SETTLE_DEMO_ALLOWED = False  # as production settings have it
    assert "Demo data is loaded" not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_an_account_whose_password_was_changed_is_not_named(client):
    demo_users()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("a-real-password-now")
    admin.save(update_fields=["password"])
    page = client.get(reverse("login")).content.decode()
    assert "<code>admin</code>" not in page and "<code>finance</code> / <code>finance</code>" in page


@pytest.mark.django_db
def test_other_users_alone_are_not_demo_accounts(client):
    UserFactory(username="fiona")
    assert "Demo data is loaded" not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_serve_prints_the_sign_in_line_after_the_banner():
    demo_users()  # committed: the server process reads the same test database
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SECRET")}
    env.update(DJANGO_ENV="test", SETTLE_DB_NAME=connection.settings_dict["NAME"], PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "127.0.0.1:0", "--noreload", "--skip-checks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Sign in as" in line:
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = "\n".join(lines)
    assert lines and "Sign in as admin / admin, finance / finance, support / support." in lines[-1], output
    assert "Settle is at http://127.0.0.1:" in lines[-1] and ":0/" not in lines[-1]
    assert any("Quit the server with CONTROL-C." in line for line in lines[:-1]), output
