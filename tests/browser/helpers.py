"""Helpers for browser tests."""

from __future__ import annotations

from urllib.parse import urlparse


def login(page, live_server, username: str, password: str) -> None:
    """Sign in through the login form, as a person would, and land on the dashboard."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlparse(url).path != "/login/")
