"""Helpers of the finance-flow browser tests: a finance clerk and signing in through the login form."""

from __future__ import annotations

from django.contrib.auth.models import Group

from billing.roles import FINANCE
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def finance_clerk(username: str = "fiona"):
    user = UserFactory(username=username, password=PASSWORD)
    # transactional_db flushes the groups the migration made; recreate the role.
    user.groups.add(Group.objects.get_or_create(name=FINANCE)[0])
    return user


def sign_in(page, live_server, user, password: str = PASSWORD) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
